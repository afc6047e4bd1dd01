"""The shipped examples validate, match the contract, and differ enough that switching profile moves every device."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from pathlib import Path

import pytest

from profiles import Profile, ProfileStore, VenueConfig, check_files, load_profile, load_venue, parse_profile

EXAMPLES = Path(__file__).resolve().parents[2] / "examples"
PROFILE_FILES = sorted((EXAMPLES / "profiles").glob("*.yaml"))

CONTRACT_PROFILE = """
{
  "community_id": "spicy-tech-gossip",
  "name": "Spicy & gossip",
  "quorum": 2,
  "lighting": {"on": true, "brightness": 70, "color_temp_k": 2700, "color": null, "transition_s": 3,
               "zones": {"bar": {"brightness": 40, "color": "#ff6a00"}}},
  "climate":  {"target_c": 21.5, "mode": "auto"},
  "audio":    {"playlist": "lofi-gossip", "volume": 35, "state": "play"},
  "scent":    {"name": "cedar", "intensity": 30},
  "phases":   [{"after_min": 45, "name": "wind-down", "lighting": {"brightness": 40}, "audio": {"volume": 25}}],
  "occupancy":{"volume_per_10": 3, "target_c_per_10": -0.5}
}
"""


@pytest.fixture(scope="module")
def venue() -> VenueConfig:
    return load_venue(EXAMPLES / "venue.yaml")


@pytest.fixture(scope="module")
def profiles() -> dict[str, Profile]:
    loaded = [load_profile(path) for path in PROFILE_FILES]
    return {profile.community_id: profile for profile in loaded}


def test_every_example_checks_clean() -> None:
    assert check_files([EXAMPLES / "venue.yaml", *PROFILE_FILES]) == []


def test_profile_files_are_named_after_their_community(profiles: dict[str, Profile]) -> None:
    assert sorted(profiles) == ["book-club", "house", "spicy-tech-gossip"]
    assert sorted(path.stem for path in PROFILE_FILES) == sorted(profiles)


def test_venue_example(venue: VenueConfig) -> None:
    assert (venue.venue.id, venue.venue.name) == ("teahouse-1", "Teahouse on 5th")
    assert (venue.mqtt.url, venue.mqtt.base_topic, venue.mqtt.password) == (
        "mqtt://127.0.0.1:1883",
        "zigbee2mqtt",
        None,
    )
    assert (venue.limits.max_volume, venue.limits.min_temp_c, venue.limits.max_temp_c) == (70, 18, 26)
    assert venue.limits.min_brightness == 5
    assert venue.policy.multi_community == "majority" and venue.policy.default_profile == "house"
    assert venue.priority == ("book-club", "spicy-tech-gossip")
    assert venue.zones == ("bar", "lounge")
    assert venue.hue_bridges == {}
    assert venue.store.path == str(EXAMPLES / "data" / "ambience.db")
    assert venue.profiles_dir == str(EXAMPLES / "profiles")
    devices = {d.id: (d.kind, d.zone, d.driver, d.topic, d.color_temp_range) for d in venue.devices}
    assert devices == {
        "bar-pendant": ("light", "bar", "mqtt", "bar_pendant", None),
        "bar-strip": ("light", "bar", "mqtt", "bar_strip", (153, 454)),
        "lounge-lamp-1": ("light", "lounge", "mqtt", "lounge_lamp_1", None),
        "lounge-lamp-2": ("light", "lounge", "mqtt", "lounge_lamp_2", (250, 454)),
        "hvac": ("thermostat", "*", "mqtt", "hvac", None),
        "lounge-speaker": ("speaker", "lounge", "mqtt", "lounge_speaker", None),
        "diffuser": ("scent", "lounge", "mqtt", "diffuser", None),
    }


def test_venue_example_keeps_a_commented_hue_example() -> None:
    text = (EXAMPLES / "venue.yaml").read_text(encoding="utf-8")
    assert "# hue_bridges:" in text and "driver: hue" in text


def test_spicy_example_is_exactly_the_contract_profile(profiles: dict[str, Profile]) -> None:
    assert profiles["spicy-tech-gossip"] == parse_profile(json.loads(CONTRACT_PROFILE))


def test_house_and_book_club_are_as_described(profiles: dict[str, Profile]) -> None:
    house, club = profiles["house"], profiles["book-club"]
    assert house.lighting is not None and house.climate is not None and house.audio is not None
    assert (house.lighting.on, house.lighting.brightness, house.lighting.color_temp_k) == (True, 60, 3000)
    assert (house.climate.target_c, house.climate.mode) == (21, "auto")
    assert (house.audio.volume, house.audio.state) == (20, "play") and "jazz" in (house.audio.playlist or "")
    assert club.lighting is not None and club.audio is not None and club.scent is not None
    assert (club.lighting.color_temp_k, club.lighting.brightness, club.audio.volume) == (2700, 80, 15)
    assert club.scent.name == "lavender" and club.quorum == 2
    assert [(phase.after_min, phase.name) for phase in club.phases] == [(60, "discussion")]


def zone_light(profile: Profile, zone: str) -> tuple[object, ...]:
    assert profile.lighting is not None
    override = profile.lighting.zones.get(zone)
    fields = ("on", "brightness", "color_temp_k", "color")
    return tuple(
        getattr(override, f)
        if override is not None and getattr(override, f) is not None
        else getattr(profile.lighting, f)
        for f in fields
    )


@pytest.mark.parametrize(
    ("a", "b"), [("house", "book-club"), ("house", "spicy-tech-gossip"), ("book-club", "spicy-tech-gossip")]
)
def test_switching_profile_changes_every_device(
    profiles: dict[str, Profile], venue: VenueConfig, a: str, b: str
) -> None:
    first, second = profiles[a], profiles[b]
    for zone in venue.zones:
        assert zone_light(first, zone) != zone_light(second, zone), zone
    assert first.climate is not None and second.climate is not None
    assert first.climate.target_c != second.climate.target_c
    assert first.audio is not None and second.audio is not None
    assert first.audio.playlist != second.audio.playlist and first.audio.volume != second.audio.volume
    assert first.scent is not None and second.scent is not None
    assert first.scent.name != second.scent.name and first.scent.intensity != second.scent.intensity


def test_examples_are_within_the_venue_limits(profiles: dict[str, Profile], venue: VenueConfig) -> None:
    """So the demo shows each profile as written, not as clamped."""
    limits = venue.limits
    for profile in profiles.values():
        assert profile.audio is not None and profile.climate is not None and profile.lighting is not None
        assert (profile.audio.volume or 0) <= limits.max_volume
        assert limits.min_temp_c <= (profile.climate.target_c or 0) <= limits.max_temp_c
        assert (profile.lighting.brightness or 0) >= limits.min_brightness


def test_example_profiles_seed_a_store(tmp_path: Path) -> None:
    with ProfileStore(tmp_path / "a.db") as store:
        seeded = store.seed_from_dir(EXAMPLES / "profiles", datetime(2025, 1, 1, tzinfo=UTC))
        assert sorted(v.community_id for v in seeded) == ["book-club", "house", "spicy-tech-gossip"]
