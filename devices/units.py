"""Unit conversions between human units and the device wires (Zigbee2MQTT, Hue v1), one tiny named function each.

Human units (percent, Kelvin, CIE xy, `#rrggbb`) live everywhere inside; 0-254 brightness, mireds and Hue's
deciseconds exist only at the protocol edge. Every function here is pure and total over sane inputs, so the tables in
`devices.z2m` and the tolerances in `devices.compare` can rely on them without guarding.
"""

from __future__ import annotations

import math
from typing import TypeAlias

Z2M_BRIGHTNESS_MAX = 254
Z2M_MIRED_MIN = 153  # 6536 K: the coldest white Zigbee2MQTT lights accept
Z2M_MIRED_MAX = 500  # 2000 K: the warmest

MiredRange: TypeAlias = tuple[int, int]
"""The (coldest, warmest) colour temperatures a light accepts, in mireds."""

DEFAULT_MIRED_RANGE: MiredRange = (Z2M_MIRED_MIN, Z2M_MIRED_MAX)
"""What a light is assumed to accept when neither the venue's config nor its driver says."""

HUE_BRI_MIN = 1  # Hue v1 has no brightness 0: 1 is the dimmest level a light that is on can show
HUE_BRI_MAX = 254
HUE_MIRED_MIN = 153  # the range a Hue light assumes when it does not report `capabilities.control.ct`
HUE_MIRED_MAX = 500
HUE_TRANSITION_MAX = 65535  # deciseconds: `transitiontime` is a uint16 on the bridge (~1.8 h)

# The white point of the matrix below: what an achromatic colour (and black, which has none) maps to.
WHITE_POINT_XY = (0.3227, 0.329)

# sRGB (linear) -> XYZ, Philips' wide-gamut D65 matrix as used by Hue and Zigbee2MQTT.
_RGB_TO_XYZ = (
    (0.664511, 0.154324, 0.162028),
    (0.283881, 0.668433, 0.047685),
    (0.000088, 0.072310, 0.986039),
)


def _invert3(m: tuple[tuple[float, ...], ...]) -> tuple[tuple[float, ...], ...]:
    """The inverse of a 3x3 matrix (adjugate over determinant); computed once so the inverse cannot drift."""
    (a, b, c), (d, e, f), (g, h, i) = m
    det = a * (e * i - f * h) - b * (d * i - f * g) + c * (d * h - e * g)
    return (
        ((e * i - f * h) / det, (c * h - b * i) / det, (b * f - c * e) / det),
        ((f * g - d * i) / det, (a * i - c * g) / det, (c * d - a * f) / det),
        ((d * h - e * g) / det, (b * g - a * h) / det, (a * e - b * d) / det),
    )


_XYZ_TO_RGB = _invert3(_RGB_TO_XYZ)


def _clamp(value: float, lo: float, hi: float) -> float:
    return max(lo, min(hi, value))


def percent_to_z2m(pct: float) -> int:
    """Brightness 0-100 % -> Zigbee2MQTT 0-254, rounded and clamped (callers need not pre-validate)."""
    return round(_clamp(pct, 0.0, 100.0) * Z2M_BRIGHTNESS_MAX / 100)


def z2m_to_percent(raw: float) -> float:
    """Zigbee2MQTT 0-254 -> percent with 2 decimals: enough to round-trip, few enough to read in an event."""
    return round(_clamp(raw, 0.0, Z2M_BRIGHTNESS_MAX) * 100 / Z2M_BRIGHTNESS_MAX, 2)


def percent_to_hue_bri(pct: float) -> int:
    """Brightness 0-100 % -> Hue `bri` 1-254, rounded and clamped.

    0 % becomes 1, not "off": `on` is its own field, and switching a light off because of a brightness would make
    it report `on: false` against a desired `on: true` for ever. Bri 1 reads back as 0.39 %, within
    `BRIGHTNESS_TOLERANCE_PCT` of 0 %, so the echo of our own command compares equal.
    """
    return max(HUE_BRI_MIN, round(_clamp(pct, 0.0, 100.0) * HUE_BRI_MAX / 100))


def hue_bri_to_percent(bri: float) -> float:
    """Hue `bri` -> percent with 2 decimals, on the same 254 scale as `percent_to_hue_bri` so it round-trips."""
    return round(_clamp(bri, 0.0, HUE_BRI_MAX) * 100 / HUE_BRI_MAX, 2)


def seconds_to_hue_transition(seconds: float) -> int:
    """A fade in seconds -> Hue `transitiontime` in deciseconds, clamped to what the bridge accepts."""
    return int(_clamp(round(seconds * 10), 0, HUE_TRANSITION_MAX))


def kelvin_to_mired(k: float, lo: int = Z2M_MIRED_MIN, hi: int = Z2M_MIRED_MAX) -> int:
    """Kelvin -> mired, clamped to the device's range; a non-positive Kelvin is "infinitely warm" (`hi`)."""
    if k <= 0:
        return hi
    return int(_clamp(round(1_000_000 / k), lo, hi))


