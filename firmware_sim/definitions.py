"""Real Zigbee2MQTT device definitions, as the simulator's models of real hardware.

`definitions.json` holds the light, climate and switch exposes of a few common devices exactly as
zigbee-herdsman-converters 26.112.0 defines them (written by scripts/z2m_definitions.mjs; a test checks it against
the installed converters). A simulated device with a `model` takes what its definition exposes and nothing else:
a key it lacks is refused as Zigbee2MQTT refuses it ("No converter available"), a number is checked against the
definition's range and step. This module reads the exposes on its own, without the controller's code, so a
mistake in how the controller reads them cannot cancel out against the same mistake here.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Mapping
from dataclasses import dataclass
from functools import cache
from pathlib import Path
from typing import Any

__all__ = [
    "LightModel",
    "ValveModel",
    "bridge_entry",
    "definition",
    "is_switch",
    "light_model",
    "models",
    "valve_model",
]

_SETTABLE = 0b010

# Tuya's datapoint converters handle a message key by key and give up at the first key they have no datapoint
# for, so what follows it in the same message is lost too (what issue 14 measured on two of its valves).
_STOPS_AT_FIRST_ERROR = frozenset({"Tuya"})


@cache
def _all() -> dict[str, Any]:
    loaded: dict[str, Any] = json.loads((Path(__file__).with_name("definitions.json")).read_text())
    return loaded


def models() -> tuple[str, ...]:
    return tuple(sorted(_all()))


def definition(model: str) -> Mapping[str, Any]:
    """Raises KeyError for a model the simulator does not have."""
    found: Mapping[str, Any] = _all()[model]
    return found


def _features(model: str, type_: str) -> list[Mapping[str, Any]]:
    for expose in definition(model)["exposes"]:
        if expose.get("type") == type_:
            return [f for f in expose.get("features", []) if int(f.get("access", 0)) & _SETTABLE]
    return []


@dataclass(frozen=True, slots=True)
class LightModel:
    keys: frozenset[str]  # the /set keys it has a converter for
    mired_range: tuple[int, int] | None


def light_model(model: str) -> LightModel | None:
    """None when the definition is not a light."""
    features = _features(model, "light")
    if not features:
        return None
    keys = {"transition"}
    mireds = None
    for feature in features:
        prop = feature.get("property")
        if prop in ("state", "brightness", "color"):
            keys.add(prop)
        elif prop == "color_temp":
            keys.add(prop)
            mireds = (int(feature["value_min"]), int(feature["value_max"]))
    return LightModel(frozenset(keys), mireds)


@dataclass(frozen=True, slots=True)
class ValveModel:
    setpoint_key: str
    setpoint_min: float
    setpoint_max: float
    setpoint_step: float
    modes: tuple[str, ...]
    stops_at_first_error: bool


def valve_model(model: str) -> ValveModel | None:
    """None when the definition is not a thermostat."""
    features = {f.get("property"): f for f in _features(model, "climate")}
    key = next((k for k in ("occupied_heating_setpoint", "current_heating_setpoint") if k in features), None)
    if key is None:
        return None
    setpoint = features[key]
    modes = tuple(features.get("system_mode", {}).get("values", ()))
    return ValveModel(
        key,
        float(setpoint["value_min"]),
        float(setpoint["value_max"]),
        float(setpoint.get("value_step", 0.5)),
        modes,
        definition(model)["vendor"] in _STOPS_AT_FIRST_ERROR,
    )


def is_switch(model: str) -> bool:
    """A plug or relay: its definition switches `state` and nothing more."""
    return any(f.get("property") == "state" for f in _features(model, "switch"))


def bridge_entry(friendly_name: str, model: str | None) -> dict[str, Any]:
    """One device of `bridge/devices` as Zigbee2MQTT publishes it (the fields a consumer reads)."""
    ieee = "0x" + hashlib.sha256(friendly_name.encode()).hexdigest()[:16]
    entry: dict[str, Any] = {
        "ieee_address": ieee,
        "friendly_name": friendly_name,
        "type": "EndDevice",
        "interview_completed": True,
        "supported": model is not None,
        "definition": None,
    }
    if model is not None:
        found = definition(model)
        entry["definition"] = {
            "model": model,
            "vendor": found["vendor"],
            "description": found["description"],
            "exposes": found["exposes"],
        }
    return entry
