"""The dispatcher: when planned commands go out, and when the venue is planned again.

- Ticks: the reconciler runs when woken (an input changed something) and at least once every `tick_s`, and then
  plans every device: a venue whose devices chatter all the time must still retry what a silent one never
  confirmed.
- Settle gate: just after a broker (re)connect the devices' retained states are still arriving; MQTT commands
  wait `settle_s`, then every device is planned from what they said. Nothing is queued for a driver that is not
  ready (the next connect plans again).
- Coalescing window and flap hold (`controller.core.pacing.Pacer`): the first command to a device goes out at
  once, what follows within the window is held, and a device that keeps coming back is held longer. A held
  device is planned again, from the latest desired state, when its hold ends (a wake timer).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Callable, Sequence

from controller.core.messages import Tick
from controller.core.pacing import Pacer
from controller.shell.stats import Stats
from devices.driver import Command, Driver, Sent
from profiles.venue import DeviceConfig

__all__ = ["Dispatcher"]

log = logging.getLogger(__name__)


class Dispatcher:
    def __init__(
        self,
        drivers: Sequence[Driver],
        devices: Sequence[DeviceConfig],
        stats: Stats,
        *,
        tick_s: float = 1.0,
        settle_s: float = 0.3,
        coalesce_window_s: float = 0.25,
        flap_max_s: float = 30.0,
    ) -> None:
        self._driver_of: dict[str, Driver] = {}
        for device in devices:
            for driver in drivers:
                if driver.owns(device):
                    self._driver_of[device.id] = driver
                    break
        self.stats = stats
        self.tick_s = tick_s
        self.settle_s = settle_s
        self.pacer = Pacer(coalesce_window_s, flap_max_s=flap_max_s)
        self._settling: dict[str, float] = {}  # driver name -> loop time its devices' retained states are in
        self._wake = asyncio.Event()
        self._timer: asyncio.TimerHandle | None = None
        self._plan_all = True
        self._held: set[str] = set()
        self._next_full = 0.0

    # -- what the service tells it -----------------------------------------------------------------------------------

    def wake(self) -> None:
        self._wake.set()

    def connected(self, driver: str) -> None:
        self._settling[driver] = asyncio.get_running_loop().time() + self.settle_s
        self._wake.set()

    def disconnected(self, driver: str) -> None:
        self._settling.pop(driver, None)

    def came_back(self, device_id: str) -> None:
        hold = self.pacer.came_back(device_id, asyncio.get_running_loop().time())
        if hold > 0:
            self.stats.flap_holds += 1
            log.info(
                "device %s: back again (%d returns in a row), next command in %.0f s",
                device_id,
                self.pacer.flapping(device_id),
                hold,
            )

    # -- the reconciler ----------------------------------------------------------------------------------------------

    async def run(self, reconcile: Callable[[Tick], None]) -> None:
        """Call `reconcile` when woken and at least every `tick_s`, until cancelled."""
        loop = asyncio.get_running_loop()
        while True:
            # asyncio.timeout, not wait_for: on 3.11 wait_for loses a cancel that arrives as the wake completes,
            # and the service would then never stop.
            with contextlib.suppress(TimeoutError):
                async with asyncio.timeout(self.tick_s):
                    await self._wake.wait()
            self._wake.clear()
            if loop.time() >= self._next_full:
                self._plan_all = True
                self._next_full = loop.time() + self.tick_s
            tick = Tick(self._plan_all, frozenset(self._held))
            self._plan_all = False
            self._held.clear()
            try:
                reconcile(tick)
            except Exception:
                log.exception("reconcile failed; retrying on the next tick")

    def dispatch(self, commands: Sequence[Command]) -> list[Sent]:
        """Send what may go now, through each device's driver; hold the rest and wake when it may go."""
        mono = asyncio.get_running_loop().time()
        batches: dict[str, tuple[Driver, list[Command]]] = {}
        for command in commands:
            driver = self._driver_of.get(command.device_id)
            if driver is None or not driver.ready():
                continue
            settled_at = self._settling.get(driver.name)
            if settled_at is not None and mono < settled_at:
                self._plan_all = True
                self._wake_at(settled_at)
                continue
            held_until = self.pacer.admit(command.device_id, mono)
            if held_until is not None:
                self.stats.commands_deferred += 1
                self._held.add(command.device_id)  # planned again, from the latest desired state, when it opens
                self._wake_at(held_until)
                continue
            batches.setdefault(driver.name, (driver, []))[1].append(command)
        sent: list[Sent] = []
        for driver, batch in batches.values():
            sent += driver.send(batch)
        return sent

    def close(self) -> None:
        if self._timer is not None:
            self._timer.cancel()

    def _wake_at(self, at: float) -> None:
        """Wake the reconciler at loop time `at`, unless a wake at or before then is already pending."""
        timer = self._timer
        if timer is not None and timer.when() <= at:
            return
        if timer is not None:
            timer.cancel()
        self._timer = asyncio.get_running_loop().call_at(at, self._timed_wake)

    def _timed_wake(self) -> None:
        self._timer = None  # fired: the next hold may schedule its own wake
        self._wake.set()
