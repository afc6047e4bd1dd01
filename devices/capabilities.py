"""What a device can really take, learned from the device's own description, and the wanted state adapted to it.

Real devices differ from our contract (docs/contract.md §7): a Tuya radiator valve takes `current_heating_setpoint`
in 0.5 °C steps up to 30 °C and the modes `[off, heat]`; an IKEA white-spectrum bulb has no colour and 250-454
mireds; some bulbs have no colour temperature at all. A command a device cannot take never matches its report and
is sent again for ever, so the planner asks each device only for what it has (`adapt`).

Capabilities come from Zigbee2MQTT's `bridge/devices` (`from_exposes`, reading a definition's `exposes` the way
Zigbee2MQTT's own frontend does), from a Hue light's `capabilities` and state keys (`devices.hue`), and from the
venue's config, which may narrow them (`narrowed`). A device nobody described keeps today's defaults (`UNKNOWN`:
every field, 153-500 mireds). Pure: no I/O.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, replace
from typing import Any, cast

from devices.states import ClimateMode, ClimateState, DeviceState, LightState
from devices.units import DEFAULT_MIRED_RANGE, MiredRange, kelvin_to_mired, mired_to_kelvin
from profiles.venue import DeviceConfig

__all__ = [
    "OCCUPIED_SETPOINT",
    "UNKNOWN",
    "DeviceCapabilities",
    "adapt",
    "from_exposes",
    "narrowed",
    "of_device",
    "xy_to_kelvin",
]

OCCUPIED_SETPOINT = "occupied_heating_setpoint"
CURRENT_SETPOINT = "current_heating_setpoint"
_SETPOINT_KEYS = (OCCUPIED_SETPOINT, CURRENT_SETPOINT)
_WRITABLE = 0b010  # Zigbee2MQTT's `access` bit: the property can be set


@dataclass(frozen=True, slots=True)
class DeviceCapabilities:
    """`fields`: the state fields the device takes (None: not known, so every field). Ranges in human units."""

    source: str
    fields: frozenset[str] | None = None
    mireds: MiredRange | None = None
    setpoint_key: str = OCCUPIED_SETPOINT
    setpoint_range: tuple[float, float] | None = None
    setpoint_step: float | None = None
    modes: tuple[str, ...] | None = None

    def takes(self, name: str) -> bool:
        return self.fields is None or name in self.fields

    def describe(self) -> dict[str, Any]:
        """For people (`/api/v1/devices`, `ambience devices`): what is known, and where it came from."""
        out: dict[str, Any] = {"source": self.source}
        if self.fields is not None:
            out["fields"] = sorted(self.fields)
        if self.mireds is not None:
            out["color_temp_k"] = [mired_to_kelvin(self.mireds[1]), mired_to_kelvin(self.mireds[0])]
        if self.setpoint_range is not None:
            out["setpoint"] = {"key": self.setpoint_key, "min": self.setpoint_range[0], "max": self.setpoint_range[1]}
            if self.setpoint_step is not None:
                out["setpoint"]["step"] = self.setpoint_step
        if self.modes is not None:
            out["modes"] = list(self.modes)
        return out


UNKNOWN = DeviceCapabilities("default")


# ---- Zigbee2MQTT exposes -----------------------------------------------------------------------------------


def _features(exposes: Iterable[Any], type_: str) -> list[Mapping[str, Any]]:
    """The features of the first expose of `type_` ("light", "climate"); [] if the definition has none."""
    for expose in exposes:
        if isinstance(expose, Mapping) and expose.get("type") == type_:
            features = expose.get("features")
            return [f for f in features if isinstance(f, Mapping)] if isinstance(features, list) else []
    return []


def _writable(feature: Mapping[str, Any]) -> bool:
    access = feature.get("access")
    return isinstance(access, int) and bool(access & _WRITABLE)


def _number(value: object) -> float | None:
    if isinstance(value, bool) or not isinstance(value, int | float) or not math.isfinite(value):
        return None
    return float(value)


def from_exposes(kind: str, exposes: object) -> DeviceCapabilities | None:
    """A device's capabilities from its definition's `exposes`; None when they say nothing about this kind (a
    speaker or a diffuser: no Zigbee definition describes one)."""
    if not isinstance(exposes, list):
        return None
    if kind == "light":
        if (light := _light(_features(exposes, "light"))) is not None:
            return light
        # A lamp on a smart plug (a `switch`): on and off, nothing else, or brightness would be re-sent for ever.
        switch = [f for f in _features(exposes, "switch") if f.get("property") == "state" and _writable(f)]
        return DeviceCapabilities("bridge/devices", frozenset({"on"})) if switch else None
    if kind == "thermostat":
        return _climate(_features(exposes, "climate"))
    return None


def _light(features: list[Mapping[str, Any]]) -> DeviceCapabilities | None:
    if not features:
        return None
    fields: set[str] = set()
    mireds: MiredRange | None = None
    for feature in features:
        if not _writable(feature):
            continue
        name, prop = feature.get("name"), feature.get("property")
        if name == "state":
            fields.add("on")
        elif name == "brightness":
            fields.add("brightness")
        elif name == "color_temp":
            fields.add("color_temp_k")
            lo, hi = _number(feature.get("value_min")), _number(feature.get("value_max"))
            if lo is not None and hi is not None and 0 < lo < hi:
                mireds = (int(lo), int(hi))
        elif name in ("color_xy", "color_hs") and prop == "color":
            fields.add("color_xy")  # we send xy; a light with either colour feature takes it
    return DeviceCapabilities("bridge/devices", frozenset(fields), mireds)


def _climate(features: list[Mapping[str, Any]]) -> DeviceCapabilities | None:
    if not features:
        return None
    fields: set[str] = set()
    caps: dict[str, Any] = {}
    for feature in features:
        if not _writable(feature):
            continue
        prop = feature.get("property")
        if prop in _SETPOINT_KEYS and (prop == OCCUPIED_SETPOINT or "target_c" not in fields):
            fields.add("target_c")
            caps["setpoint_key"] = prop
            lo, hi = _number(feature.get("value_min")), _number(feature.get("value_max"))
            caps["setpoint_range"] = (lo, hi) if lo is not None and hi is not None and lo < hi else None
            step = _number(feature.get("value_step"))
            caps["setpoint_step"] = step if step is not None and step > 0 else None
        elif prop == "system_mode":
            values = feature.get("values")
            modes = tuple(v for v in values if isinstance(v, str)) if isinstance(values, list) else ()
            if modes:
                fields.add("mode")
                caps["modes"] = modes
    return DeviceCapabilities("bridge/devices", frozenset(fields), **caps)


def of_device(device: DeviceConfig, learned: Mapping[str, DeviceCapabilities]) -> DeviceCapabilities:
    """What the device's driver learned (or the defaults), narrowed by the venue's config."""
    return narrowed(learned.get(device.id, UNKNOWN), device.color_temp_range)


def narrowed(caps: DeviceCapabilities, color_temp_range: MiredRange | None) -> DeviceCapabilities:
    """The venue config's colour-temperature range narrows what the device says (never widens it)."""
    if color_temp_range is None:
        return caps
    if caps.mireds is None:
        return replace(caps, mireds=color_temp_range)
    lo, hi = max(caps.mireds[0], color_temp_range[0]), min(caps.mireds[1], color_temp_range[1])
    return replace(caps, mireds=(lo, hi) if lo < hi else caps.mireds)


