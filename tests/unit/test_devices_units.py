"""Unit conversions at the Zigbee2MQTT edge: known values, clamps, round trips within named tolerances."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from devices.compare import BRIGHTNESS_TOLERANCE_PCT, COLOR_TEMP_TOLERANCE_MIRED, XY_TOLERANCE
from devices.units import (
    Z2M_MIRED_MAX,
    Z2M_MIRED_MIN,
    hex_to_xy,
    kelvin_to_mired,
    mired_to_kelvin,
    percent_to_z2m,
    xy_to_hex,
    z2m_to_percent,
)


@pytest.mark.parametrize(("pct", "raw"), [(0, 0), (100, 254), (50, 127), (1, 3), (-5, 0), (150, 254)])
def test_percent_to_z2m_known_values_and_clamps(pct: float, raw: int) -> None:
    assert percent_to_z2m(pct) == raw


@pytest.mark.parametrize(("raw", "pct"), [(0, 0.0), (254, 100.0), (127, 50.0), (1, 0.39), (300, 100.0)])
def test_z2m_to_percent_known_values(raw: float, pct: float) -> None:
    assert z2m_to_percent(raw) == pct


@given(st.floats(min_value=0, max_value=100))
def test_percent_round_trips_within_tolerance(pct: float) -> None:
    assert abs(z2m_to_percent(percent_to_z2m(pct)) - pct) <= BRIGHTNESS_TOLERANCE_PCT


@pytest.mark.parametrize(
    ("kelvin", "lo", "hi", "mired"),
    [
        (2700, Z2M_MIRED_MIN, Z2M_MIRED_MAX, 370),
        (6500, Z2M_MIRED_MIN, Z2M_MIRED_MAX, 154),
        (2000, Z2M_MIRED_MIN, Z2M_MIRED_MAX, 500),
        (1500, Z2M_MIRED_MIN, Z2M_MIRED_MAX, 500),
        (10000, Z2M_MIRED_MIN, Z2M_MIRED_MAX, 153),
        (2000, 250, 454, 454),
        (6500, 250, 454, 250),
        (0, Z2M_MIRED_MIN, Z2M_MIRED_MAX, 500),
    ],
)
def test_kelvin_to_mired_known_values_and_clamps(kelvin: float, lo: int, hi: int, mired: int) -> None:
    assert kelvin_to_mired(kelvin, lo, hi) == mired


def test_kelvin_to_mired_defaults_to_the_widest_range() -> None:
    assert (Z2M_MIRED_MIN, Z2M_MIRED_MAX) == (153, 500)
    assert kelvin_to_mired(2000) == 500


@pytest.mark.parametrize(("mired", "kelvin"), [(370, 2703), (153, 6536), (500, 2000), (250, 4000)])
def test_mired_to_kelvin_known_values(mired: float, kelvin: int) -> None:
    assert mired_to_kelvin(mired) == kelvin


@pytest.mark.parametrize("mired", [0, -1])
def test_mired_to_kelvin_rejects_non_positive(mired: float) -> None:
    with pytest.raises(ValueError, match="mired"):
        mired_to_kelvin(mired)


@given(st.integers(min_value=1000, max_value=12000))
def test_kelvin_round_trips_within_tolerance_in_mireds(kelvin: int) -> None:
    back = mired_to_kelvin(kelvin_to_mired(kelvin))
    assert abs(kelvin_to_mired(back) - kelvin_to_mired(kelvin)) <= COLOR_TEMP_TOLERANCE_MIRED


@pytest.mark.parametrize(
    ("colour", "xy"),
    [
        ("#ffffff", (0.3227, 0.329)),
        ("#ff0000", (0.7006, 0.2993)),
        ("#000000", (0.3227, 0.329)),
        ("#808080", (0.3227, 0.329)),
        ("FF0000", (0.7006, 0.2993)),
    ],
)
def test_hex_to_xy_known_values(colour: str, xy: tuple[float, float]) -> None:
    assert hex_to_xy(colour) == pytest.approx(xy, abs=1e-4)


@pytest.mark.parametrize("colour", ["", "#fff", "#gggggg", "#12345678", "red"])
def test_hex_to_xy_rejects_non_colours(colour: str) -> None:
    with pytest.raises(ValueError, match="rrggbb"):
        hex_to_xy(colour)


@pytest.mark.parametrize("colour", ["#ffffff", "#ff0000", "#00ff00", "#0000ff", "#ff6a00", "#ffcc00"])
def test_saturated_colours_survive_hex_xy_hex(colour: str) -> None:
    back = xy_to_hex(hex_to_xy(colour))
    assert all(abs(int(back[i : i + 2], 16) - int(colour[i : i + 2], 16)) <= 3 for i in (1, 3, 5))


def test_xy_to_hex_dims_with_brightness_and_survives_degenerate_xy() -> None:
    assert xy_to_hex((0.3227, 0.329), 0) == "#000000"
    half = xy_to_hex((0.3227, 0.329), 50)
    assert "#000000" < half < "#ffffff"
    assert xy_to_hex((0.3, 0.0)) == "#000000"


@given(st.tuples(st.integers(0, 255), st.integers(0, 255), st.integers(0, 255)).filter(lambda rgb: max(rgb) > 0))
def test_hex_xy_hex_keeps_the_chromaticity(rgb: tuple[int, int, int]) -> None:
    colour = "#" + "".join(f"{c:02x}" for c in rgb)
    xy = hex_to_xy(colour)
    assert sum(abs(a - b) for a, b in zip(hex_to_xy(xy_to_hex(xy)), xy, strict=True)) <= XY_TOLERANCE
