"""The event record: every check-in, change and reading, in SQLite (WAL) before it is acknowledged.

One writer thread owns the write connection and commits in batches: whatever queued up while the previous commit
was being synced goes into the next transaction (group commit). That keeps "durable before acknowledged" for each
event while the cost of a sync is shared, so a burst of check-ins does not queue behind one fsync each.

Event ids are assigned when an event is emitted, in emission order, from the table's AUTOINCREMENT sequence, so
ids only ever grow and are never reused, even when old rows are deleted.

A commit that fails (disk full, the file locked for longer than the busy timeout) fails its waiters and marks the
record failed: from then on `emit` raises `RecordError`. The service then stops rather than acknowledge anything
it could not store; its supervisor restarts it and the broker redelivers what was not acknowledged.

The same transaction can carry state mutations (presence, controller state), so the record and the state it
explains never disagree after a crash.

What a commit stores is made ready when the event is emitted, on the caller's side: the payload is serialised and
every text checked to be encodable (a JSON-escaped lone surrogate decodes to a Python string that UTF-8, hence
SQLite, refuses), every integer to fit SQLite's 64 bits. Input the record cannot hold therefore fails at `emit`
with `UnstorableEvent`, before anything changed, and is rejected at the edge; the writer thread sees only rows it
can store, so the only commit that fails is one the disk or the file refuses, never one poisoned message that the
broker would redeliver at every start.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import queue
import sqlite3
import threading
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from devices.units import encodable
from profiles.exceptions import AmbienceError
from profiles.sqlite import connect

log = logging.getLogger(__name__)

SCHEMA = """
CREATE TABLE IF NOT EXISTS events (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    ts TEXT NOT NULL,
    venue TEXT NOT NULL,
    type TEXT NOT NULL,
    payload TEXT NOT NULL
);
CREATE INDEX IF NOT EXISTS events_type ON events(type, id);
CREATE TABLE IF NOT EXISTS presence (
    member_id TEXT PRIMARY KEY,
    community_id TEXT NOT NULL,
    checked_in_at TEXT NOT NULL
);
CREATE TABLE IF NOT EXISTS controller_state (
    key TEXT PRIMARY KEY,
    value TEXT NOT NULL
);
"""


class RecordError(AmbienceError, RuntimeError):
    """The record cannot be written; nothing more may be acknowledged."""


class UnstorableEvent(AmbienceError, ValueError):
    """This event, or a state change it carries, cannot be stored (text that is not valid Unicode, an integer
    beyond 64 bits, a value JSON cannot write). Raised by `emit` before anything is queued: reject the input."""


Mutation = tuple[str, Sequence[Any]]  # an SQL statement and its parameters, run in the event's transaction


@dataclass(frozen=True, slots=True)
class Event:
    id: int
    ts: datetime
    venue: str
    type: str
    payload: dict[str, Any]

    def to_json(self) -> dict[str, Any]:
        return {
            "id": self.id,
            "ts": self.ts.isoformat(),
            "venue": self.venue,
            "type": self.type,
            **self.payload,
        }


@dataclass(slots=True)
class _Pending:
    event: Event
    row: tuple[int, str, str, str, str]  # the events row, serialised and checked at emit
    mutations: Sequence[Mutation]
    future: asyncio.Future[int] | None
    loop: asyncio.AbstractEventLoop | None


_STOP = object()


class EventRecord:
    """Append-only record of a venue's events, with the small amount of state the controller must keep."""

    def __init__(self, path: Path | str, venue_id: str) -> None:
        self.path = Path(path)
        self.venue_id = venue_id
        self.path.parent.mkdir(parents=True, exist_ok=True)
        self._write = connect(self.path)
        self._write.executescript(SCHEMA)
        self._read = connect(self.path)
        self._read_lock = threading.Lock()
        row = self._write.execute("SELECT seq FROM sqlite_sequence WHERE name='events'").fetchone()
        self._next_id = (int(row[0]) if row else 0) + 1
        self._id_lock = threading.Lock()
        self._queue: queue.SimpleQueue[_Pending | threading.Event | object] = queue.SimpleQueue()
        self._failed: BaseException | None = None
        self.committed_id = self._next_id - 1
        self._thread = threading.Thread(target=self._writer, name="event-record", daemon=True)
        self._thread.start()

    # -- writing ---------------------------------------------------------------------------------------------

    def emit(
        self,
        type_: str,
        payload: dict[str, Any],
        ts: datetime,
        mutations: Sequence[Mutation] = (),
        *,
        durable: bool = False,
    ) -> asyncio.Future[int] | None:
        """Queue an event; with `durable`, return a future (of the running loop) that resolves once it is committed."""
        return self.emit_all([(type_, payload, mutations, durable)], ts)[0]

    def emit_all(
        self, events: Sequence[tuple[str, dict[str, Any], Sequence[Mutation], bool]], ts: datetime
    ) -> list[asyncio.Future[int] | None]:
        """Queue several events (type, payload, mutations, durable) in order: each is serialised and checked first,
        so one that cannot be stored (`UnstorableEvent`) queues none of them. A future for each durable one.

        The writer may still commit them in two transactions (it takes what is queued when it wakes); a crash in
        between keeps the first part, whose input is not acknowledged and so comes again."""
        if self._failed is not None:
            raise RecordError(f"the event record at {self.path} cannot be written: {self._failed}") from self._failed
        bodies = []
        for type_, payload, mutations, _ in events:
            bodies.append(_storable_payload(type_, payload))
            for _, params in mutations:
                _check_params(type_, params)
        stamp = ts.isoformat()
        futures: list[asyncio.Future[int] | None] = []
        with self._id_lock:
            for (type_, payload, mutations, durable), body in zip(events, bodies, strict=True):
                event = Event(self._next_id, ts, self.venue_id, type_, payload)
                self._next_id += 1
                future: asyncio.Future[int] | None = None
                loop: asyncio.AbstractEventLoop | None = None
                if durable:
                    loop = asyncio.get_running_loop()
                    future = loop.create_future()
                row = (event.id, stamp, self.venue_id, type_, body)
                self._queue.put(_Pending(event, row, mutations, future, loop))
                futures.append(future)
        return futures

    async def append(
        self, type_: str, payload: dict[str, Any], ts: datetime, mutations: Sequence[Mutation] = ()
    ) -> int:
        """Record an event and wait until it is durable; returns its id."""
        future = self.emit(type_, payload, ts, mutations, durable=True)
        assert future is not None
        return await future

    def _writer(self) -> None:
        while True:
            batch = [self._queue.get()]
            while len(batch) < 5000 and batch[-1] is not _STOP:
                try:
                    batch.append(self._queue.get_nowait())
                except queue.Empty:
                    break
            self._commit([item for item in batch if isinstance(item, _Pending)])
            for item in batch:
                if isinstance(item, threading.Event):
                    item.set()
            if batch[-1] is _STOP:
                return

    def _commit(self, batch: list[_Pending]) -> None:
        if not batch:
            return
        try:
            rows = [item.row for item in batch]
            conn = self._write
            conn.execute("BEGIN IMMEDIATE")
            conn.executemany("INSERT INTO events(id, ts, venue, type, payload) VALUES (?, ?, ?, ?, ?)", rows)
            # After the events, in emission order: a mutation never reads the events table, and the mutations of
            # one batch keep their order among themselves (a check-in then a check-out of the same member).
            for item in batch:
                for sql, params in item.mutations:
                    conn.execute(sql, params)
            conn.execute("COMMIT")
        except BaseException as exc:
            log.exception("event record: commit of %d events failed", len(batch))
            self._failed = exc
            with contextlib.suppress(sqlite3.Error):
                self._write.execute("ROLLBACK")
            message = f"commit failed: {exc}"  # `exc` itself is unbound once this block ends
            _resolve(batch, lambda item: _set_exception(item.future, RecordError(message)))
            return
        self.committed_id = batch[-1].event.id
        _resolve(batch, lambda item: _set_result(item.future, item.event.id))

    @property
    def failed(self) -> BaseException | None:
        return self._failed

    @property
    def backlog(self) -> int:
        """Events emitted but not yet committed."""
        return self._next_id - 1 - self.committed_id

    def flush(self, timeout_s: float = 10.0) -> bool:
        """Block until everything emitted so far is committed (for shutdown and tools, not the event loop)."""
        if not self._thread.is_alive():
            return False
        barrier = threading.Event()
        self._queue.put(barrier)
        return barrier.wait(timeout_s)

    def close(self) -> None:
        if self._thread.is_alive():
            self._queue.put(_STOP)
            self._thread.join(30)
        self._write.close()
        self._read.close()

    def prune(
        self, older_than: datetime, up_to_id: int, chunk: int = 5000, *, keep_state: tuple[str, Any] | None = None
    ) -> int:
        """Delete events older than `older_than` whose id is <= `up_to_id` (the forwarder's cursor, when there is
        one: nothing is pruned that InfluxDB has not acknowledged). Blocking: call it from a thread.

        Deletes in chunks, each its own short transaction, so the writer thread never waits long for the lock.
        Ids are never reused (AUTOINCREMENT), so readers paging with `since` simply skip what is gone.
        `keep_state` (key, value) is saved in the controller state first (retention's trusted clock).
        """
        cutoff = older_than.astimezone(UTC).isoformat()
        deleted = 0
        conn = connect(self.path)
        try:
            if keep_state is not None:
                conn.execute(*state_set(*keep_state))
            while True:
                cursor = conn.execute(
                    "DELETE FROM events WHERE id IN "
                    "(SELECT id FROM events WHERE id <= ? AND ts < ? ORDER BY id LIMIT ?)",
                    (up_to_id, cutoff, chunk),
                )
                deleted += cursor.rowcount
                if cursor.rowcount < chunk:
                    return deleted
        finally:
            conn.close()

    # -- reading ---------------------------------------------------------------------------------------------

    def read(self, since: int = 0, type_: str | None = None, limit: int = 1000) -> list[Event]:
        """Committed events with id > since, oldest first."""
        sql = "SELECT id, ts, venue, type, payload FROM events WHERE id > ?"
        params: list[Any] = [since]
        if type_ is not None:
            sql += " AND type = ?"
            params.append(type_)
        sql += " ORDER BY id LIMIT ?"
        params.append(limit)
        with self._read_lock:
            rows = self._read.execute(sql, params).fetchall()
        return [_event(row) for row in rows]

    def iter_all(self, type_: str | None = None, batch: int = 1000) -> Iterator[Event]:
        since = 0
        while True:
            events = self.read(since, type_, batch)
            if not events:
                return
            yield from events
            since = events[-1].id

    def presence_rows(self) -> list[tuple[str, str, datetime]]:
        with self._read_lock:
            rows = self._read.execute("SELECT member_id, community_id, checked_in_at FROM presence").fetchall()
        return [(m, c, datetime.fromisoformat(t)) for m, c, t in rows]

    def newest_ts(self) -> datetime | None:
        """When the newest committed event happened (by the clock that stamped it)."""
        with self._read_lock:
            row = self._read.execute("SELECT ts FROM events ORDER BY id DESC LIMIT 1").fetchone()
        return None if row is None else datetime.fromisoformat(row[0])

    def state(self, key: str) -> Any:
        with self._read_lock:
            row = self._read.execute("SELECT value FROM controller_state WHERE key = ?", (key,)).fetchone()
        return None if row is None else json.loads(row[0])