def mired_to_kelvin(m: float) -> int:
    """Mired -> Kelvin (whole degrees: a mired step is 5-40 K, so decimals would be noise)."""
    if m <= 0:
        raise ValueError(f"mired must be positive, got {m}")
    return round(1_000_000 / m)


def _srgb_expand(c: float) -> float:
    """sRGB gamma-encoded 0-1 -> linear light."""
    return c / 12.92 if c <= 0.04045 else ((c + 0.055) / 1.055) ** 2.4


def _srgb_compress(c: float) -> float:
    """Linear light 0-1 -> sRGB gamma-encoded."""
    return 12.92 * c if c <= 0.0031308 else 1.055 * c ** (1 / 2.4) - 0.055


def hex_to_xy(hex: str) -> tuple[float, float]:
    """`#rrggbb` -> CIE 1931 xy (4 decimals), so a profile's colour compares with what lights report.

    Brightness is lost on purpose (xy is chromaticity only); black has no chromaticity and maps to the white
    point. Raises ValueError on anything that is not six hex digits (with or without `#`).
    """
    digits = hex.strip().removeprefix("#")
    if len(digits) != 6 or any(ch not in "0123456789abcdefABCDEF" for ch in digits):
        raise ValueError(f"not a #rrggbb colour: {hex!r}")
    rgb = [_srgb_expand(int(digits[i : i + 2], 16) / 255) for i in (0, 2, 4)]
    x_, y_, z_ = (sum(row[j] * rgb[j] for j in range(3)) for row in _RGB_TO_XYZ)
    total = x_ + y_ + z_
    if total <= 0:
        return WHITE_POINT_XY
    return round(x_ / total, 4), round(y_ / total, 4)


def xy_to_hex(xy: tuple[float, float], brightness_pct: float = 100) -> str:
    """CIE xy (+ brightness) -> `#rrggbb` for dashboards: the brightest in-gamut colour of that chromaticity.

    Linear channels are normalised so the largest is 1 at full brightness (scaled by `brightness_pct`), then
    gamma compressed; out-of-gamut channels clamp at 0. xy with no luminance (y <= 0) is shown as black.
    """
    x, y = xy
    if y <= 0:
        return "#000000"
    xyz = (x / y, 1.0, (1 - x - y) / y)
    linear = [max(0.0, sum(row[j] * xyz[j] for j in range(3))) for row in _XYZ_TO_RGB]
    peak = max(linear)
    if peak <= 0 or not math.isfinite(peak):
        return "#000000"
    scale = _clamp(brightness_pct, 0.0, 100.0) / 100 / peak
    channels = (round(_clamp(_srgb_compress(c * scale), 0.0, 1.0) * 255) for c in linear)
    return "#" + "".join(f"{c:02x}" for c in channels)


def kelvin_to_xy(kelvin: float) -> tuple[float, float]:
    """The black-body (Planckian) chromaticity of a colour temperature, 1667-25000 K (Kim et al. cubic spline)."""
    t = _clamp(kelvin, 1667.0, 25000.0)
    if t <= 4000:
        x = -0.2661239e9 / t**3 - 0.2343589e6 / t**2 + 0.8776956e3 / t + 0.179910
    else:
        x = -3.0258469e9 / t**3 + 2.1070379e6 / t**2 + 0.2226347e3 / t + 0.240390
    if t <= 2222:
        y = -1.1063814 * x**3 - 1.34811020 * x**2 + 2.18555832 * x - 0.20219683
    elif t <= 4000:
        y = -0.9549476 * x**3 - 1.37418593 * x**2 + 2.09137015 * x - 0.16748867
    else:
        y = 3.0817580 * x**3 - 5.87338670 * x**2 + 3.75112997 * x - 0.37001483
    return round(x, 4), round(y, 4)


def kelvin_to_hex(kelvin: float, brightness_pct: float = 100) -> str:
    """A white of that colour temperature as `#rrggbb`, for dashboards."""
    return xy_to_hex(kelvin_to_xy(kelvin), brightness_pct)


def reported_number(raw: object, lo: float, hi: float) -> float | None:
    """A finite real number within [lo, hi] from what a device or bridge reported, else None.

    Devices send nonsense now and then: JSON `true` is not 1, and an integer too large for a float (a 400-digit
    number parses fine as JSON) is garbage like any other, not an `OverflowError` per message."""
    if isinstance(raw, bool) or not isinstance(raw, int | float):
        return None
    try:
        value = float(raw)
    except OverflowError:
        return None
    return value if math.isfinite(value) and lo <= value <= hi else None


def encodable(text: str) -> bool:
    """Whether UTF-8 (and so SQLite, and every JSON reader) can hold `text`: not if it has a lone surrogate, which
    JSON can spell (`"\\ud800"`) and Python decodes into a string nothing downstream can store or send."""
    if text.isascii():
        return True
    try:
        text.encode("utf-8")
    except UnicodeEncodeError:
        return False
    return True
