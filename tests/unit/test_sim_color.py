"""Colour maths of the simulated lights, checked against known values."""

from __future__ import annotations

import pytest

from firmware_sim.color import clamp_mired, hex_to_xy, mired_to_xy, parse_hex


@pytest.mark.parametrize(
    ("hex_colour", "expected"),
    [
        ("#ffffff", (0.3227, 0.3290)),
        ("#ff0000", (0.7006, 0.2993)),
        ("#00ff00", (0.1724, 0.7468)),
        ("#0000ff", (0.1355, 0.0399)),
    ],
)
def test_hex_to_xy_known_colours(hex_colour: str, expected: tuple[float, float]) -> None:
    x, y = hex_to_xy(hex_colour) or (0.0, 0.0)
    assert x == pytest.approx(expected[0], abs=1e-3)
    assert y == pytest.approx(expected[1], abs=1e-3)


def test_hex_to_xy_rounds_to_four_decimals() -> None:
    x, y = hex_to_xy("#ff6a00") or (0.0, 0.0)
    assert (round(x, 4), round(y, 4)) == (x, y)


def test_hex_without_hash_and_upper_case_is_accepted() -> None:
    assert hex_to_xy("FF0000") == hex_to_xy("#ff0000")


def test_black_has_no_chromaticity() -> None:
    assert hex_to_xy("#000000") is None


@pytest.mark.parametrize("bad", ["", "#fff", "#gggggg", "#ff00001", "red"])
def test_malformed_hex_is_refused(bad: str) -> None:
    assert parse_hex(bad) is None
    with pytest.raises(ValueError, match="rrggbb"):
        hex_to_xy(bad)


@pytest.mark.parametrize(
    ("value", "lo", "hi", "expected"),
    [(100, 153, 500, 153), (600, 153, 500, 500), (300.4, 153, 500, 300), (200, 250, 454, 250), (480, 250, 454, 454)],
)
def test_clamp_mired(value: float, lo: int, hi: int, expected: int) -> None:
    assert clamp_mired(value, lo, hi) == expected


def test_mired_to_xy_is_on_the_warm_white_locus() -> None:
    # A Hue bulb at 370 mired reports about (0.4573, 0.41).
    x, y = mired_to_xy(370)
    assert x == pytest.approx(0.4573, abs=0.01)
    assert y == pytest.approx(0.41, abs=0.01)
    cold_x, _ = mired_to_xy(153)
    assert cold_x < x