# ---- adapting a wanted state -------------------------------------------------------------------------------

# When a device lacks the wanted mode: the nearest it has, in this order (docs/contract.md §7: auto -> heat on a
# heat-only valve). `off` is never chosen for a mode that heats or cools: then the mode is left alone.
_NEAREST_MODES: dict[str, tuple[str, ...]] = {
    "auto": ("heat", "cool"),
    "heat": ("auto",),
    "cool": ("auto",),
    "off": (),
}


def xy_to_kelvin(xy: tuple[float, float]) -> int:
    """The correlated colour temperature of a chromaticity (McCamy's cubic), bounded to 1000-20000 K: the white a
    white-only bulb shows for a wanted colour."""
    x, y = xy
    if y <= 0.1858 - 1e-9:
        return 20000
    n = (x - 0.3320) / (0.1858 - y)
    cct = 449 * n**3 + 3525 * n**2 + 6823.3 * n + 5520.33
    return int(min(20000, max(1000, round(cct))))


def _clamp_kelvin(kelvin: int, mireds: MiredRange) -> int:
    return mired_to_kelvin(kelvin_to_mired(kelvin, *mireds))


def adapt(desired: DeviceState, caps: DeviceCapabilities) -> tuple[DeviceState, tuple[str, ...]]:
    """`desired` as this device can take it, and a note for each change made (empty: taken as it is)."""
    if isinstance(desired, LightState):
        return _adapt_light(desired, caps)
    if isinstance(desired, ClimateState):
        return _adapt_climate(desired, caps)
    return desired, ()


