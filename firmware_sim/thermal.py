"""A first-order room model for the simulated thermostat: pure functions, time passed in as `dt_s`.

The room approaches a target exponentially with time constant `tau_s`. Using the exact solution of the
first-order equation (not an Euler step) means no `dt_s` can overshoot the target, however coarse the ticker.

Targets, by mode: `off` drifts to ambient; `heat` holds at least the setpoint (`max(setpoint, ambient)`);
`cool` at most (`min(setpoint, ambient)`); `auto` goes to the setpoint either way.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Literal, TypeAlias

SystemMode: TypeAlias = Literal["off", "heat", "cool", "auto"]
RunningState: TypeAlias = Literal["idle", "heat", "cool"]

SYSTEM_MODES: tuple[SystemMode, ...] = ("off", "heat", "cool", "auto")
DEFAULT_AMBIENT_C = 18.0
DEFAULT_TAU_S = 120.0
DEADBAND_C = 0.1  # a TRV calls for heat only this far below its setpoint


@dataclass(frozen=True, slots=True)
class ThermalParams:
    """How the simulated room behaves; the defaults move visibly within a minute of a demo."""

    ambient_c: float = DEFAULT_AMBIENT_C
    tau_s: float = DEFAULT_TAU_S
    report_interval_s: float = 5.0

    def __post_init__(self) -> None:
        if self.tau_s <= 0:
            raise ValueError("tau_s must be > 0")
        if self.report_interval_s < 0:
            raise ValueError("report_interval_s must be >= 0")


def target_c(setpoint: float, mode: SystemMode, ambient: float) -> float:
    """Where the room is heading in this mode."""
    if mode == "heat":
        return max(setpoint, ambient)
    if mode == "cool":
        return min(setpoint, ambient)
    if mode == "auto":
        return setpoint
    return ambient


def step(
    temp: float,
    setpoint: float,
    mode: SystemMode,
    ambient: float = DEFAULT_AMBIENT_C,
    dt_s: float = 1.0,
    tau_s: float = DEFAULT_TAU_S,
) -> float:
    """The room temperature `dt_s` seconds later."""
    if dt_s <= 0:
        return temp
    goal = target_c(setpoint, mode, ambient)
    return goal + (temp - goal) * math.exp(-dt_s / tau_s)


def running_state(temp: float, setpoint: float, mode: SystemMode) -> RunningState:
    """What the valve/compressor is doing, as a real thermostat reports it."""
    if mode in ("heat", "auto") and temp < setpoint - DEADBAND_C:
        return "heat"
    if mode in ("cool", "auto") and temp > setpoint + DEADBAND_C:
        return "cool"
    return "idle"
