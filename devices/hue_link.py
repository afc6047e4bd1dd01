"""One Hue bridge as the Hue driver (`devices.hue_driver`) sees it: polls its lights, sends paced commands, and
reports both to the driver.

Everything here runs on the event loop except the phue calls, which go to worker threads
(`asyncio.to_thread`): a slow or vanished bridge never stalls MQTT handling. Two tasks per bridge:

    poll:  GET /lights every `poll_interval_s` -> observer.on_poll(link, lights)    (manual changes, reachability)
           failing -> observer.on_error(link, error), polled again with back-off (1 s doubling to 30 s)
    send:  submit() -> HuePacer (latest body wins, <= 10 light and 1 group command per second) -> PUT, in order

A zone's lights that want the same body go as one group command where the bridge has a group of exactly those
lights (`devices.groups`). A command that fails is not queued again here: the venue's device shadow
retries it with a growing interval, and a bridge that was away is re-planned from the desired state when its
lights are reachable again.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections.abc import Callable, Mapping
from typing import Any, Protocol

from devices.groups import GroupPlan, choose_groups
from devices.hue_client import HueClient, HueError, HueUnreachable
from devices.hue_pacer import Body, HuePacer
from profiles.venue import HueBridge

log = logging.getLogger(__name__)

GROUPS_REFRESH_S = 60.0  # rooms and zones are edited in the Hue app now and then
MAX_BACKOFF_S = 30.0


class LinkObserver(Protocol):
    """What the driver does with what a bridge says; called on the event loop."""

    def on_poll(self, link: HueLink, lights: Mapping[str, Mapping[str, Any]]) -> None: ...

    def on_error(self, link: HueLink, error: HueError, context: str) -> None: ...


class HueLink:
    """One bridge: `await run()` (a task) polls and sends until cancelled; `submit()` queues commands."""

    def __init__(
        self,
        name: str,
        settings: HueBridge,
        client: HueClient,
        observer: LinkObserver,
        *,
        pacer: HuePacer | None = None,
        clock: Callable[[], float] = time.monotonic,
        max_backoff_s: float = MAX_BACKOFF_S,
    ) -> None:
        self.name = name
        self.settings = settings
        self.client = client
        self.observer = observer
        self.pacer = pacer or HuePacer()
        self.clock = clock
        self.max_backoff_s = max_backoff_s
        self.groups: dict[str, frozenset[str]] = {}
        self.reachable: bool | None = None  # None until the first poll answered or failed
        self.last_error: str | None = None
        self.sent = 0
        self.failed = 0
        self._wake = asyncio.Event()
        self._groups_at = -float("inf")

    # -- what the driver calls --------------------------------------------------------------------------------

    def submit(self, bodies: Mapping[str, Body]) -> GroupPlan:
        """Queue one planning round's bodies by light id; returns which went as group commands."""
        plan = choose_groups(bodies, self.groups)
        now = self.clock()
        for gid, body in plan.groups.items():
            self.pacer.submit(("group", gid), body, now, members=self.groups[gid])
        for light_id, body in plan.lights.items():
            self.pacer.submit(("light", light_id), body, now)
        self._wake.set()
        return plan

    def status(self) -> dict[str, Any]:
        return {
            "host": self.settings.host,
            "reachable": self.reachable,
            "last_error": self.last_error,
            "queued": len(self.pacer),
            "sent": self.sent,
            "failed": self.failed,
        }

    async def run(self) -> None:
        sender = asyncio.create_task(self._send_forever(), name=f"hue-send-{self.name}")
        try:
            await self._poll_forever()
        finally:
            sender.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await sender

    # -- polling -----------------------------------------------------------------------------------------------

    async def _poll_forever(self) -> None:
        backoff = 1.0
        while True:
            try:
                if self.clock() - self._groups_at >= GROUPS_REFRESH_S:
                    self.groups = await asyncio.to_thread(self.client.groups)
                    self._groups_at = self.clock()
                lights = await asyncio.to_thread(self.client.lights)
            except HueError as error:
                self._failed(error, "poll")
                await asyncio.sleep(backoff)
                backoff = min(backoff * 2, self.max_backoff_s)
                continue
            if self.reachable is not True and self.last_error is not None:
                log.info("hue bridge %s: answering again", self.name)
            self.reachable, self.last_error, backoff = True, None, 1.0
            self.observer.on_poll(self, lights)
            await asyncio.sleep(self.settings.poll_interval_s)

    def _failed(self, error: HueError, context: str) -> None:
        if isinstance(error, HueUnreachable):
            self.reachable = False
        message = str(error)
        if message != self.last_error:  # once per distinct problem, not on every retry
            log.warning("hue bridge %s: %s failed: %s", self.name, context, message)
            self.observer.on_error(self, error, context)
        self.last_error = message

    # -- sending -----------------------------------------------------------------------------------------------

    async def _send_forever(self) -> None:
        """One command at a time, each counted from its answer (`HuePacer.answered`): the bridge's own count
        starts when a request arrives, which may be later than when it was released here."""
        while True:
            released = self.pacer.due(self.clock(), limit=1)
            if released:
                (kind, ident), body = released[0]
                try:
                    if kind == "group":
                        await asyncio.to_thread(self.client.set_group, ident, body)
                    else:
                        await asyncio.to_thread(self.client.set_light, ident, body)
                    self.sent += 1
                except HueError as error:  # the shadow retries it, or re-plans it when the lights return
                    self.failed += 1
                    self._failed(error, f"{kind} {ident} {body}")
                    if isinstance(error, HueUnreachable):
                        self.pacer.clear()  # each would wait for the timeout; re-planned when the bridge is back
                finally:
                    self.pacer.answered(kind, self.clock())
                continue
            at = self.pacer.next_due(self.clock())
            self._wake.clear()
            if at is None:
                await self._wake.wait()
            else:
                with contextlib.suppress(TimeoutError):  # asyncio.timeout: wait_for can lose a cancel on 3.11
                    async with asyncio.timeout(max(0.0, at - self.clock())):
                        await self._wake.wait()
