"""resolve, rule by rule of docs/contract.md §3: eligibility, the three policies, default profile, phases, zones,
occupancy, limits. Every test looks at what a user sees: the desired ambience per zone, the active community,
the clamps."""

from __future__ import annotations

from collections.abc import Mapping
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest

from controller.core.presence import Presence, check_in
from controller.core.resolve import Clamp, Resolution, resolve
from devices.states import AudioState, ClimateState, LightState, ScentState
from devices.units import hex_to_xy
from profiles.loader import load_profile, load_venue, parse_profile, parse_venue
from profiles.profile import Profile
from profiles.venue import VenueConfig

T0 = datetime(2024, 5, 1, 18, 0, tzinfo=UTC)
EXAMPLES = Path(__file__).resolve().parents[2] / "examples"

DEVICES = [
    {"id": "bar-pendant", "kind": "light", "zone": "bar", "driver": "mqtt", "topic": "bar_pendant"},
    {"id": "lounge-lamp", "kind": "light", "zone": "lounge", "driver": "mqtt", "topic": "lounge_lamp"},
    {"id": "hvac", "kind": "thermostat", "zone": "*", "driver": "mqtt", "topic": "hvac"},
    {"id": "speaker", "kind": "speaker", "zone": "lounge", "driver": "mqtt", "topic": "speaker"},
    {"id": "diffuser", "kind": "scent", "zone": "lounge", "driver": "mqtt", "topic": "diffuser"},
]


def venue(
    policy: str = "majority",
    default: str | None = None,
    priority: tuple[str, ...] = (),
    limits: Mapping[str, float] | None = None,
) -> VenueConfig:
    return parse_venue(
        {
            "venue": {"id": "teahouse", "name": "Teahouse"},
            "limits": dict(limits or {}),
            "policy": {"multi_community": policy, "default_profile": default},
            "priority": list(priority),
            "zones": ["bar", "lounge"],
            "devices": DEVICES,
        }
    )


def profile(community_id: str, **sections: Any) -> Profile:
    return parse_profile({"community_id": community_id, "name": f"{community_id} mood", **sections})


def profiles(*items: Profile) -> dict[str, Profile]:
    return {p.community_id: p for p in items}


def arrive(presence: Presence, community_id: str, count: int, at: datetime = T0) -> Presence:
    """`count` members of a community check in at `at` (ids continue after the ones already there)."""
    start = presence.headcount().get(community_id, 0)
    for index in range(start, start + count):
        presence, _, _ = check_in(presence, f"{community_id}-{index}", community_id, at)
    return presence


def crowd(**counts: int) -> Presence:
    presence = Presence()
    for community_id, count in counts.items():
        presence = arrive(presence, community_id.replace("_", "-"), count)
    return presence


def run(
    presence: Presence,
    profs: Mapping[str, Profile],
    ven: VenueConfig | None = None,
    activations: Mapping[str, datetime] | None = None,
    now: datetime = T0,
) -> Resolution:
    return resolve(presence, profs, ven or venue(), activations or {}, now)


def light(res: Resolution, zone: str) -> LightState:
    state = res.zones[zone].light
    assert state is not None
    return state


def audio(res: Resolution) -> AudioState:
    state = res.zones["lounge"].audio
    assert state is not None
    return state


def climate(res: Resolution) -> ClimateState:
    state = res.zones["*"].climate
    assert state is not None
    return state


def scent(res: Resolution) -> ScentState:
    state = res.zones["lounge"].scent
    assert state is not None
    return state


A = profile("a", lighting={"brightness": 80}, audio={"playlist": "a-list", "volume": 40})
B = profile("b", lighting={"brightness": 30}, audio={"playlist": "b-list", "volume": 20})
HOUSE = profile(
    "house",
    lighting={"on": True, "brightness": 60, "color_temp_k": 3000, "transition_s": 5},
    climate={"target_c": 21, "mode": "auto"},
    audio={"playlist": "house-jazz", "volume": 20, "state": "play"},
    scent={"name": "white-tea", "intensity": 10},
)


# ---- 1. eligibility ---------------------------------------------------------------------------------------


