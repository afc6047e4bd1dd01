"""Error lines are what people read in `ambience check` and 422 bodies: their exact wording is the contract."""

from __future__ import annotations

from typing import Any

import pytest
from pydantic import BaseModel, ValidationError, field_validator

from profiles import FieldError, Profile, ProfileError, VenueConfig, field_errors, parse_profile, parse_venue


def profile_lines(extra: dict[str, Any]) -> list[str]:
    with pytest.raises(ProfileError) as caught:
        parse_profile({"community_id": "c", "name": "n", **extra})
    return [str(error) for error in caught.value.errors]


@pytest.mark.parametrize(
    ("extra", "line"),
    [
        ({"lighting": {"zones": {"bar": {"brightness": 101}}}}, "lighting.zones.bar.brightness: must be <= 100"),
        ({"lighting": {"colour": "#ff6a00"}}, "lighting.colour: unknown field"),
        ({"quorum": 0}, "quorum: must be >= 1"),
        ({"lighting": {"color": "orange"}}, "lighting.color: must be a colour like #ff6a00"),
        ({"climate": {"mode": "warm"}}, "climate.mode: must be one of off, heat, cool, auto"),
        ({"audio": {"state": "loud"}}, "audio.state: must be one of play, pause, stop"),
        ({"lighting": {"brightness": 50.5}}, "lighting.brightness: must be a whole number"),
        ({"lighting": {"brightness": "bright"}}, "lighting.brightness: must be a whole number"),
        ({"climate": {"target_c": "warm"}}, "climate.target_c: must be a number"),
        ({"climate": {"target_c": 4}}, "climate.target_c: must be >= 5"),
        ({"lighting": {"on": "perhaps"}}, "lighting.on: must be true or false"),
        ({"scent": {"name": 7}}, "scent.name: must be text"),
        ({"audio": {"playlist": ""}}, "audio.playlist: must not be empty"),
        ({"lighting": "dim"}, "lighting: must be a mapping (key: value)"),
        ({"lighting": {"zones": ["bar"]}}, "lighting.zones: must be a mapping (key: value)"),
        ({"phases": {"after_min": 1}}, "phases: must be a list"),
        ({"phases": [{"name": "p"}]}, "phases.0.after_min: required"),
        ({"phases": [{"after_min": float("inf"), "name": "p"}]}, "phases.0.after_min: must be a finite number"),
        (
            {"community_id": "Book Club"},
            "community_id: must be an id of 1-64 lowercase letters, digits, '-' or '_',"
            " starting with a letter or digit",
        ),
    ],
)
def test_profile_error_lines(extra: dict[str, Any], line: str) -> None:
    assert profile_lines(extra) == [line]


def test_all_errors_are_reported_in_one_go() -> None:
    lines = profile_lines({"quorum": 0, "lighting": {"brightness": -1, "colour": "x"}, "audio": {"volume": 101}})
    assert lines == [
        "quorum: must be >= 1",
        "lighting.brightness: must be >= 0",
        "lighting.colour: unknown field",
        "audio.volume: must be <= 100",
    ]


def test_venue_error_lines() -> None:
    with pytest.raises(ProfileError) as caught:
        parse_venue({"zones": ["bar"], "devices": [], "policy": {"multi_community": "loudest"}})
    assert [str(error) for error in caught.value.errors] == [
        "venue: required",
        "policy.multi_community: must be one of majority, blend, priority",
    ]


def test_root_errors_have_a_root_path() -> None:
    with pytest.raises(ValidationError) as caught:
        Profile.model_validate(["not", "a", "mapping"])
    assert [str(error) for error in field_errors(caught.value)] == ["(root): must be a mapping (key: value)"]
    with pytest.raises(ProfileError) as profile_error:
        parse_profile([1, 2])  # type: ignore[arg-type]
    assert str(profile_error.value) == "(root): must be a mapping (key: value), not a list"


def test_path_joins_integer_parts() -> None:
    with pytest.raises(ValidationError) as caught:
        VenueConfig.model_validate(
            {"venue": {"id": "v", "name": "V"}, "zones": ["bar"], "devices": [{"id": "a", "kind": "lamp"}]}
        )
    paths = [error.path for error in field_errors(caught.value)]
    assert paths == ["devices.0.kind", "devices.0.zone", "devices.0.driver"]


def test_plain_value_error_in_a_validator_keeps_its_text() -> None:
    class Model(BaseModel):
        x: int

        @field_validator("x")
        @classmethod
        def _odd(cls, value: int) -> int:
            if value % 2 == 0:
                raise ValueError("must be odd")
            return value

    with pytest.raises(ValidationError) as caught:
        Model(x=2)
    assert field_errors(caught.value) == [FieldError("x", "must be odd")]


def test_field_error_and_profile_error_format() -> None:
    error = FieldError("lighting.color", "must be a colour like #ff6a00")
    assert str(error) == "lighting.color: must be a colour like #ff6a00"
    assert str(ProfileError([error])) == "lighting.color: must be a colour like #ff6a00"
    with_file = ProfileError([error, FieldError("quorum", "must be >= 1")], source="p.yaml")
    assert with_file.lines() == [
        "p.yaml: lighting.color: must be a colour like #ff6a00",
        "p.yaml: quorum: must be >= 1",
    ]
    assert with_file.errors[1].path == "quorum"
    assert isinstance(with_file, Exception)