def _event(row: tuple[Any, ...]) -> Event:
    id_, ts, venue, type_, payload = row
    return Event(int(id_), datetime.fromisoformat(ts), venue, type_, json.loads(payload))


# json.dumps with these options, minus its per-call set-up. Not ASCII-escaped, so that a lone surrogate shows up as
# text UTF-8 cannot encode (an escaped one would be stored, then break every reader that re-encodes it); no NaN,
# which is not JSON and which a browser's JSON.parse refuses.
_dumps = json.JSONEncoder(separators=(",", ":"), ensure_ascii=False, allow_nan=False).encode

_INT64 = (-(2**63), 2**63 - 1)


def _storable_payload(type_: str, payload: dict[str, Any]) -> str:
    try:
        body = _dumps(payload)
    except (TypeError, ValueError, RecursionError) as exc:
        raise UnstorableEvent(f"{type_} event: cannot store its payload ({exc})") from None
    if not encodable(body):
        raise UnstorableEvent(f"{type_} event: cannot store its payload (text that is not valid Unicode)")
    return body


def _check_params(type_: str, params: Sequence[Any]) -> None:
    """What sqlite3 would refuse only inside the transaction, found now: text UTF-8 cannot encode, huge ints."""
    for value in params:
        if isinstance(value, str):
            if not encodable(value):
                raise UnstorableEvent(f"{type_} event: cannot store the text {value!r:.80} (not valid Unicode)")
        elif isinstance(value, int) and not _INT64[0] <= value <= _INT64[1]:
            raise UnstorableEvent(f"{type_} event: an integer of {value.bit_length()} bits does not fit in 64")
        elif value is not None and not isinstance(value, int | float | str | bytes):
            raise UnstorableEvent(f"{type_} event: cannot store a {type(value).__name__}")