def test_below_quorum_is_not_eligible() -> None:
    a = profile("a", quorum=3, lighting={"brightness": 80})
    res = run(crowd(a=2), profiles(a, HOUSE), venue(default="house"))
    assert res.eligible == ()
    assert res.source == "default"
    assert res.active == ("house",)
    assert light(res, "bar").brightness == 60


def test_at_quorum_is_eligible() -> None:
    a = profile("a", quorum=3, lighting={"brightness": 80})
    res = run(crowd(a=3), profiles(a, HOUSE), venue(default="house"))
    assert res.eligible == ("a",)
    assert res.source == "community"
    assert res.active == ("a",)
    assert light(res, "bar").brightness == 80


def test_quorum_defaults_to_one() -> None:
    res = run(crowd(a=1), profiles(A, HOUSE), venue(default="house"))
    assert res.eligible == ("a",)
    assert res.active == ("a",)


def test_community_without_a_profile_is_never_eligible() -> None:
    res = run(crowd(ghost=10, a=1), profiles(A))
    assert res.eligible == ("a",)
    assert res.active == ("a",)
    assert res.headcount == {"ghost": 10, "a": 1}
    assert res.total == 11


def test_only_a_community_without_a_profile_present_falls_back_to_the_default() -> None:
    res = run(crowd(ghost=10), profiles(A, HOUSE), venue(default="house"))
    assert res.eligible == ()
    assert res.source == "default"


# ---- 2. majority ------------------------------------------------------------------------------------------


def test_majority_the_community_with_most_members_wins() -> None:
    res = run(crowd(a=2, b=3), profiles(A, B))
    assert res.active == ("b",)
    assert res.leader == "b"
    assert light(res, "bar").brightness == 30
    assert audio(res).playlist == "b-list"


def test_majority_tie_goes_to_the_community_that_reached_its_quorum_first() -> None:
    # "a" has the earliest member, but "b" reached its quorum of 2 first (at +6 min, "a" only at +10 min).
    a = profile("a", quorum=2, lighting={"brightness": 80})
    b = profile("b", quorum=2, lighting={"brightness": 30})
    presence = arrive(Presence(), "a", 1, T0)
    presence = arrive(presence, "b", 1, T0 + timedelta(minutes=5))
    presence = arrive(presence, "b", 1, T0 + timedelta(minutes=6))
    presence = arrive(presence, "a", 1, T0 + timedelta(minutes=10))
    res = run(presence, profiles(a, b), now=T0 + timedelta(minutes=11))
    assert res.eligible == ("b", "a")
    assert res.active == ("b",)
    assert light(res, "bar").brightness == 30


def test_majority_tie_with_quorum_one_goes_to_the_first_arrival() -> None:
    presence = arrive(Presence(), "b", 1, T0)
    presence = arrive(presence, "a", 1, T0 + timedelta(minutes=1))
    assert run(presence, profiles(A, B)).active == ("b",)
    presence = arrive(Presence(), "a", 1, T0)
    presence = arrive(presence, "b", 1, T0 + timedelta(minutes=1))
    assert run(presence, profiles(A, B)).active == ("a",)


def test_majority_is_one_profile_not_a_mix() -> None:
    a = profile("a", lighting={"brightness": 80}, scent={"name": "cedar", "intensity": 50})
    b = profile("b", lighting={"brightness": 30}, scent={"name": "rose", "intensity": 90})
    res = run(crowd(a=3, b=2), profiles(a, b))
    assert scent(res) == ScentState(on=True, intensity=50, name="cedar")


# ---- 2. blend ---------------------------------------------------------------------------------------------

BLEND_A = profile(
    "a",
    lighting={"on": True, "brightness": 80, "color": "#ff0000", "transition_s": 10},
    climate={"target_c": 22, "mode": "heat"},
    audio={"playlist": "a-list", "volume": 60, "state": "play"},
    scent={"name": "cedar", "intensity": 40},
)
BLEND_B = profile(
    "b",
    lighting={"on": True, "brightness": 40, "color": "#0000ff", "transition_s": 2},
    climate={"target_c": 18, "mode": "cool"},
    audio={"playlist": "b-list", "volume": 20, "state": "pause"},
    scent={"name": "rose", "intensity": 80},
)


