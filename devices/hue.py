"""The Hue v1 dialect: light states to `PUT .../state` bodies and v1 light objects back.

Tables both ways, like `devices.z2m`: the to-bridge table is keyed by state field and returns body fragments,
the from-bridge table is keyed by the light object's `state` keys and returns partial states. Hue units
(`bri` 1-254, `ct` in mireds, `xy` as a list, `transitiontime` in deciseconds) exist only here and in
`devices.units`. The from side is tolerant like z2m's: unknown keys are skipped and a known key with a wrong
type or an out-of-range value is left out (None), never raised. No I/O here.

Decisions:
- Brightness 0 % is sent as `bri: 1` (the dimmest level), never as `on: false`: see `percent_to_hue_bri`.
- A change that sets both colour fields sends `xy` alone: the bridge would ignore `ct` next to `xy` anyway
  (xy > ct > hs), and one colour mode per body keeps coalescing in `devices.hue_pacer` exact.
- A light object without `state.reachable` counts as reachable (older firmware and emulators leave it out);
  one without a `state` at all does not.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any, TypeAlias

from devices.capabilities import DeviceCapabilities
from devices.states import LightState, set_fields
from devices.units import (
    HUE_BRI_MAX,
    HUE_MIRED_MAX,
    HUE_MIRED_MIN,
    MiredRange,
    hue_bri_to_percent,
    kelvin_to_mired,
    mired_to_kelvin,
    percent_to_hue_bri,
    reported_number,
    seconds_to_hue_transition,
)

Body: TypeAlias = dict[str, Any]
Partial: TypeAlias = dict[str, Any]  # LightState field -> value

ToConverter: TypeAlias = Callable[[Any, MiredRange], Body]
FromConverter: TypeAlias = Callable[[object], Partial]

HUE_MIRED_RANGE: MiredRange = (HUE_MIRED_MIN, HUE_MIRED_MAX)
REPORTED_MIRED_RANGE = (50, 1000)  # as in z2m: wider than any bulb, narrower than garbage

# The bridge's `colormode` values and which of our two colour fields each one means.
_XY_MODES = frozenset({"xy", "hs"})
_CT_MODES = frozenset({"ct"})


# ---- to-bridge: state field -> body fragment ---------------------------------------------------------------


def _xy(xy: tuple[float, float], _: MiredRange) -> Body:
    return {"xy": [round(min(1.0, max(0.0, xy[0])), 4), round(min(1.0, max(0.0, xy[1])), 4)]}


LIGHT_TO_HUE: dict[str, ToConverter] = {
    "on": lambda on, _: {"on": bool(on)},
    "brightness": lambda pct, _: {"bri": percent_to_hue_bri(pct)},
    "color_temp_k": lambda k, mireds: {"ct": kelvin_to_mired(k, *mireds)},
    "color_xy": _xy,
}


def to_hue(change: LightState, transition_s: float | None = None, mireds: MiredRange = HUE_MIRED_RANGE) -> Body:
    """A (desired or change) light state -> the body of `PUT /lights/<id>/state` (or a group's `/action`).

    Only fields that are not None are sent. Switching off sends `on: false` alone: brightness and colour of an
    off light are refused by the bridge (error 201). `ct` is clamped to the light's `mireds` (see
    `light_mireds`). `transitiontime` goes only with something to fade.
    """
    fields = set_fields(change)
    if change.on is False:
        fields = {"on": False}
    if "color_xy" in fields:
        fields.pop("color_temp_k", None)
    body: Body = {}
    for name, convert in LIGHT_TO_HUE.items():
        value = fields.get(name)
        if value is not None:
            body.update(convert(value, mireds))
    if body and transition_s is not None:
        body["transitiontime"] = seconds_to_hue_transition(transition_s)
    return body


# ---- from-bridge: light object `state` key -> partial state ------------------------------------------------


def _on(raw: object) -> Partial:
    return {"on": raw} if isinstance(raw, bool) else {}


def _bri(raw: object) -> Partial:
    value = reported_number(raw, 0, HUE_BRI_MAX)
    return {} if value is None else {"brightness": hue_bri_to_percent(value)}


def _ct(raw: object) -> Partial:
    value = reported_number(raw, *REPORTED_MIRED_RANGE)
    return {} if value is None else {"color_temp_k": mired_to_kelvin(value)}


def _xy_from(raw: object) -> Partial:
    if not isinstance(raw, list | tuple) or len(raw) != 2:
        return {}
    x, y = reported_number(raw[0], 0, 1), reported_number(raw[1], 0, 1)
    return {} if x is None or y is None else {"color_xy": (x, y)}


LIGHT_FROM_HUE: dict[str, FromConverter] = {
    "on": _on,
    "bri": _bri,
    "ct": _ct,
    "xy": _xy_from,
}


def _apply_colormode(partial: Partial, colormode: object) -> Partial:
    """Keep only the colour field the light is in: in ct mode the bridge still reports a (derived) `xy`."""
    mode = colormode.strip().lower() if isinstance(colormode, str) else None
    if mode in _XY_MODES:
        partial.pop("color_temp_k", None)
    elif mode in _CT_MODES:
        partial.pop("color_xy", None)
    return partial


def from_hue(light: Mapping[str, Any]) -> tuple[LightState, bool]:
    """A v1 light object (`GET /lights/<id>` or one value of `GET /lights`) -> (reported state, reachable).

    Unreachable lights still report their last state; the caller marks them offline rather than trusting it.
    """
    state = light.get("state")
    if not isinstance(state, Mapping):
        return LightState(), False
    partial: Partial = {}
    for key, convert in LIGHT_FROM_HUE.items():
        if key in state:
            partial.update(convert(state[key]))
    partial = _apply_colormode(partial, state.get("colormode"))
    reachable = state.get("reachable", True)
    return LightState(**partial), reachable is True


# ---- capabilities, from what the light reports -------------------------------------------------------------


def light_mireds(light: Mapping[str, Any]) -> MiredRange:
    """The light's colour-temperature range from `capabilities.control.ct` (newer firmware), else 153-500."""
    caps = light.get("capabilities")
    control = caps.get("control") if isinstance(caps, Mapping) else None
    ct = control.get("ct") if isinstance(control, Mapping) else None
    if isinstance(ct, Mapping):
        lo, hi = (
            reported_number(ct.get("min"), *REPORTED_MIRED_RANGE),
            reported_number(ct.get("max"), *REPORTED_MIRED_RANGE),
        )
        if lo is not None and hi is not None and lo < hi:
            return int(lo), int(hi)
    return HUE_MIRED_RANGE


