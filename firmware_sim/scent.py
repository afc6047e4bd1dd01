"""A scent diffuser behind an MQTT bridge: on/off, intensity 0-100 %, scent name."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, replace
from typing import Any, ClassVar

from firmware_sim.fields import as_choice, as_int, as_name
from firmware_sim.firmware import FieldParser, Outcome, apply_table

FIELDS: dict[str, tuple[str, FieldParser]] = {
    "state": ("state", lambda key, value: as_choice(key, value, ("ON", "OFF", "TOGGLE"), upper=True)),
    "intensity": ("intensity", lambda key, value: as_int(key, value, 0, 100)),
    "scent": ("scent", as_name),
}


@dataclass(frozen=True, slots=True)
class ScentFirmware:
    KIND: ClassVar[str] = "scent"

    state: str = "OFF"
    intensity: int = 0
    scent: str = ""

    def apply(self, command: Mapping[str, Any], now: float) -> Outcome[ScentFirmware]:
        """TOGGLE, like a light's, flips the state it finds."""
        outcome = apply_table(self, command, FIELDS)
        if outcome.state.state == "TOGGLE":
            flipped = "OFF" if self.state == "ON" else "ON"
            return Outcome(replace(outcome.state, state=flipped), outcome.accepted, outcome.rejected)
        return outcome

    def advance(self, now: float) -> ScentFirmware:
        return self

    def report(self, now: float) -> dict[str, Any]:
        return {"state": self.state, "intensity": self.intensity, "scent": self.scent}

    def wants_report(self, last: Mapping[str, Any], since_s: float) -> bool:
        return False