def test_blend_averages_numbers_weighted_by_present_members() -> None:
    res = run(crowd(a=3, b=1), profiles(BLEND_A, BLEND_B), venue("blend"))
    assert res.active == ("a", "b")
    assert light(res, "bar").brightness == 70  # (80*3 + 40*1) / 4
    assert light(res, "lounge").brightness == 70
    assert res.zones["bar"].transition_s == 8  # (10*3 + 2*1) / 4
    assert audio(res).volume == 50  # (60*3 + 20*1) / 4
    assert climate(res).target_c == 21  # (22*3 + 18*1) / 4
    assert scent(res).intensity == 50  # (40*3 + 80*1) / 4


def test_blend_takes_names_and_colour_from_the_largest_community() -> None:
    res = run(crowd(a=1, b=3), profiles(BLEND_A, BLEND_B), venue("blend"))
    assert res.active == ("b", "a")
    assert res.leader == "b"
    assert audio(res) == AudioState(state="pause", volume=30, playlist="b-list")
    assert scent(res).name == "rose"
    assert climate(res).mode == "cool"
    assert res.zones["bar"].color_hex == "#0000ff"
    assert light(res, "bar").color_xy == hex_to_xy("#0000ff")


def test_blend_colour_mode_comes_from_the_leader() -> None:
    warm = profile("a", lighting={"brightness": 80, "color_temp_k": 2700})
    red = profile("b", lighting={"brightness": 40, "color": "#ff0000"})
    res = run(crowd(a=3, b=1), profiles(warm, red), venue("blend"))
    assert light(res, "bar") == LightState(on=True, brightness=70, color_temp_k=2700, color_xy=None)
    assert res.zones["bar"].color_hex is None

    res = run(crowd(a=1, b=3), profiles(warm, red), venue("blend"))
    assert light(res, "bar") == LightState(on=True, brightness=50, color_temp_k=None, color_xy=hex_to_xy("#ff0000"))
    assert res.zones["bar"].color_hex == "#ff0000"


def test_blend_averages_colour_temperatures_of_white_communities() -> None:
    a = profile("a", lighting={"color_temp_k": 2000})
    b = profile("b", lighting={"color_temp_k": 6000})
    res = run(crowd(a=3, b=1), profiles(a, b), venue("blend"))
    assert light(res, "bar").color_temp_k == 3000


def test_blend_leaves_out_communities_that_are_not_eligible() -> None:
    b = profile("b", quorum=5, lighting={"brightness": 0})
    res = run(crowd(a=3, b=4), profiles(A, b), venue("blend"))
    assert res.active == ("a",)
    assert light(res, "bar").brightness == 80


def test_blend_tie_in_size_leader_is_the_first_eligible() -> None:
    presence = arrive(Presence(), "b", 2, T0)
    presence = arrive(presence, "a", 2, T0 + timedelta(minutes=1))
    res = run(presence, profiles(BLEND_A, BLEND_B), venue("blend"))
    assert res.active == ("b", "a")
    assert audio(res).playlist == "b-list"
    assert audio(res).volume == 40


# ---- 2. priority ------------------------------------------------------------------------------------------


def test_priority_first_eligible_in_the_list_wins_even_with_fewer_members() -> None:
    res = run(crowd(a=5, b=1), profiles(A, B), venue("priority", priority=("b", "a")))
    assert res.active == ("b",)
    assert audio(res).playlist == "b-list"


def test_priority_skips_listed_communities_that_are_not_eligible() -> None:
    c = profile("c", quorum=3, lighting={"brightness": 5})
    res = run(crowd(a=5, b=1, c=2), profiles(A, B, c), venue("priority", priority=("c", "b", "a")))
    assert res.active == ("b",)


def test_priority_without_an_eligible_listed_community_falls_back_to_majority() -> None:
    c = profile("c", lighting={"brightness": 5})
    res = run(crowd(a=2, b=3), profiles(A, B, c), venue("priority", priority=("c",)))
    assert res.active == ("b",)
    assert res.source == "community"


# ---- 2. nobody eligible ----------------------------------------------------------------------------------


def test_no_eligible_community_gives_the_default_profile() -> None:
    res = run(Presence(), profiles(A, HOUSE), venue(default="house"))
    assert res.source == "default"
    assert res.active == ("house",)
    assert res.eligible == ()
    assert light(res, "bar") == LightState(on=True, brightness=60, color_temp_k=3000)
    assert res.zones["bar"].transition_s == 5
    assert climate(res) == ClimateState(target_c=21, mode="auto")
    assert audio(res) == AudioState(state="play", volume=20, playlist="house-jazz")
    assert scent(res) == ScentState(on=True, intensity=10, name="white-tea")


