"""Retention: the record keeps `store.retention_days` of events, pruned every `prune_every_s`.

Only events InfluxDB already has are deleted when a forwarder runs (an outage longer than the retention keeps
them until they are delivered), and never by a wall clock that jumped ahead of what the venue knows
(`controller/core/retention.py`): then `retention_held` is recorded and a warning logged.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Callable
from datetime import datetime, timedelta

from controller.core import events as ev
from controller.core.outputs import Emit
from controller.core.retention import clock_tolerance, judge_clock, start_time
from controller.shell.forwarder import InfluxForwarder
from controller.shell.record import EventRecord
from controller.shell.recorder import Recorder

__all__ = ["Pruner"]

log = logging.getLogger(__name__)


class Pruner:
    def __init__(
        self,
        recorder: Recorder,
        forwarder: InfluxForwarder | None,
        retention_days: int,
        clock: Callable[[], datetime],
        now: datetime,
    ) -> None:
        """Reads retention's trusted time from the record: call before this run stamps anything with its clock."""
        self.recorder = recorder
        self.forwarder = forwarder
        self.retention_days = retention_days
        self.clock = clock
        record = self.record
        self._trusted = start_time(record.state("retention_clock"), record.newest_ts(), now)
        self._trusted_mono = time.monotonic()

    @property
    def record(self) -> EventRecord:
        return self.recorder.record

    async def run(self, every_s: float) -> None:
        while True:
            try:
                await self.prune()
            except Exception:  # a failed prune only keeps old events longer
                log.exception("pruning the event record failed; trying again later")
            await asyncio.sleep(every_s)

    async def prune(self) -> int:
        """Delete what is older than the retention by the trusted time; how many events were deleted."""
        record = self.record
        wall, mono = self.clock(), time.monotonic()
        judged = judge_clock(self._trusted, self._trusted_mono, wall, mono, clock_tolerance(self.retention_days))
        self._trusted, self._trusted_mono = judged.trusted, mono
        if judged.ahead is not None:
            log.warning(
                "event record: the clock says %s but the record and the uptime say it is at most %s; "
                "pruning by the latter (check the system clock and NTP)",
                wall.isoformat(),
                judged.prune_by.isoformat(),
            )
            held = ev.RetentionHeld(wall.isoformat(), judged.prune_by.isoformat(), round(judged.ahead.total_seconds()))
            self.recorder.commit([Emit(held)], wall)
        older_than = judged.prune_by - timedelta(days=self.retention_days)
        up_to = self.forwarder.cursor if self.forwarder is not None else record.committed_id
        suspect = judged.ahead is not None
        trusted = ("retention_clock", {"trusted": judged.trusted.isoformat(), "suspect": suspect})
        deleted = await asyncio.to_thread(record.prune, older_than, up_to, keep_state=trusted)
        if deleted:
            log.info("event record: pruned %d events from before %s", deleted, older_than.isoformat())
        return deleted
