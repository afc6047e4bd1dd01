"""Every range of docs/contract.md §3 and of the venue's settings: accepted at the bounds, rejected just outside."""

from __future__ import annotations

from typing import Any

import pytest
from pydantic import TypeAdapter, ValidationError

from profiles import (
    Celsius,
    HexColor,
    Kelvin,
    Mired,
    Percent,
    ProfileError,
    Slug,
    TransitionS,
    parse_profile,
    parse_venue,
)

BASE_PROFILE: dict[str, Any] = {"community_id": "c", "name": "n"}
BASE_VENUE: dict[str, Any] = {"venue": {"id": "v", "name": "V"}, "zones": ["bar"], "devices": []}


def nested(path: str, value: Any) -> dict[str, Any]:
    """`{"a": {"b": value}}` from `"a.b"`."""
    data: Any = value
    for key in reversed(path.split(".")):
        data = {key: data}
    assert isinstance(data, dict)
    return data


def merged(base: dict[str, Any], extra: dict[str, Any]) -> dict[str, Any]:
    out = dict(base)
    for key, value in extra.items():
        out[key] = merged(out[key], value) if isinstance(value, dict) and isinstance(out.get(key), dict) else value
    return out


# (dotted path in a profile, lowest accepted, highest accepted, amount just outside)
PROFILE_RANGES = [
    ("lighting.brightness", 0, 100, 1),
    ("lighting.zones.bar.brightness", 0, 100, 1),
    ("lighting.color_temp_k", 2000, 6500, 1),
    ("lighting.zones.bar.color_temp_k", 2000, 6500, 1),
    ("lighting.transition_s", 0, 3600, 0.001),
    ("climate.target_c", 5, 35, 0.01),
    ("audio.volume", 0, 100, 1),
    ("scent.intensity", 0, 100, 1),
    ("occupancy.volume_per_10", -100, 100, 0.5),
    ("occupancy.target_c_per_10", -100, 100, 0.5),
    ("occupancy.brightness_per_10", -100, 100, 0.5),
]


@pytest.mark.parametrize(("path", "low", "high", "step"), PROFILE_RANGES)
def test_profile_ranges_accept_bounds(path: str, low: float, high: float, step: float) -> None:
    for value in (low, high):
        parse_profile(merged(BASE_PROFILE, nested(path, value)))


@pytest.mark.parametrize(("path", "low", "high", "step"), PROFILE_RANGES)
def test_profile_ranges_reject_just_outside(path: str, low: float, high: float, step: float) -> None:
    def fmt(bound: float) -> str:
        return str(int(bound)) if float(bound).is_integer() else str(bound)

    for value, message in ((low - step, f"must be >= {fmt(low)}"), (high + step, f"must be <= {fmt(high)}")):
        with pytest.raises(ProfileError) as caught:
            parse_profile(merged(BASE_PROFILE, nested(path, value)))
        assert [str(e) for e in caught.value.errors] == [f"{path}: {message}"]


@pytest.mark.parametrize(
    ("path", "value", "line"),
    [
        ("quorum", 0, "quorum: must be >= 1"),
        ("quorum", 1, None),
        ("phases", [{"after_min": -0.1, "name": "p"}], "phases.0.after_min: must be >= 0"),
        ("phases", [{"after_min": 0, "name": "p"}], None),
        ("phases", [{"after_min": 5, "name": "p", "audio": {"volume": 101}}], "phases.0.audio.volume: must be <= 100"),
        ("name", "x" * 100, None),
        ("name", "x" * 101, "name: must be at most 100 characters"),
        ("name", "", "name: must not be empty"),
    ],
)
def test_profile_other_bounds(path: str, value: Any, line: str | None) -> None:
    data = merged(BASE_PROFILE, {path: value})
    if line is None:
        parse_profile(data)
    else:
        with pytest.raises(ProfileError) as caught:
            parse_profile(data)
        assert [str(e) for e in caught.value.errors] == [line]


# (dotted path in a venue config, lowest accepted, highest accepted or None, amount just outside)
VENUE_RANGES = [
    ("limits.max_volume", 0, 100, 1),
    ("limits.min_brightness", 0, 100, 1),
    ("api.port", 1, 65535, 1),
    ("store.retention_days", 1, None, 1),
    ("mqtt.keepalive_s", 1, 65535, 1),
    ("policy.override_minutes", 0, None, 0.5),
]