def test_without_a_default_profile_nothing_is_desired() -> None:
    res = run(crowd(ghost=4), profiles(A))
    assert res.source == "none"
    assert res.active == ()
    assert res.leader is None
    assert res.zones == {}
    assert res.clamps == ()
    assert res.headcount == {"ghost": 4}


def test_a_default_profile_that_is_not_stored_means_nothing_is_desired() -> None:
    res = run(Presence(), profiles(A), venue(default="house"))
    assert res.source == "none"
    assert res.zones == {}


def test_sections_a_profile_leaves_out_come_from_the_default_profile() -> None:
    red = profile("a", lighting={"color": "#ff0000"}, audio={"volume": 45})
    res = run(crowd(a=1), profiles(red, HOUSE), venue(default="house"))
    # lighting: the colour replaces the house colour temperature; brightness and on come from the house
    assert light(res, "bar") == LightState(on=True, brightness=60, color_temp_k=None, color_xy=hex_to_xy("#ff0000"))
    assert audio(res) == AudioState(state="play", volume=45, playlist="house-jazz")
    assert climate(res) == ClimateState(target_c=21, mode="auto")
    assert scent(res) == ScentState(on=True, intensity=10, name="white-tea")


def test_without_a_default_profile_left_out_sections_are_not_desired() -> None:
    res = run(crowd(a=1), profiles(profile("a", lighting={"brightness": 80})))
    assert light(res, "bar") == LightState(on=True, brightness=80)
    assert res.zones["lounge"].audio is None
    assert res.zones["lounge"].scent is None
    assert res.zones["*"].climate is None


# ---- 3. phases --------------------------------------------------------------------------------------------

PHASED = profile(
    "a",
    lighting={"brightness": 70, "color_temp_k": 2700},
    audio={"volume": 35},
    phases=[
        {"after_min": 90, "name": "closing", "lighting": {"on": False}},
        {"after_min": 45, "name": "wind-down", "lighting": {"brightness": 40}, "audio": {"volume": 25}},
    ],
)


def test_before_a_phase_starts_the_base_applies() -> None:
    res = run(crowd(a=1), profiles(PHASED), activations={"a": T0}, now=T0 + timedelta(minutes=45, microseconds=-1))
    assert res.phase is None
    assert light(res, "bar").brightness == 70
    assert audio(res).volume == 35
    assert res.next_phase_at == T0 + timedelta(minutes=45)


def test_at_after_min_the_phase_overrides_the_base() -> None:
    res = run(crowd(a=1), profiles(PHASED), activations={"a": T0}, now=T0 + timedelta(minutes=45))
    assert res.phase == "wind-down"
    assert light(res, "bar") == LightState(on=True, brightness=40, color_temp_k=2700)
    assert audio(res).volume == 25
    assert res.next_phase_at == T0 + timedelta(minutes=90)


def test_the_last_phase_reached_applies() -> None:
    res = run(crowd(a=1), profiles(PHASED), activations={"a": T0}, now=T0 + timedelta(minutes=120))
    assert res.phase == "closing"
    assert light(res, "bar").on is False
    assert res.next_phase_at is None


def test_the_phase_clock_is_kept_across_calls() -> None:
    presence = crowd(a=1)
    first = run(presence, profiles(PHASED), now=T0)
    assert first.activations == {"a": T0}
    assert first.phase is None
    second = run(presence, profiles(PHASED), activations=first.activations, now=T0 + timedelta(minutes=30))
    assert second.activations == {"a": T0}
    assert second.phase is None
    third = run(presence, profiles(PHASED), activations=second.activations, now=T0 + timedelta(minutes=50))
    assert third.activations == {"a": T0}
    assert third.phase == "wind-down"


def test_a_community_that_becomes_active_starts_its_clock_now() -> None:
    now = T0 + timedelta(hours=3)
    # "b" was active since T0, but "a" now has more members: "a" becomes active at `now`, in its base
    res = run(crowd(a=3, b=1), profiles(PHASED, B), activations={"b": T0}, now=now)
    assert res.active == ("a",)
    assert res.activations == {"a": now}
    assert res.phase is None
    assert light(res, "bar").brightness == 70


