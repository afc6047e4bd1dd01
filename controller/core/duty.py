"""A diffuser on a smart plug: a scent's `intensity` as a duty cycle of the plug. Pure; time is an argument.

Each `cycle_s` (counted from the Unix epoch, so a restart lands in the same phase) the plug is on for `intensity` %
of it, then off. An on-phase is sent with Zigbee2MQTT's `on_time` (the plug switches itself off after it) a little
longer than the phase, so the controller switches it off itself at the boundary, and a controller that has stopped
cannot leave the diffuser running (at 100 % it is simply on: there is no boundary to renew the timer at).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from devices.states import ScentState

__all__ = ["ON_TIME_MARGIN_S", "PlugPhase", "plug_phase", "plug_state"]

ON_TIME_MARGIN_S = 5.0
"""How much longer than its phase an on-command lets the plug stay on by itself."""


@dataclass(frozen=True, slots=True)
class PlugPhase:
    on: bool
    remaining_s: float  # until the phase ends


def plug_phase(intensity: float, cycle_s: float, now: datetime) -> PlugPhase:
    on_s = cycle_s * max(0.0, min(100.0, intensity)) / 100
    position = now.timestamp() % cycle_s
    if position < on_s:
        return PlugPhase(True, on_s - position)
    return PlugPhase(False, cycle_s - position)


def plug_state(desired: ScentState, cycle_s: float, now: datetime) -> tuple[ScentState, float | None]:
    """What the plug should be now for a wanted scent, and the `on_time` to send with an on-command."""
    if desired.on is False or not desired.intensity:
        return ScentState(on=False), None
    if desired.intensity >= 100:
        return ScentState(on=True), None  # always on: no phase ends, so no on_time to renew
    phase = plug_phase(desired.intensity, cycle_s, now)
    if not phase.on:
        return ScentState(on=False), None
    return ScentState(on=True), round(phase.remaining_s + ON_TIME_MARGIN_S)
