"""What differs between a desired and a reported state, with a named tolerance per attribute.

The planner sends a device only what differs, and an echo of our own command must never look like a
change: fades report intermediate values, brightness rounds through 0-254, mireds round, thermostats step by
0.5 C. Each tolerance below covers one such rounding, and is inclusive (`<=`). `apply` and `merge` are the
other half: what a device reports after obeying a change, and how two pending changes coalesce (latest state
wins).
"""

from __future__ import annotations

import dataclasses
import math
from collections.abc import Callable
from typing import Any, TypeAlias, TypeVar

from devices.states import AudioState, ClimateState, DeviceState, LightState, ScentState, set_fields
from devices.units import DEFAULT_MIRED_RANGE, MiredRange, kelvin_to_mired

BRIGHTNESS_TOLERANCE_PCT = 1.0  # 0-254 rounding is at most 0.2 %; the rest is fade reports settling
COLOR_TEMP_TOLERANCE_MIRED = 2  # mired and Kelvin both round to integers on the way
XY_TOLERANCE = 0.01  # Euclidean distance in CIE xy; below what an eye tells apart, above 4-decimal rounding
TARGET_C_TOLERANCE = 0.25  # half of a TRV's 0.5 C step: 21.3 reported as 21.5 is the same wish
VOLUME_TOLERANCE = 0
INTENSITY_TOLERANCE = 0

S = TypeVar("S", bound=LightState | ClimateState | AudioState | ScentState)
# desired value, reported value (never None here), the device's mired range -> "already satisfied"
Satisfies: TypeAlias = Callable[[Any, Any, MiredRange], bool]


def _equal(desired: object, reported: object, _: MiredRange) -> bool:
    return desired == reported


def _within(tolerance: float) -> Satisfies:
    def satisfies(desired: float, reported: float, _: MiredRange) -> bool:
        return abs(desired - reported) <= tolerance

    return satisfies


def _same_mired(desired_k: float, reported_k: float, mireds: MiredRange) -> bool:
    """Compared in mireds, clamped to the device's range: 2000 K on a 454-mired bulb is satisfied."""
    return abs(kelvin_to_mired(desired_k, *mireds) - kelvin_to_mired(reported_k, *mireds)) <= (
        COLOR_TEMP_TOLERANCE_MIRED
    )


def _near_xy(desired: tuple[float, float], reported: tuple[float, float], _: MiredRange) -> bool:
    return math.dist(desired, reported) <= XY_TOLERANCE


# Per state type: every field that can be desired, and when a report satisfies it. local_temp_c is not
# here: it is reported only, so it never differs.
SATISFIES: dict[type[DeviceState], dict[str, Satisfies]] = {
    LightState: {
        "on": _equal,
        "brightness": _within(BRIGHTNESS_TOLERANCE_PCT),
        "color_temp_k": _same_mired,
        "color_xy": _near_xy,
    },
    ClimateState: {"target_c": _within(TARGET_C_TOLERANCE), "mode": _equal},
    AudioState: {"state": _equal, "volume": _within(VOLUME_TOLERANCE), "playlist": _equal},
    ScentState: {"on": _equal, "intensity": _within(INTENSITY_TOLERANCE), "name": _equal},
}

_COLOR_FIELDS = ("color_temp_k", "color_xy")

LOCAL_TEMP_TOLERANCE_C = 0.05  # a room sensor's 0.1 C step is a change worth keeping; float noise is not


# Fields a device reports that are never desired, and when two readings of one are the same.
_REPORTED_ONLY: dict[str, Satisfies] = {"local_temp_c": _within(LOCAL_TEMP_TOLERANCE_C)}


def meaningful_change(
    new: DeviceState, old: DeviceState | None, *, mired_range: MiredRange = DEFAULT_MIRED_RANGE
) -> bool:
    """Whether a report says something `old` did not, beyond the tolerances above (a fade's last step, 200 vs 201
    of 254, a thermostat's rounding): what the record keeps at once; the rest it keeps now and then."""
    if old is None or type(old) is not type(new):
        return True
    rules = _rules(new)
    for name, value in set_fields(new).items():
        before = getattr(old, name)
        if before is None:
            return True
        same = rules.get(name) or _REPORTED_ONLY.get(name, _equal)
        if not same(value, before, mired_range):
            return True
    return any(getattr(new, name) is None for name in set_fields(old))


def _rules(state: DeviceState) -> dict[str, Satisfies]:
    return SATISFIES[type(state)]


def _check_same_kind(a: DeviceState, b: DeviceState) -> None:
    if type(a) is not type(b):
        raise TypeError(f"cannot compare {type(a).__name__} with {type(b).__name__}")


def differences(
    desired: S,
    reported: S | None,
    *,
    mired_range: MiredRange = DEFAULT_MIRED_RANGE,
) -> S | None:
    """The part of `desired` that `reported` does not already satisfy, or None when nothing differs.

    A light desired off differs only in `on`. Both colour fields travel together when both are desired (a
    light is in one colour mode at a time, so sending one clears the other). `reported is None` (never heard
    from) means everything desired differs. `mired_range` is the device's, so a clamped colour temperature
    is satisfied.
    """
    rules = _rules(desired)
    if isinstance(desired, LightState) and desired.on is False:
        wanted: list[tuple[str, Any]] = [("on", False)]
    else:
        # Walk the rule table (the comparable fields) rather than dataclasses.fields(): the planner calls this
        # for every device of a venue on every change, so it has to be cheap.
        wanted = [(name, value) for name in rules if (value := getattr(desired, name)) is not None]
    if reported is None:
        differing = dict(wanted)
    else:
        _check_same_kind(desired, reported)
        differing = {}
        for name, value in wanted:
            actual = getattr(reported, name)
            if actual is None or not rules[name](value, actual, mired_range):
                differing[name] = value
        if differing and ("color_temp_k" in differing or "color_xy" in differing):
            differing.update({name: value for name, value in wanted if name in _COLOR_FIELDS})
    return type(desired)(**differing) if differing else None


def _overlay(base: S, change: S) -> S:
    """`change`'s set fields over `base`; setting one colour field alone clears the other, like a light's
    `color_mode` does."""
    updates = set_fields(change)
    if isinstance(change, LightState):
        if "color_xy" in updates and "color_temp_k" not in updates:
            updates["color_temp_k"] = None
        elif "color_temp_k" in updates and "color_xy" not in updates:
            updates["color_xy"] = None
    return dataclasses.replace(base, **updates)


def apply(reported: S | None, change: S) -> S:
    """What a device reports after obeying `change`, starting from `reported` (None: it said nothing yet)."""
    if reported is None:
        return _overlay(type(change)(), change)
    _check_same_kind(reported, change)
    return _overlay(reported, change)


def merge(older: S, newer: S) -> S:
    """Coalesce two pending changes to one device: newer's set fields over older's (latest state wins).

    Like `apply`, a newer colour in one mode drops the older one in the other mode, so the merged command is
    never ambiguous about which colour the light ends in.
    """
    _check_same_kind(older, newer)
    return _overlay(older, newer)
