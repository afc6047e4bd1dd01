"""When each device may be sent its next command: a leading-edge window, and a longer interval for a device that
keeps dropping off and coming back. Pure; time (loop seconds) is an argument.

The window (DESIGN.md) lets the first change out at once and holds only what follows within it, so a single
check-in never waits. A device that flaps would still get its whole desired state on every return, once per
window, for as long as it flaps; so each return that follows the previous one within `flap_memory_s` doubles a
hold (from `flap_base_s` up to `flap_max_s`) before it is sent anything again. Held commands are never dropped:
the service re-plans the device from the latest desired state when its hold ends.
"""

from __future__ import annotations

from dataclasses import dataclass, field


@dataclass
class Pacer:
    window_s: float = 0.25
    flap_base_s: float = 1.0
    flap_max_s: float = 30.0
    flap_memory_s: float = 60.0
    next_ok: dict[str, float] = field(default_factory=dict)
    _returns: dict[str, tuple[float, int]] = field(default_factory=dict)  # last return, returns in a row

    def admit(self, device_id: str, now: float) -> float | None:
        """None if a command may go out now (and opens the window); else the time it may go out."""
        at = self.next_ok.get(device_id, 0.0)
        if now >= at:
            self.next_ok[device_id] = now + self.window_s
            return None
        return at

    def came_back(self, device_id: str, now: float) -> float:
        """The device is online again; returns how long it is held (0 unless it is flapping)."""
        last, streak = self._returns.get(device_id, (-float("inf"), 0))
        streak = streak + 1 if now - last < self.flap_memory_s else 0
        self._returns[device_id] = (now, streak)
        if streak == 0:
            return 0.0
        hold: float = min(self.flap_base_s * 2.0 ** (streak - 1), self.flap_max_s)
        self.next_ok[device_id] = max(self.next_ok.get(device_id, 0.0), now + hold)
        return hold

    def flapping(self, device_id: str) -> int:
        """How many returns in a row, each within `flap_memory_s` of the one before (0: not flapping)."""
        return self._returns.get(device_id, (0.0, 0))[1]
