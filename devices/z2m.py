"""The Zigbee2MQTT dialect (docs/contract.md §4): capability states to `/set` payloads and state payloads back.

Converters are tables both ways, as in zigbee-herdsman-converters: the to-device tables are keyed by state
field and return payload fragments; the from-device tables are keyed by payload key and return partial
states. The from side is tolerant on purpose: real devices publish many more fields than we know
(`linkquality`, `update`, `battery`, ...) and sometimes nonsense, so unknown keys are skipped and a known key
with a wrong type or an out-of-range value is left out (None), never raised. No I/O here: bytes in, values
out.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Mapping
from typing import Any, TypeAlias

from devices.capabilities import OCCUPIED_SETPOINT
from devices.states import (
    STATE_OF_KIND,
    AudioState,
    ClimateState,
    DeviceState,
    LightState,
    ScentState,
    set_fields,
)
from devices.units import (
    Z2M_BRIGHTNESS_MAX,
    Z2M_MIRED_MAX,
    Z2M_MIRED_MIN,
    MiredRange,
    encodable,
    kelvin_to_mired,
    mired_to_kelvin,
    percent_to_z2m,
    reported_number,
    z2m_to_percent,
)

Payload: TypeAlias = dict[str, object]
Partial: TypeAlias = dict[str, Any]  # state field -> value, fed to the state's constructor

ToConverter: TypeAlias = Callable[[Any, MiredRange], Payload]
FromConverter: TypeAlias = Callable[[object], Partial]

# What we believe a device may plausibly report; anything outside is a glitch and is ignored.
REPORTED_MIRED_RANGE = (50, 1000)  # 1000-20000 K: wider than any real bulb, narrower than garbage (0, 65535)
REPORTED_SETPOINT_RANGE_C = (0.0, 50.0)
REPORTED_LOCAL_TEMP_RANGE_C = (-40.0, 80.0)

# Zigbee2MQTT's `color_mode` values and which of our two colour fields each one means.
_XY_MODES = frozenset({"xy", "hs"})
_CT_MODES = frozenset({"color_temp"})


# ---- from-device value checks: a valid value or None -------------------------------------------------------


def _word(raw: object, allowed: frozenset[str]) -> str | None:
    """A case- and whitespace-insensitive keyword, lower-cased, if it is one of `allowed`."""
    if not isinstance(raw, str):
        return None
    word = raw.strip().lower()
    return word if word in allowed else None


def _name(raw: object) -> str | None:
    """A non-blank name (playlist, scent) of at most 200 characters that is valid Unicode (JSON can spell a lone
    surrogate, which no store can hold)."""
    if not isinstance(raw, str) or not raw.strip() or len(raw) > 200 or not encodable(raw):
        return None
    return raw


def _only(field: str, value: object) -> Partial:
    """A partial state of one field, or nothing when the value was rejected."""
    return {} if value is None else {field: value}


# ---- from-device converters: payload value -> partial state ------------------------------------------------


def _on_off(raw: object) -> Partial:
    word = _word(raw, frozenset({"on", "off"}))
    return _only("on", None if word is None else word == "on")


def _brightness(raw: object) -> Partial:
    value = reported_number(raw, 0, Z2M_BRIGHTNESS_MAX)
    return _only("brightness", None if value is None else z2m_to_percent(value))


def _color_temp(raw: object) -> Partial:
    value = reported_number(raw, *REPORTED_MIRED_RANGE)
    return _only("color_temp_k", None if value is None else mired_to_kelvin(value))


def _color(raw: object) -> Partial:
    """`{"x":..,"y":..}` (extra keys such as hue/saturation ignored) -> color_xy."""
    if not isinstance(raw, Mapping):
        return {}
    x, y = reported_number(raw.get("x"), 0, 1), reported_number(raw.get("y"), 0, 1)
    return {} if x is None or y is None else {"color_xy": (x, y)}


def _percent_int(field: str) -> FromConverter:
    def convert(raw: object) -> Partial:
        value = reported_number(raw, 0, 100)
        return _only(field, None if value is None else round(value))

    return convert


def _celsius(field: str, lo: float, hi: float) -> FromConverter:
    def convert(raw: object) -> Partial:
        return _only(field, reported_number(raw, lo, hi))

    return convert


LIGHT_FROM_Z2M: dict[str, FromConverter] = {
    "state": _on_off,
    "brightness": _brightness,
    "color_temp": _color_temp,
    "color": _color,
}

# Order matters: later entries overwrite earlier ones, so the standard `occupied_heating_setpoint` wins over
# the `current_heating_setpoint` that many TRVs use instead.
CLIMATE_FROM_Z2M: dict[str, FromConverter] = {
    "local_temperature": _celsius("local_temp_c", *REPORTED_LOCAL_TEMP_RANGE_C),
    "current_heating_setpoint": _celsius("target_c", *REPORTED_SETPOINT_RANGE_C),
    "occupied_heating_setpoint": _celsius("target_c", *REPORTED_SETPOINT_RANGE_C),
    "system_mode": lambda raw: _only("mode", _word(raw, frozenset({"off", "heat", "cool", "auto"}))),
}

AUDIO_FROM_Z2M: dict[str, FromConverter] = {
    "state": lambda raw: _only("state", _word(raw, frozenset({"play", "pause", "stop"}))),
    "volume": _percent_int("volume"),
    "playlist": lambda raw: _only("playlist", _name(raw)),
}

SCENT_FROM_Z2M: dict[str, FromConverter] = {
    "state": _on_off,
    "intensity": _percent_int("intensity"),
    "scent": lambda raw: _only("name", _name(raw)),
}

FROM_Z2M: dict[str, dict[str, FromConverter]] = {
    "light": LIGHT_FROM_Z2M,
    "thermostat": CLIMATE_FROM_Z2M,
    "speaker": AUDIO_FROM_Z2M,
    "scent": SCENT_FROM_Z2M,
}


def _apply_color_mode(partial: Partial, color_mode: object) -> Partial:
    """Keep only the colour field the light says it is in: in xy mode it still reports a stale color_temp."""
    mode = color_mode.strip().lower() if isinstance(color_mode, str) else None
    if mode in _XY_MODES:
        partial.pop("color_temp_k", None)
    elif mode in _CT_MODES:
        partial.pop("color_xy", None)
    return partial


def from_z2m(kind: str, payload: Mapping[str, object], *, setpoint_key: str = OCCUPIED_SETPOINT) -> DeviceState:
    """A device's state payload -> its capability state; what is unknown or invalid stays None.

    `setpoint_key`: the setpoint a valve is commanded with (its definition's): read last, so it wins over the other
    when a valve reports both. Raises ValueError only for an unknown `kind` (a config error, not a device's).
    """
    table = FROM_Z2M.get(kind)
    if table is None:
        raise ValueError(f"unknown device kind: {kind!r}")
    partial: Partial = {}
    for key, convert in table.items():
        if key in payload and key != setpoint_key:
            partial.update(convert(payload[key]))
    if setpoint_key in payload and setpoint_key in table:
        partial.update(table[setpoint_key](payload[setpoint_key]))
    if kind == "light":
        partial = _apply_color_mode(partial, payload.get("color_mode"))
    return STATE_OF_KIND[kind](**partial)


# ---- to-device converters: state field -> payload fragment -------------------------------------------------


def _state_on_off(on: bool, _: MiredRange) -> Payload:
    return {"state": "ON" if on else "OFF"}


LIGHT_TO_Z2M: dict[str, ToConverter] = {
    "on": _state_on_off,
    "brightness": lambda pct, _: {"brightness": percent_to_z2m(pct)},
    "color_temp_k": lambda k, mireds: {"color_temp": kelvin_to_mired(k, *mireds)},
    "color_xy": lambda xy, _: {"color": {"x": round(xy[0], 4), "y": round(xy[1], 4)}},
}

# local_temp_c is absent on purpose: it is the room's temperature, reported, never commanded.
CLIMATE_TO_Z2M: dict[str, ToConverter] = {
    "target_c": lambda c, _: {OCCUPIED_SETPOINT: c},  # or the device's own key: see `to_z2m`
    "mode": lambda mode, _: {"system_mode": mode},
}

AUDIO_TO_Z2M: dict[str, ToConverter] = {
    "state": lambda state, _: {"state": state.upper()},
    "volume": lambda pct, _: {"volume": round(pct)},
    "playlist": lambda name, _: {"playlist": name},
}

SCENT_TO_Z2M: dict[str, ToConverter] = {
    "on": _state_on_off,
    "intensity": lambda pct, _: {"intensity": round(pct)},
    "name": lambda name, _: {"scent": name},
}

TO_Z2M: dict[type[DeviceState], dict[str, ToConverter]] = {
    LightState: LIGHT_TO_Z2M,
    ClimateState: CLIMATE_TO_Z2M,
    AudioState: AUDIO_TO_Z2M,
    ScentState: SCENT_TO_Z2M,
}


def to_z2m(
    state: DeviceState,
    *,
    transition_s: float | None = None,
    mired_range: MiredRange = (Z2M_MIRED_MIN, Z2M_MIRED_MAX),
    setpoint_key: str = OCCUPIED_SETPOINT,
) -> Payload:
    """A (desired or change) state -> the `/set` payload, with only the fields that are not None.

    A light switched off gets `state: OFF` alone: its brightness and colour don't matter and sending them
    would turn some lights back on. `transition` is sent for lights only, and only with something to fade.
    """
    table = TO_Z2M[type(state)]
    fields = set_fields(state)
    if isinstance(state, LightState) and state.on is False:
        fields = {"on": False}
    payload: Payload = {}
    for name, convert in table.items():
        value = fields.get(name)
        if value is not None:
            payload.update(convert(value, mired_range))
    if setpoint_key != OCCUPIED_SETPOINT and OCCUPIED_SETPOINT in payload:
        payload[setpoint_key] = payload.pop(OCCUPIED_SETPOINT)  # most Tuya valves: current_heating_setpoint
    if payload and transition_s is not None and isinstance(state, LightState):
        payload["transition"] = max(0.0, transition_s)
    return payload


# ---- raw MQTT payloads -------------------------------------------------------------------------------------


def _reject_constant(name: str) -> object:
    """NaN and Infinity are not JSON; Python's decoder accepts them unless told otherwise."""
    raise ValueError(f"not JSON: {name}")


def decode_json_object(payload: bytes) -> dict[str, object] | None:
    """A JSON object, or None for anything else (invalid UTF-8 or JSON, NaN, an array, a bare value)."""
    try:
        value = json.loads(payload.decode("utf-8"), parse_constant=_reject_constant)
    except (UnicodeDecodeError, ValueError, RecursionError):
        return None
    return value if isinstance(value, dict) else None


_AVAILABILITY = {"online": True, "offline": False}


def parse_availability(payload: bytes) -> bool | None:
    """`{"state":"online"|"offline"}` or plain `online` / `offline` -> True / False; else None."""
    obj = decode_json_object(payload)
    if obj is not None:
        raw = obj.get("state")
    else:
        try:
            raw = payload.decode("utf-8")
        except UnicodeDecodeError:
            return None
    return _AVAILABILITY.get(raw.strip().lower()) if isinstance(raw, str) else None