def test_without_activations_the_profile_is_active_from_now() -> None:
    now = T0 + timedelta(hours=3)
    res = run(crowd(a=1), profiles(PHASED), now=now)
    assert res.activations == {"a": now}
    assert res.phase is None


def test_the_default_profile_has_phases_too() -> None:
    house = profile("house", lighting={"brightness": 60}, phases=[{"after_min": 10, "name": "late", "lighting": {}}])
    res = run(Presence(), profiles(house), venue(default="house"), {"house": T0}, T0 + timedelta(minutes=10))
    assert res.source == "default"
    assert res.phase == "late"


def test_a_phase_zone_entry_overrides_the_phase_top_level_there() -> None:
    p = profile(
        "a",
        lighting={"brightness": 70},
        phases=[{"after_min": 5, "name": "late", "lighting": {"brightness": 30, "zones": {"bar": {"brightness": 10}}}}],
    )
    res = run(crowd(a=1), profiles(p), activations={"a": T0}, now=T0 + timedelta(minutes=5))
    assert light(res, "bar").brightness == 10
    assert light(res, "lounge").brightness == 30


@pytest.mark.parametrize("after_min", [0.5, 2.25, 45])
def test_a_phase_starts_exactly_at_next_phase_at(after_min: float) -> None:
    p = profile(
        "a",
        lighting={"brightness": 70},
        phases=[{"after_min": after_min, "name": "late", "lighting": {"brightness": 20}}],
    )
    first = run(crowd(a=1), profiles(p), now=T0)
    assert first.next_phase_at == T0 + timedelta(minutes=after_min)
    at = run(crowd(a=1), profiles(p), activations=first.activations, now=first.next_phase_at)
    assert at.phase == "late"
    assert light(at, "bar").brightness == 20


@pytest.mark.parametrize("after_min", [0.17, 1.08, 45.17])
def test_a_phase_with_hundredths_of_a_minute_starts_at_next_phase_at(after_min: float) -> None:
    p = profile(
        "a",
        lighting={"brightness": 70},
        phases=[{"after_min": after_min, "name": "late", "lighting": {"brightness": 20}}],
    )
    first = run(crowd(a=1), profiles(p), now=T0)
    assert first.next_phase_at == T0 + timedelta(minutes=after_min)
    at = run(crowd(a=1), profiles(p), activations=first.activations, now=first.next_phase_at)
    assert at.phase == "late"
    assert light(at, "bar").brightness == 20


# ---- zones ------------------------------------------------------------------------------------------------

ZONED = profile(
    "a",
    lighting={
        "on": True,
        "brightness": 70,
        "color_temp_k": 2700,
        "transition_s": 3,
        "zones": {"bar": {"brightness": 40, "color": "#ff6a00"}},
    },
)


def test_a_zone_entry_wins_for_that_zone_only() -> None:
    res = run(crowd(a=1), profiles(ZONED))
    assert light(res, "bar").brightness == 40
    assert light(res, "lounge").brightness == 70
    assert res.zones["bar"].transition_s == 3


def test_a_zone_colour_replaces_the_top_level_colour_temperature_there() -> None:
    res = run(crowd(a=1), profiles(ZONED))
    assert light(res, "bar") == LightState(on=True, brightness=40, color_temp_k=None, color_xy=hex_to_xy("#ff6a00"))
    assert res.zones["bar"].color_hex == "#ff6a00"
    assert light(res, "lounge") == LightState(on=True, brightness=70, color_temp_k=2700, color_xy=None)
    assert res.zones["lounge"].color_hex is None


def test_a_zone_colour_temperature_replaces_a_top_level_colour_there() -> None:
    p = profile("a", lighting={"color": "#00ff00", "zones": {"lounge": {"color_temp_k": 4000}}})
    res = run(crowd(a=1), profiles(p))
    assert light(res, "lounge") == LightState(on=True, color_temp_k=4000)
    assert light(res, "bar") == LightState(on=True, color_xy=hex_to_xy("#00ff00"))


