"""The profile model: the contract's example, unknown fields at any depth, phases, immutability, canonical form."""

from __future__ import annotations

import json
from typing import Any

import pytest
from pydantic import ValidationError

from profiles import Audio, Lighting, LightingZone, Phase, Profile, ProfileError, canonical_json, parse_profile

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


def contract_profile() -> dict[str, Any]:
    data = json.loads(CONTRACT_PROFILE)
    assert isinstance(data, dict)
    return data


def test_contract_example_parses() -> None:
    profile = parse_profile(contract_profile())
    assert profile.community_id == "spicy-tech-gossip"
    assert profile.quorum == 2
    assert profile.lighting is not None
    assert profile.lighting.on is True
    assert profile.lighting.color is None
    assert profile.lighting.transition_s == 3
    assert profile.lighting.zones == {"bar": LightingZone(brightness=40, color="#ff6a00")}
    assert profile.climate is not None and profile.climate.mode == "auto" and profile.climate.target_c == 21.5
    assert profile.audio is not None and profile.audio.volume == 35
    assert profile.scent is not None and profile.scent.name == "cedar"
    assert profile.phases == (
        Phase(after_min=45, name="wind-down", lighting=Lighting(brightness=40), audio=Audio(volume=25)),
    )
    assert profile.occupancy is not None and profile.occupancy.target_c_per_10 == -0.5
    assert profile.occupancy.brightness_per_10 is None


def test_every_section_is_optional() -> None:
    profile = parse_profile({"community_id": "c", "name": "Minimal"})
    assert profile.quorum == 1
    assert (profile.lighting, profile.climate, profile.audio, profile.scent, profile.occupancy) == (None,) * 5
    assert profile.phases == ()


@pytest.mark.parametrize(
    ("extra", "path"),
    [
        ({"mood": "x"}, "mood"),
        ({"lighting": {"colour": "#ffffff"}}, "lighting.colour"),
        ({"lighting": {"zones": {"bar": {"dim": 1}}}}, "lighting.zones.bar.dim"),
        ({"climate": {"humidity": 40}}, "climate.humidity"),
        ({"audio": {"track": "x"}}, "audio.track"),
        ({"scent": {"strength": 2}}, "scent.strength"),
        ({"occupancy": {"scent_per_10": 1}}, "occupancy.scent_per_10"),
        ({"phases": [{"after_min": 1, "name": "p", "mood": 1}]}, "phases.0.mood"),
        (
            {"phases": [{"after_min": 1, "name": "p", "lighting": {"zones": {"bar": {"hue": 1}}}}]},
            "phases.0.lighting.zones.bar.hue",
        ),
    ],
)
def test_unknown_fields_are_rejected_at_any_depth(extra: dict[str, Any], path: str) -> None:
    with pytest.raises(ProfileError) as caught:
        parse_profile({"community_id": "c", "name": "n", **extra})
    assert [str(e) for e in caught.value.errors] == [f"{path}: unknown field"]


def test_required_fields() -> None:
    with pytest.raises(ProfileError) as caught:
        parse_profile({"phases": [{}]})
    assert [str(e) for e in caught.value.errors] == [
        "community_id: required",
        "name: required",
        "phases.0.after_min: required",
        "phases.0.name: required",
    ]


def test_phases_are_sorted_by_start() -> None:
    profile = parse_profile(
        {
            "community_id": "c",
            "name": "n",
            "phases": [
                {"after_min": 90, "name": "late"},
                {"after_min": 0, "name": "start"},
                {"after_min": 30, "name": "mid"},
            ],
        }
    )
    assert [phase.name for phase in profile.phases] == ["start", "mid", "late"]


def test_phase_names_and_starts_must_be_unique() -> None:
    with pytest.raises(ProfileError) as caught:
        parse_profile(
            {
                "community_id": "c",
                "name": "n",
                "phases": [
                    {"after_min": 10, "name": "a"},
                    {"after_min": 20, "name": "a"},
                    {"after_min": 10, "name": "b"},
                ],
            }
        )
    assert [str(e) for e in caught.value.errors] == [
        "phases.1.name: must be unique (phases.0 has the same name)",
        "phases.2.after_min: must be unique (phases.0 starts at the same minute)",
    ]


def test_phase_errors_are_reported_directly_by_the_model() -> None:
    with pytest.raises(ValidationError) as caught:
        Profile.model_validate({"community_id": "c", "name": "n", "phases": [{"after_min": 1, "name": "a"}] * 2})
    assert [error["loc"] for error in caught.value.errors()] == [("phases", 1, "name"), ("phases", 1, "after_min")]


def test_models_are_frozen() -> None:
    profile = parse_profile(contract_profile())
    with pytest.raises(ValidationError):
        profile.quorum = 3  # type: ignore[misc]


def test_colour_is_stored_lowercase() -> None:
    profile = parse_profile({"community_id": "c", "name": "n", "lighting": {"color": "#FF6A00"}})
    assert profile.lighting is not None and profile.lighting.color == "#ff6a00"


def test_canonical_json_is_the_same_for_the_same_meaning() -> None:
    original = contract_profile()
    original["phases"].append({"after_min": 5, "name": "early"})
    rewritten = dict(reversed(list(original.items())))  # other key order
    rewritten["lighting"] = {k: v for k, v in original["lighting"].items() if k != "color"}  # null left out
    rewritten["phases"] = list(reversed(original["phases"]))  # other phase order
    assert canonical_json(parse_profile(original)) == canonical_json(parse_profile(rewritten))
    assert "null" not in canonical_json(parse_profile(original))


def test_canonical_json_changes_with_content() -> None:
    changed = contract_profile()
    changed["audio"]["volume"] = 36
    assert canonical_json(parse_profile(changed)) != canonical_json(parse_profile(contract_profile()))


def test_canonical_json_round_trips() -> None:
    profile = parse_profile(contract_profile())
    assert Profile.model_validate_json(canonical_json(profile)) == profile
    assert Profile.model_validate(json.loads(profile.model_dump_json())) == profile
