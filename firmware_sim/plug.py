"""A smart plug (an IKEA TRADFRI control outlet, E160x/E170x/E190x in firmware_sim/definitions.json) with a
diffuser behind it: `state` and Zigbee2MQTT's `on_time` (seconds; the plug switches itself off after them), and
nothing else. It reports `{"state": ...}`, also when its own timer switched it off."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, replace
from typing import Any, ClassVar

from firmware_sim.fields import FieldError, as_choice, as_number
from firmware_sim.firmware import Outcome

MAX_ON_TIME_S = 6553.5  # the cluster's on-time is a uint16 of tenths of a second


@dataclass(frozen=True, slots=True)
class PlugFirmware:
    KIND: ClassVar[str] = "scent"

    on: bool = False
    off_at: float | None = None  # when its on_time runs out

    def apply(self, command: Mapping[str, Any], now: float) -> Outcome[PlugFirmware]:
        accepted: list[str] = []
        rejected: list[FieldError] = []
        on, on_time = self.on, None
        for key, value in command.items():
            try:
                if key == "state":
                    word = as_choice(key, value, ("ON", "OFF", "TOGGLE"), upper=True)
                    on = (not self.on) if word == "TOGGLE" else word == "ON"
                elif key == "on_time":
                    on_time = as_number(key, value, 0.0, MAX_ON_TIME_S)
                else:
                    raise FieldError(key, f"No converter available for '{key}'")
            except FieldError as error:
                rejected.append(error)
                continue
            accepted.append(key)
        if not accepted:
            return Outcome(self, (), tuple(rejected))
        off_at = now + on_time if on and on_time is not None else None
        return Outcome(replace(self, on=on, off_at=off_at), tuple(accepted), tuple(rejected))

    def advance(self, now: float) -> PlugFirmware:
        if self.off_at is not None and now >= self.off_at:
            return replace(self, on=False, off_at=None)
        return self

    def report(self, now: float) -> dict[str, Any]:
        return {"state": "ON" if self.on else "OFF"}

    def wants_report(self, last: Mapping[str, Any], since_s: float) -> bool:
        """Its own timer switched it off: said at once, as a real plug reports its on/off attribute."""
        return last.get("state") != ("ON" if self.on else "OFF")