def _adapt_light(want: LightState, caps: DeviceCapabilities) -> tuple[LightState, tuple[str, ...]]:
    notes: list[str] = []
    kelvin, xy, brightness = want.color_temp_k, want.color_xy, want.brightness
    if xy is not None and not caps.takes("color_xy"):
        xy = None
        if caps.takes("color_temp_k"):
            kelvin = _clamp_kelvin(xy_to_kelvin(want.color_xy or (0.0, 0.0)), caps.mireds or DEFAULT_MIRED_RANGE)
            notes.append(f"color: no colour, the nearest white it has ({kelvin} K) instead")
        else:
            notes.append("color: no colour, brightness only")
    if kelvin is not None and not caps.takes("color_temp_k"):
        notes.append(f"color_temp_k: no colour temperature, {kelvin} K left out")
        kelvin = None
    if kelvin is not None:
        lo, hi = caps.mireds or DEFAULT_MIRED_RANGE
        if not lo <= round(1e6 / kelvin) <= hi:
            clamped = _clamp_kelvin(kelvin, (lo, hi))
            notes.append(f"color_temp_k: {kelvin} K is outside the light's range, {clamped} K instead")
            kelvin = clamped
    if brightness is not None and not caps.takes("brightness"):
        notes.append("brightness: not dimmable, left out")
        brightness = None
    if not notes:
        return want, ()
    return LightState(on=want.on, brightness=brightness, color_temp_k=kelvin, color_xy=xy), tuple(notes)


def _adapt_climate(want: ClimateState, caps: DeviceCapabilities) -> tuple[ClimateState, tuple[str, ...]]:
    notes: list[str] = []
    target, mode = want.target_c, want.mode
    if target is not None:
        if not caps.takes("target_c"):
            notes.append("target_c: no setpoint, left out")
            target = None
        else:
            adapted = target
            if caps.setpoint_step is not None:
                adapted = round(round(adapted / caps.setpoint_step) * caps.setpoint_step, 2)
            if caps.setpoint_range is not None:
                adapted = min(caps.setpoint_range[1], max(caps.setpoint_range[0], adapted))
            if adapted != target:
                notes.append(f"target_c: {target:g} °C becomes {adapted:g} °C (the valve's step and range)")
                target = adapted
    if mode is not None and caps.modes is not None and mode not in caps.modes:
        nearest = next((m for m in _NEAREST_MODES.get(mode, ()) if m in caps.modes), None)
        if nearest is None:
            notes.append(f"mode: {mode} is not one of {', '.join(caps.modes)}, left out")
            mode = None
        else:
            notes.append(f"mode: {mode} becomes {nearest} (the device has {', '.join(caps.modes)})")
            mode = cast(ClimateMode, nearest)
    elif mode is not None and not caps.takes("mode"):
        notes.append("mode: no modes, left out")
        mode = None
    if not notes:
        return want, ()
    return ClimateState(target_c=target, mode=mode, local_temp_c=want.local_temp_c), tuple(notes)