def test_a_zone_can_be_switched_off() -> None:
    p = profile("a", lighting={"brightness": 70, "zones": {"bar": {"on": False}}})
    res = run(crowd(a=1), profiles(p))
    assert light(res, "bar").on is False
    assert light(res, "lounge").on is True


def test_unknown_profile_zones_are_ignored() -> None:
    p = profile("a", lighting={"brightness": 70, "zones": {"patio": {"brightness": 5, "on": False}}})
    res = run(crowd(a=1), profiles(p))
    assert set(res.zones) == {"bar", "lounge", "*"}
    assert light(res, "bar") == LightState(on=True, brightness=70)
    assert light(res, "lounge") == LightState(on=True, brightness=70)


def test_venue_wide_sections_are_the_same_in_every_zone() -> None:
    res = run(Presence(), profiles(HOUSE), venue(default="house"))
    for zone in ("bar", "lounge", "*"):
        assert res.zones[zone].climate == ClimateState(target_c=21, mode="auto")
        assert res.zones[zone].audio == AudioState(state="play", volume=20, playlist="house-jazz")


# ---- 4. occupancy -----------------------------------------------------------------------------------------

CROWDED = profile(
    "a",
    quorum=2,
    climate={"target_c": 21.5},
    audio={"volume": 35},
    lighting={"brightness": 50},
    occupancy={"volume_per_10": 3, "target_c_per_10": -0.5, "brightness_per_10": 10},
)


def test_occupancy_counts_everybody_present_not_only_the_active_community() -> None:
    # 2 of "a" (eligible), 1 of "b" (below its quorum), 17 of a community without a profile: 20 people
    b = profile("b", quorum=5, audio={"volume": 90})
    res = run(crowd(a=2, b=1, ghost=17), profiles(CROWDED, b))
    assert res.active == ("a",)
    assert res.total == 20
    assert audio(res).volume == 41  # 35 + 3 * 2
    assert climate(res).target_c == 20.5  # 21.5 - 0.5 * 2
    assert light(res, "bar").brightness == 70  # 50 + 10 * 2


def test_occupancy_for_ten_people() -> None:
    res = run(crowd(a=2, ghost=8), profiles(CROWDED))
    assert climate(res).target_c == 21.0
    assert audio(res).volume == 38


def test_occupancy_does_not_invent_a_value_the_profile_does_not_set() -> None:
    p = profile("a", lighting={"brightness": 50}, occupancy={"volume_per_10": 3, "target_c_per_10": -0.5})
    res = run(crowd(a=20), profiles(p))
    assert res.zones["lounge"].audio is None
    assert res.zones["*"].climate is None


# ---- 5. limits --------------------------------------------------------------------------------------------

LIMITS = {"max_volume": 70, "min_temp_c": 18, "max_temp_c": 26, "min_brightness": 5}


def test_max_volume_clamps_and_is_reported() -> None:
    loud = profile("a", audio={"volume": 90})
    res = run(crowd(a=1), profiles(loud), venue(limits=LIMITS))
    assert audio(res).volume == 70
    assert res.clamps == (Clamp("*", "audio.volume", 90, 70, "max_volume"),)


def test_min_temp_clamps_and_is_reported() -> None:
    cold = profile("a", climate={"target_c": 15})
    res = run(crowd(a=1), profiles(cold), venue(limits=LIMITS))
    assert climate(res).target_c == 18
    assert res.clamps == (Clamp("*", "climate.target_c", 15, 18, "min_temp_c"),)


def test_max_temp_clamps_and_is_reported() -> None:
    hot = profile("a", climate={"target_c": 30})
    res = run(crowd(a=1), profiles(hot), venue(limits=LIMITS))
    assert climate(res).target_c == 26
    assert res.clamps == (Clamp("*", "climate.target_c", 30, 26, "max_temp_c"),)


def test_min_brightness_clamps_lights_that_are_on() -> None:
    dim = profile("a", lighting={"brightness": 2, "zones": {"bar": {"brightness": 40}}})
    res = run(crowd(a=1), profiles(dim), venue(limits=LIMITS))
    assert light(res, "lounge").brightness == 5
    assert light(res, "bar").brightness == 40
    assert Clamp("lounge", "lighting.brightness", 2, 5, "min_brightness") in res.clamps
    assert not any(c.zone == "bar" for c in res.clamps)


