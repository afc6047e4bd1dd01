"""A radiator-valve-style thermostat: setpoint and mode in, room temperature and valve state out.

The room follows `thermal.step`; `advance(now)` moves it on from the last time it was computed, so a command
always lands on an up-to-date room. It reports on its own when the room moved by a visible 0.1 C, at most once
per `report_interval_s`, like a TRV that does not flood the network.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field, replace
from typing import Any, ClassVar, cast

from firmware_sim.fields import FieldError, as_choice, as_number
from firmware_sim.firmware import Outcome
from firmware_sim.thermal import SYSTEM_MODES, SystemMode, ThermalParams, running_state, step

SETPOINT_MIN_C = 5.0
SETPOINT_MAX_C = 35.0
SETPOINT_STEP_C = 0.5
REPORT_DELTA_C = 0.1


def parse_setpoint(
    key: str, value: Any, lo: float = SETPOINT_MIN_C, hi: float = SETPOINT_MAX_C, step: float = SETPOINT_STEP_C
) -> float:
    """Real TRVs take steps (0.5 or 1 C): round first, then refuse what is outside the valve's range."""
    number = round(as_number(key, value) / step) * step
    if not lo <= number <= hi:
        raise FieldError(key, f"{value!r} is outside {lo:g}-{hi:g}")
    return number


@dataclass(frozen=True, slots=True)
class ThermostatFirmware:
    """Setpoint, mode and the room's unrounded temperature as of `updated_at` (None: not yet running)."""

    KIND: ClassVar[str] = "thermostat"

    setpoint: float = 20.0
    mode: SystemMode = "heat"
    local: float = 19.0
    params: ThermalParams = field(default_factory=ThermalParams)
    updated_at: float | None = None
    # What the valve's definition says (firmware_sim/definitions.py); the defaults are a generic TRV's.
    setpoint_key: str = "occupied_heating_setpoint"
    setpoint_range: tuple[float, float] = (SETPOINT_MIN_C, SETPOINT_MAX_C)
    setpoint_step: float = SETPOINT_STEP_C
    modes: tuple[str, ...] = SYSTEM_MODES
    stops_at_first_error: bool = False

    def advance(self, now: float) -> ThermostatFirmware:
        if self.updated_at is None:
            return replace(self, updated_at=now)
        dt = now - self.updated_at
        if dt <= 0:
            return self
        temp = step(self.local, self.setpoint, self.mode, self.params.ambient_c, dt, self.params.tau_s)
        return replace(self, local=temp, updated_at=now)

    def apply(self, command: Mapping[str, Any], now: float) -> Outcome[ThermostatFirmware]:
        current = self.advance(now)
        updates: dict[str, Any] = {}
        accepted: list[str] = []
        rejected: list[FieldError] = []
        for key, value in command.items():
            try:
                if key == self.setpoint_key:
                    updates["setpoint"] = parse_setpoint(key, value, *self.setpoint_range, self.setpoint_step)
                elif key == "system_mode":
                    updates["mode"] = cast(SystemMode, as_choice(key, value, self.modes, upper=False))
                else:
                    raise FieldError(key, f"No converter available for '{key}'")
            except FieldError as error:
                rejected.append(error)
                if self.stops_at_first_error:
                    break  # a Tuya datapoint converter gives up here: the rest of the message is lost
                continue
            accepted.append(key)
        return Outcome(replace(current, **updates), tuple(accepted), tuple(rejected))

    def report(self, now: float) -> dict[str, Any]:
        temp = self.advance(now).local
        return {
            self.setpoint_key: self.setpoint,
            "system_mode": self.mode,
            "local_temperature": round(temp, 1),
            "running_state": running_state(temp, self.setpoint, self.mode),
        }

    def wants_report(self, last: Mapping[str, Any], since_s: float) -> bool:
        if since_s < self.params.report_interval_s:
            return False
        reported = last.get("local_temperature")
        if not isinstance(reported, int | float):
            return True
        return abs(round(self.local, 1) - reported) >= REPORT_DELTA_C - 1e-9
