"""The recorder: commits a step's events to the event record, hands back when they are durable, and stops the
venue (fail-stop) when the record cannot be written, so that nothing is acknowledged that is not stored."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable, Sequence
from datetime import datetime

from controller.core.outputs import Emit, Mutation, PresenceDelete, PresenceUpsert
from controller.shell import record as rec

__all__ = ["Recorder"]

log = logging.getLogger(__name__)


def _mutation(mutation: Mutation) -> rec.Mutation:
    if isinstance(mutation, PresenceUpsert):
        return rec.presence_upsert(mutation.member_id, mutation.community_id, mutation.at)
    if isinstance(mutation, PresenceDelete):
        return rec.presence_delete(mutation.member_id)
    return rec.state_set(mutation.key, mutation.value)


class Recorder:
    def __init__(self, record: rec.EventRecord, failed: asyncio.Event | None = None) -> None:
        self.record = record
        self.failed = failed if failed is not None else asyncio.Event()
        """Set when the record cannot be written: the venue must stop."""
        self.failure: BaseException | None = None

    def commit(self, emits: Sequence[Emit], now: datetime) -> asyncio.Future[int] | None:
        """Queue `emits` as one batch (none of them if one cannot be stored: `UnstorableEvent`); the future of the
        last durable one (the record commits in order, so it is durable once that one is), or None."""
        if not emits:
            return None
        items = [(e.event.TYPE, e.event.body(), [_mutation(m) for m in e.mutations], e.durable) for e in emits]
        futures = [f for f in self.record.emit_all(items, now) if f is not None]
        return futures[-1] if futures else None

    def when_durable(
        self,
        future: asyncio.Future[int] | None,
        then: Callable[[], None],
        failed: Callable[[BaseException], None] | None = None,
    ) -> None:
        """Call `then` once `future` is committed (at once without one). A failed commit stops the venue instead,
        and `failed` hears why (an API call waiting for the answer gets the error, not silence)."""
        if future is None:
            then()
            return

        def done(f: asyncio.Future[int]) -> None:
            if f.cancelled():
                return
            exc = f.exception()
            if exc is not None:
                self.fail(exc)
                if failed is not None:
                    failed(exc)
            else:
                then()

        future.add_done_callback(done)

    def fail(self, exc: BaseException) -> None:
        if self.failure is None:
            self.failure = exc
            log.error("%s: stopping, so that nothing is acknowledged that is not stored", exc)
            self.failed.set()