def test_lighting_clamps_are_reported_only_for_zones_with_lights() -> None:
    dim = profile("a", lighting={"brightness": 2})
    res = run(crowd(a=1), profiles(dim), venue(limits=LIMITS))
    assert sorted(c.zone for c in res.clamps) == ["bar", "lounge"]


def test_min_brightness_leaves_lights_that_are_off_alone() -> None:
    off = profile("a", lighting={"on": False, "brightness": 2})
    res = run(crowd(a=1), profiles(off), venue(limits=LIMITS))
    assert light(res, "bar") == LightState(on=False, brightness=2)
    assert light(res, "lounge") == LightState(on=False, brightness=2)
    assert res.clamps == ()


def test_values_within_the_limits_are_not_clamped() -> None:
    ok = profile("a", lighting={"brightness": 5}, audio={"volume": 70}, climate={"target_c": 26})
    res = run(crowd(a=1), profiles(ok), venue(limits=LIMITS))
    assert res.clamps == ()
    assert (light(res, "bar").brightness, audio(res).volume, climate(res).target_c) == (5, 70, 26)


def test_limits_clamp_after_occupancy() -> None:
    # 65 % is within the limit; 20 people add 6 points, and the sum is clamped
    p = profile(
        "a", audio={"volume": 65}, climate={"target_c": 19}, occupancy={"volume_per_10": 3, "target_c_per_10": -1}
    )
    res = run(crowd(a=20), profiles(p), venue(limits=LIMITS))
    assert audio(res).volume == 70
    assert climate(res).target_c == 18
    assert set(res.clamps) == {
        Clamp("*", "audio.volume", 71, 70, "max_volume"),
        Clamp("*", "climate.target_c", 17, 18, "min_temp_c"),
    }


def test_limits_apply_to_the_default_profile_too() -> None:
    house = profile("house", audio={"volume": 100})
    res = run(Presence(), profiles(house), venue(default="house", limits=LIMITS))
    assert audio(res).volume == 70
    assert res.clamps == (Clamp("*", "audio.volume", 100, 70, "max_volume"),)


def test_limits_apply_to_a_blend() -> None:
    a = profile("a", audio={"volume": 100})
    b = profile("b", audio={"volume": 80})
    res = run(crowd(a=1, b=1), profiles(a, b), venue("blend", limits=LIMITS))
    assert audio(res).volume == 70
    assert res.clamps == (Clamp("*", "audio.volume", 90, 70, "max_volume"),)


# ---- the shipped examples ---------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def example() -> tuple[VenueConfig, dict[str, Profile]]:
    ven = load_venue(EXAMPLES / "venue.yaml")
    profs = {p.community_id: p for p in map(load_profile, sorted((EXAMPLES / "profiles").glob("*.yaml")))}
    return ven, profs


def test_example_venue_with_nobody_is_the_house_mood(example: tuple[VenueConfig, dict[str, Profile]]) -> None:
    ven, profs = example
    res = resolve(Presence(), profs, ven, {}, T0)
    assert (res.source, res.active) == ("default", ("house",))
    assert light(res, "lounge") == LightState(on=True, brightness=60, color_temp_k=3000)


def test_example_one_gossip_member_is_below_quorum(example: tuple[VenueConfig, dict[str, Profile]]) -> None:
    ven, profs = example
    res = resolve(crowd(spicy_tech_gossip=1), profs, ven, {}, T0)
    assert res.source == "default"


def test_example_gossip_outnumbers_the_book_club(example: tuple[VenueConfig, dict[str, Profile]]) -> None:
    ven, profs = example
    presence = crowd(spicy_tech_gossip=6, book_club=4)  # 10 people
    res = resolve(presence, profs, ven, {}, T0)
    assert res.active == ("spicy-tech-gossip",)
    assert res.eligible == ("book-club", "spicy-tech-gossip")
    assert light(res, "bar") == LightState(on=True, brightness=40, color_xy=hex_to_xy("#ff6a00"))
    assert light(res, "lounge") == LightState(on=True, brightness=70, color_temp_k=2700)
    assert audio(res) == AudioState(state="play", volume=38, playlist="lofi-gossip")  # 35 + 3
    assert climate(res) == ClimateState(target_c=21.0, mode="auto")  # 21.5 - 0.5
    assert scent(res) == ScentState(on=True, intensity=30, name="cedar")
    # after 45 minutes: wind-down, and the occupancy still applies on top
    later = resolve(presence, profs, ven, res.activations, T0 + timedelta(minutes=45))
    assert later.phase == "wind-down"
    assert light(later, "lounge").brightness == 40
    assert audio(later).volume == 28