@dataclass(frozen=True, slots=True)
class HueCapabilities:
    """What a light can be told: its LightState fields and its mired range, computed once from its object."""

    fields: frozenset[str]
    mireds: MiredRange


def light_capabilities(light: Mapping[str, Any]) -> HueCapabilities:
    """From the light's `state` keys: a dimmable light has no `ct`/`xy`, a plug not even `bri`.

    Sending a field a light lacks gets error 6 (parameter not available) on every attempt, and its absence in
    every report would look like a difference for ever, so the caller narrows desired states with `supported`.
    """
    state = light.get("state")
    keys = set(state) if isinstance(state, Mapping) else set()
    caps = light.get("capabilities")
    control = caps.get("control") if isinstance(caps, Mapping) else None
    control = control if isinstance(control, Mapping) else {}
    fields = {"on"}
    if "bri" in keys:
        fields.add("brightness")
    if "ct" in keys or isinstance(control.get("ct"), Mapping):  # some firmware leaves `ct` out of the state
        fields.add("color_temp_k")
    if "xy" in keys or "colorgamut" in control:
        fields.add("color_xy")
    return HueCapabilities(frozenset(fields), light_mireds(light))


def device_capabilities(light: Mapping[str, Any]) -> DeviceCapabilities:
    """A light's capabilities as the venue core reads every device's (`devices.capabilities`)."""
    caps = light_capabilities(light)
    return DeviceCapabilities("hue", caps.fields, caps.mireds if "color_temp_k" in caps.fields else None)


def supported(state: LightState, caps: HueCapabilities | DeviceCapabilities) -> LightState:
    """`state` without the fields the light cannot take (a colour on a white-only bulb, say)."""
    if caps.fields is None:
        return state
    fields = caps.fields
    return LightState(**{name: value for name, value in set_fields(state).items() if name in fields})
