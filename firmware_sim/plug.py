"""A smart plug (an IKEA TRADFRI control outlet, E160x/E170x/E190x in firmware_sim/definitions.json) with a
diffuser behind it: `state` and Zigbee2MQTT's `on_time` (seconds; the plug switches itself off after them), and
nothing else. It reports `{"state": ...}`, also when its own timer switched it off."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, replace
from typing import Any, ClassVar

from firmware_sim.fields import as_choice, as_number
from firmware_sim.firmware import FieldParser, Outcome, apply_table

MAX_ON_TIME_S = 6553.5  # the cluster's on-time is a uint16 of tenths of a second

FIELDS: dict[str, tuple[str, FieldParser]] = {
    "state": ("state", lambda key, value: as_choice(key, value, ("ON", "OFF", "TOGGLE"), upper=True)),
    "on_time": ("on_time", lambda key, value: as_number(key, value, 0.0, MAX_ON_TIME_S)),
}


@dataclass(frozen=True, slots=True)
class PlugFirmware:
    KIND: ClassVar[str] = "scent"

    state: str = "OFF"
    on_time: float | None = None  # of the command being applied
    off_at: float | None = None  # when its on_time runs out

    @property
    def on(self) -> bool:
        return self.state == "ON"

    def apply(self, command: Mapping[str, Any], now: float) -> Outcome[PlugFirmware]:
        outcome = apply_table(replace(self, on_time=None), command, FIELDS)
        if not outcome.accepted:
            return Outcome(self, (), outcome.rejected)
        new = outcome.state
        if new.state == "TOGGLE":
            new = replace(new, state="OFF" if self.on else "ON")
        off_at = now + new.on_time if new.on and new.on_time is not None else None
        return Outcome(replace(new, on_time=None, off_at=off_at), outcome.accepted, outcome.rejected)

    def advance(self, now: float) -> PlugFirmware:
        if self.off_at is not None and now >= self.off_at:
            return replace(self, state="OFF", off_at=None)
        return self

    def report(self, now: float) -> dict[str, Any]:
        return {"state": self.state}

    def wants_report(self, last: Mapping[str, Any], since_s: float) -> bool:
        """Its own timer switched it off: said at once, as a real plug reports its on/off attribute."""
        return last.get("state") != self.state