def test_a_phase_overrides_zone_entries_of_the_base_so_a_dimming_phase_dims_every_zone() -> None:
    p = profile(
        "a",
        lighting={"brightness": 70, "color_temp_k": 2700, "zones": {"bar": {"brightness": 80, "color": "#ff6a00"}}},
        phases=[{"after_min": 30, "name": "late", "lighting": {"brightness": 20}}],
    )
    before = run(crowd(a=1), profiles(p), now=T0)
    assert light(before, "bar").brightness == 80
    late = run(crowd(a=1), profiles(p), activations=before.activations, now=T0 + timedelta(minutes=30))
    assert light(late, "bar").brightness == 20
    assert light(late, "lounge").brightness == 20
    # The phase said nothing of colour: the bar keeps its orange, the lounge its 2700 K.
    assert late.zones["bar"].color_hex == "#ff6a00"
    assert light(late, "lounge").color_temp_k == 2700


def test_lighting_is_not_resolved_for_the_whole_room_pseudo_zone_without_a_light_in_it() -> None:
    res = run(crowd(a=1), profiles(profile("a", lighting={"brightness": 50}, climate={"target_c": 21})))
    assert res.zones["*"].light is None
    assert climate(res).target_c == 21


def test_a_default_profile_that_switches_lights_off_does_not_keep_a_communitys_lights_off() -> None:
    house = profile("house", lighting={"on": False})
    club = profile("club", lighting={"brightness": 70})
    res = run(crowd(club=1), profiles(house, club), venue(default="house"))
    assert light(res, "bar").on is True
    assert light(res, "bar").brightness == 70
    nobody = run(Presence(), profiles(house, club), venue(default="house"))
    assert light(nobody, "bar").on is False


# -- a forced profile (Home Assistant's select, PUT /api/v1/forced-profile) ---------------------------------------


def test_a_forced_profile_drives_the_room_whoever_is_here() -> None:
    ps = profiles(
        profile("quiz", audio={"playlist": "quiz-night", "volume": 40}),
        profile("yoga", audio={"playlist": "calm", "volume": 10}),
    )
    res = resolve(crowd(quiz=5), ps, venue(), {}, T0, forced="yoga")
    assert res.source == "forced"
    assert res.active == ("yoga",)
    assert res.zones["lounge"].audio == AudioState(playlist="calm", volume=10)
    assert res.headcount == {"quiz": 5}  # who is here is still what it is


def test_a_forced_profile_drives_an_empty_room_instead_of_the_default() -> None:
    ps = profiles(profile("house", audio={"volume": 20}), profile("gala", audio={"volume": 50}))
    res = resolve(Presence(), ps, venue(default="house"), {}, T0, forced="gala")
    assert (res.source, res.leader) == ("forced", "gala")
    assert res.zones["lounge"].audio is not None and res.zones["lounge"].audio.volume == 50


def test_a_forced_profile_keeps_its_phases_occupancy_and_the_venue_limits() -> None:
    gala = profile(
        "gala",
        audio={"volume": 60},
        phases=[{"after_min": 30, "name": "late", "audio": {"volume": 65}}],
        occupancy={"volume_per_10": 10},
    )
    res = resolve(
        crowd(quiz=10),
        profiles(gala),
        venue(limits={"max_volume": 70}),
        {"gala": T0},
        T0 + timedelta(minutes=31),
        forced="gala",
    )
    assert res.phase == "late"
    assert res.zones["lounge"].audio is not None and res.zones["lounge"].audio.volume == 70  # 65 + 10, clamped
    assert Clamp("*", "audio.volume", 75, 70, "max_volume") in res.clamps


def test_a_forced_profile_that_no_longer_exists_leaves_the_policy_in_charge() -> None:
    ps = profiles(profile("quiz", audio={"volume": 40}))
    res = resolve(crowd(quiz=1), ps, venue(), {}, T0, forced="gone")
    assert (res.source, res.leader) == ("community", "quiz")