def _resolve(batch: list[_Pending], resolve: Callable[[_Pending], None]) -> None:
    """Resolve the waiters of a committed (or failed) batch: one call into each event loop per batch, not one per
    event, so a batch of a thousand check-ins costs its loop one wake-up, not a thousand."""
    by_loop: dict[asyncio.AbstractEventLoop, list[_Pending]] = {}
    for item in batch:
        if item.future is not None and item.loop is not None:
            by_loop.setdefault(item.loop, []).append(item)
    for loop, items in by_loop.items():
        try:
            loop.call_soon_threadsafe(_resolve_all, items, resolve)
        except RuntimeError:  # that loop is closed: nobody is waiting any more
            log.debug("event record: %d waiters of a closed event loop", len(items))


_RESOLVE_SLICE = 64
"""Waiters resolved per turn of the loop: each one's callbacks (an MQTT acknowledgement, an API response) run in the
next turn, so a committed batch of thousands is handed over in slices and a request to /healthz waits behind one
slice, not behind the whole batch."""


def _resolve_all(items: list[_Pending], resolve: Callable[[_Pending], None], start: int = 0) -> None:
    end = start + _RESOLVE_SLICE
    for item in items[start:end]:
        resolve(item)
    if end < len(items):
        asyncio.get_running_loop().call_soon(_resolve_all, items, resolve, end)


def _set_result(future: asyncio.Future[int] | None, value: int) -> None:
    if future is not None and not future.done():
        future.set_result(value)


def _set_exception(future: asyncio.Future[int] | None, exc: BaseException) -> None:
    if future is not None and not future.done():
        future.set_exception(exc)


# Mutations the controller runs in the same transaction as the event that explains them.


def presence_upsert(member_id: str, community_id: str, at: datetime) -> Mutation:
    return (
        "INSERT INTO presence(member_id, community_id, checked_in_at) VALUES (?, ?, ?) "
        "ON CONFLICT(member_id) DO UPDATE SET community_id = excluded.community_id, "
        "checked_in_at = excluded.checked_in_at",
        (member_id, community_id, at.isoformat()),
    )


def presence_delete(member_id: str) -> Mutation:
    return ("DELETE FROM presence WHERE member_id = ?", (member_id,))


def state_set(key: str, value: Any) -> Mutation:
    return (
        "INSERT INTO controller_state(key, value) VALUES (?, ?) ON CONFLICT(key) DO UPDATE SET value = excluded.value",
        (key, json.dumps(value, separators=(",", ":"))),
    )


def utc_now() -> datetime:
    return datetime.now(UTC)