@pytest.mark.parametrize(("path", "low", "high", "step"), VENUE_RANGES)
def test_venue_ranges(path: str, low: float, high: float | None, step: float) -> None:
    parse_venue(merged(BASE_VENUE, nested(path, low)))
    with pytest.raises(ProfileError) as caught:
        parse_venue(merged(BASE_VENUE, nested(path, low - step)))
    assert [e.path for e in caught.value.errors] == [path]
    if high is not None:
        parse_venue(merged(BASE_VENUE, nested(path, high)))
        with pytest.raises(ProfileError):
            parse_venue(merged(BASE_VENUE, nested(path, high + step)))


def test_venue_temperature_limits_use_celsius_range() -> None:
    parse_venue(merged(BASE_VENUE, {"limits": {"min_temp_c": 5, "max_temp_c": 35}}))
    for limits, line in (
        ({"min_temp_c": 4.9}, "limits.min_temp_c: must be >= 5"),
        ({"max_temp_c": 35.1}, "limits.max_temp_c: must be <= 35"),
    ):
        with pytest.raises(ProfileError) as caught:
            parse_venue(merged(BASE_VENUE, {"limits": limits}))
        assert [str(e) for e in caught.value.errors] == [line]


def test_checkin_ttl_must_be_positive() -> None:
    parse_venue(merged(BASE_VENUE, {"policy": {"checkin_ttl_hours": 0.01}}))
    with pytest.raises(ProfileError) as caught:
        parse_venue(merged(BASE_VENUE, {"policy": {"checkin_ttl_hours": 0}}))
    assert [str(e) for e in caught.value.errors] == ["policy.checkin_ttl_hours: must be > 0"]


@pytest.mark.parametrize(
    ("annotation", "low", "high", "step"),
    [
        (Percent, 0, 100, 1),
        (Kelvin, 2000, 6500, 1),
        (Celsius, 5, 35, 0.1),
        (TransitionS, 0, 3600, 0.1),
        (Mired, 153, 500, 1),
    ],
)
def test_unit_types(annotation: Any, low: float, high: float, step: float) -> None:
    adapter: TypeAdapter[Any] = TypeAdapter(annotation)
    assert adapter.validate_python(low) == low
    assert adapter.validate_python(high) == high
    for outside in (low - step, high + step):
        with pytest.raises(ValidationError):
            adapter.validate_python(outside)


@pytest.mark.parametrize("annotation", [Percent, Kelvin, Mired])
def test_whole_number_units_reject_fractions(annotation: Any) -> None:
    with pytest.raises(ValidationError):
        TypeAdapter(annotation).validate_python(250.5)


def test_hex_color_is_normalised_to_lowercase() -> None:
    adapter: TypeAdapter[str] = TypeAdapter(HexColor)
    assert adapter.validate_python("#FF6A00") == "#ff6a00"
    assert adapter.validate_python("#ff6a00") == "#ff6a00"


@pytest.mark.parametrize("value", ["ff6a00", "#ff6a0", "#ff6a000", "#gg6a00", "red", "", " #ff6a00"])
def test_hex_color_rejects_other_shapes(value: str) -> None:
    with pytest.raises(ValidationError):
        TypeAdapter(HexColor).validate_python(value)


@pytest.mark.parametrize("value", ["a", "0", "book-club", "spicy_tech-2", "a" * 64])
def test_slug_accepts(value: str) -> None:
    assert TypeAdapter(Slug).validate_python(value) == value


@pytest.mark.parametrize("value", ["", "-a", "_a", "Book", "a b", "a.b", "a/b", "a" * 65, "é"])
def test_slug_rejects(value: str) -> None:
    with pytest.raises(ValidationError):
        TypeAdapter(Slug).validate_python(value)


@pytest.mark.parametrize("value", [float("nan"), float("inf"), float("-inf")])
def test_non_finite_numbers_are_rejected(value: float) -> None:
    with pytest.raises(ProfileError) as caught:
        parse_profile(merged(BASE_PROFILE, {"phases": [{"after_min": value, "name": "p"}]}))
    assert caught.value.errors[0].path == "phases.0.after_min"
