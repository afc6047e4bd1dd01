"""Colour maths for the simulated lights: `#rrggbb` to CIE xy, mireds to xy, mired clamping.

Pure functions, no imports from the rest of the project: the simulator is written from the protocol alone, so
that it checks the controller's own conversions instead of sharing their bugs.
"""

from __future__ import annotations

import re

MIRED_MIN = 153
MIRED_MAX = 500

_HEX = re.compile(r"#?([0-9a-fA-F]{6})")


def parse_hex(value: str) -> tuple[int, int, int] | None:
    """`#rrggbb` (the `#` optional, as Zigbee2MQTT allows) as 0-255 channels; None when malformed."""
    match = _HEX.fullmatch(value.strip())
    if match is None:
        return None
    digits = match.group(1)
    return int(digits[0:2], 16), int(digits[2:4], 16), int(digits[4:6], 16)


def _expand_gamma(channel: int) -> float:
    """sRGB companding undone, so the matrix below works on linear light."""
    c = channel / 255.0
    return ((c + 0.055) / 1.055) ** 2.4 if c > 0.04045 else c / 12.92


def rgb_to_xy(red: int, green: int, blue: int) -> tuple[float, float] | None:
    """CIE 1931 xy by Philips' wide-gamut D65 matrix, rounded to 4 decimals; None for black (no chromaticity)."""
    r, g, b = _expand_gamma(red), _expand_gamma(green), _expand_gamma(blue)
    x_ = r * 0.664511 + g * 0.154324 + b * 0.162028
    y_ = r * 0.283881 + g * 0.668433 + b * 0.047685
    z_ = r * 0.000088 + g * 0.072310 + b * 0.986039
    total = x_ + y_ + z_
    if total <= 0:
        return None
    return round(x_ / total, 4), round(y_ / total, 4)


def hex_to_xy(value: str) -> tuple[float, float] | None:
    """`#rrggbb` to xy; None for black. Raises ValueError on a malformed string."""
    rgb = parse_hex(value)
    if rgb is None:
        raise ValueError(f"not a #rrggbb colour: {value!r}")
    return rgb_to_xy(*rgb)


def clamp_mired(value: float, lo: int = MIRED_MIN, hi: int = MIRED_MAX) -> int:
    """Real bulbs clamp a colour temperature to what they can do rather than refuse it; so do we."""
    return max(lo, min(hi, round(value)))


def mired_to_xy(mired: float) -> tuple[float, float]:
    """The Planckian locus point for a colour temperature (Kim et al. cubic fit, 1667-25000 K), 4 decimals.

    Hue bulbs report an xy even in colour-temperature mode; reporting a plausible one keeps the simulated state
    shaped like a real bulb's.
    """
    kelvin = max(1667.0, min(25000.0, 1_000_000.0 / max(mired, 1.0)))
    t, t2, t3 = kelvin, kelvin**2, kelvin**3
    if kelvin <= 4000:
        x = -0.2661239e9 / t3 - 0.2343589e6 / t2 + 0.8776956e3 / t + 0.179910
    else:
        x = -3.0258469e9 / t3 + 2.1070379e6 / t2 + 0.2226347e3 / t + 0.240390
    if kelvin <= 2222:
        y = -1.1063814 * x**3 - 1.34811020 * x**2 + 2.18555832 * x - 0.20219683
    elif kelvin <= 4000:
        y = -0.9549476 * x**3 - 1.37418593 * x**2 + 2.09137015 * x - 0.16748867
    else:
        y = 3.0817580 * x**3 - 5.87338670 * x**2 + 3.75112997 * x - 0.37001483
    return round(x, 4), round(y, 4)
