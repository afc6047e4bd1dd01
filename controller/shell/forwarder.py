"""The InfluxDB forwarder: the event record, read from a durable cursor, written to an InfluxDB v2 endpoint.

The record (SQLite) is the source of truth; InfluxDB is a copy fed from it. A worker thread reads the events after
the cursor, writes them *synchronously* (influxdb-client's batching write API drops batches after its retries, so
its buffer is never trusted) and commits the new cursor in the same database file only after the server
acknowledged the write. An outage of any length only delays the copy; a crash between the write and the cursor's
commit sends a batch twice, which is harmless: a point is keyed by its measurement, tags and timestamp, and the
timestamp carries the event id (see `event_time_ns`), so the second write overwrites the first.

Every measurement, tag and field is documented in `docs/telemetry.md`. Textual values are tags, never string
fields: VictoriaMetrics (which also accepts the v2 write API) stores string fields as 0.
"""

from __future__ import annotations

import json
import logging
import threading
import time
from collections.abc import Iterable, Mapping
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from influxdb_client.client.influxdb_client import InfluxDBClient
from influxdb_client.client.write.point import Point
from influxdb_client.client.write_api import SYNCHRONOUS
from influxdb_client.domain.write_precision import WritePrecision

from controller.core.events import influx_keys
from controller.shell.record import SCHEMA, Event, utc_now
from profiles.sqlite import connect
from profiles.venue import InfluxSettings

log = logging.getLogger(__name__)

MEASUREMENT = "ambience_event"
HEADCOUNT_MEASUREMENT = "ambience_headcount"
FORWARDER_MEASUREMENT = "ambience_forwarder"
CURSOR_NAME = "influx"

CURSOR_SCHEMA = "CREATE TABLE IF NOT EXISTS forwarder_cursor (name TEXT PRIMARY KEY, last_id INTEGER NOT NULL)"

# Payload keys copied as tags when their value is a short string, and as numeric fields when their value is a
# number (or a boolean, as 0/1): marked in the event catalogue (controller/core/events.py). `member_id` is never a tag:
# it is unbounded (one series per member and community) and personal; the record keeps it.
_TAGS, _FIELDS = influx_keys()
TAG_KEYS = tuple(sorted(_TAGS))
FIELD_KEYS = tuple(sorted(_FIELDS))
MAX_TAG_LEN = 128
_POINT: Any = Point


def event_time_ns(event: Event) -> int:
    """The event's UTC time in ns, plus `id % 1000` ns so that two events of the same series at the same
    microsecond (the record's resolution) stay two points, and a redelivered event lands on the same point."""
    return _epoch_ns(event.ts) + event.id % 1000


def _utc(ts: datetime) -> datetime:
    """The record stores UTC; a naive time read back from it is UTC too."""
    return ts if ts.tzinfo is not None else ts.replace(tzinfo=UTC)


def _epoch_ns(ts: datetime) -> int:
    """Exact integer nanoseconds (a float timestamp would lose the microseconds)."""
    delta = _utc(ts).astimezone(UTC) - datetime(1970, 1, 1, tzinfo=UTC)
    return ((delta.days * 86_400 + delta.seconds) * 1_000_000 + delta.microseconds) * 1000


def _field_number(value: Any) -> float | None:
    """A payload value as a float field, or None when it is not numeric. Always float: InfluxDB rejects a field
    whose type changes (a brightness of 50 then 50.5 would be int then float)."""
    if isinstance(value, bool):
        return 1.0 if value else 0.0
    if isinstance(value, int | float):
        return float(value)
    return None


def _tag(value: Any) -> str | None:
    if isinstance(value, str) and value and len(value) <= MAX_TAG_LEN:
        return value
    return None


def _point(measurement: str, tags: Mapping[str, str], fields: Mapping[str, int | float], time_ns: int) -> Point:
    point: Any = _POINT(measurement)  # influxdb-client is untyped: build through Any, return the typed Point
    for key, value in tags.items():
        point = point.tag(key, value)
    for key, number in fields.items():
        point = point.field(key, number)
    result: Point = point.time(time_ns, WritePrecision.NS)
    return result


def _headcount_point(event: Event, community_id: str, present: float, time_ns: int) -> Point:
    """One community's headcount after `event`, at the event's time (docs/telemetry.md, `ambience_headcount`)."""
    return _point(
        HEADCOUNT_MEASUREMENT,
        {"venue": event.venue, "community_id": community_id},
        {"present": present, "event_id": int(event.id)},
        time_ns,
    )


PRESENCE_TYPES = frozenset({"checkin", "checkout", "checkin_expired"})


def to_points(events: Iterable[Event]) -> list[Point]:
    """The points for a batch of events: one `ambience_event` point each, plus `ambience_headcount` points: one per
    community for a `profile_activated` event, and the changed communities' counts for a check-in, check-out,
    expiry or move, so the headcount series has no gaps. Pure: no clock, no I/O."""
    points: list[Point] = []
    for event in events:
        payload: Mapping[str, Any] = event.payload if isinstance(event.payload, Mapping) else {}
        time_ns = event_time_ns(event)
        tags: dict[str, str] = {"venue": event.venue, "type": event.type}
        fields: dict[str, int | float] = {"event_id": int(event.id)}
        for key in TAG_KEYS:
            if (tag := _tag(payload.get(key))) is not None:
                tags[key] = tag
        for key in FIELD_KEYS:
            if (number := _field_number(payload.get(key))) is not None:
                fields[key] = number
        state = payload.get("state")
        if event.type == "device_state" and isinstance(state, Mapping):
            for name, value in sorted(state.items()):
                if (number := _field_number(value)) is not None:
                    fields[f"state_{name}"] = number
                elif (tag := _tag(value)) is not None:
                    tags[f"state_{name}"] = tag
                elif name == "color_xy" and isinstance(value, list | tuple) and len(value) == 2:
                    x, y = (_field_number(v) for v in value)
                    if x is not None and y is not None:
                        fields["state_color_x"], fields["state_color_y"] = x, y
        headcount = payload.get("headcount")
        if event.type == "profile_activated" and isinstance(headcount, Mapping):
            counts: dict[str, float] = {}
            for community, value in headcount.items():
                if (number := _field_number(value)) is not None:
                    counts[str(community)] = number
            fields["headcount_total"] = float(sum(counts.values()))
            active = payload.get("active")
            if isinstance(active, list):
                fields["active_count"] = float(len(active))
            for community, count in sorted(counts.items()):
                points.append(_headcount_point(event, community, count, time_ns))
        if event.type in PRESENCE_TYPES:  # the headcount after each arrival, departure, expiry and move
            for community, present in (
                (payload.get("community_id"), payload.get("present")),
                (payload.get("moved_from"), payload.get("moved_from_present")),
            ):
                if (tag := _tag(community)) is not None and (number := _field_number(present)) is not None:
                    points.append(_headcount_point(event, tag, number, time_ns))
        points.append(_point(MEASUREMENT, tags, fields, time_ns))
    return points


def delivery_point(venue: str, batch_events: int, lag_events: int, oldest: datetime, now: datetime) -> Point:
    """How far behind InfluxDB is, as InfluxDB itself can chart it: written with each batch, at delivery time.

    `delay_s` is the age of the batch's oldest event when the batch was sent (seconds behind real time);
    `lag_events` what the record held beyond this batch. An outage shows as a gap, then one high point as the
    backlog arrives. Pure: `now` is an argument."""
    delay = max(0.0, (_utc(now) - _utc(oldest)).total_seconds())
    fields = {"batch_events": float(batch_events), "lag_events": float(lag_events), "delay_s": round(delay, 3)}
    return _point(FORWARDER_MEASUREMENT, {"venue": venue}, fields, _epoch_ns(now))


class InfluxForwarder:
    """A daemon thread copying the record at `db_path` to InfluxDB, from a durable cursor, never skipping."""

    def __init__(
        self,
        db_path: Path | str,
        settings: InfluxSettings,
        token: str | None,
        *,
        batch: int = 1000,
        max_backoff_s: float = 60.0,
        idle_s: float = 0.5,
        timeout_ms: int = 5000,
        name: str = CURSOR_NAME,
        final_pass_s: float = 2.0,
    ) -> None:
        if settings.url is None:
            raise ValueError("InfluxSettings.url is not set: there is nowhere to forward to")
        self.settings = settings
        self.url: str = settings.url
        self._token = token or ""
        self.batch = batch
        self.max_backoff_s = max_backoff_s
        self.idle_s = idle_s
        self.timeout_ms = timeout_ms
        self.name = name
        self.final_pass_s = final_pass_s
        self._lock = threading.Lock()
        self._conn = connect(db_path)
        self._conn.executescript(SCHEMA)  # the record's tables, in case the forwarder opens the file first
        self._conn.execute(CURSOR_SCHEMA)
        row = self._conn.execute("SELECT last_id FROM forwarder_cursor WHERE name = ?", (name,)).fetchone()
        self._cursor = int(row[0]) if row else 0
        self._stop = threading.Event()
        self._wake = threading.Event()
        self._thread: threading.Thread | None = None
        self.last_error: str | None = None
        self.delivered = 0  # events acknowledged by the server since start (duplicates after a crash included)

    # -- state -------------------------------------------------------------------------------------------------

    @property
    def cursor(self) -> int:
        """The id of the last event the server acknowledged (durable)."""
        return self._cursor

    @property
    def lag(self) -> int:
        """Events in the record after the cursor, not yet acknowledged by the server."""
        with self._lock:
            row = self._conn.execute("SELECT COUNT(*) FROM events WHERE id > ?", (self._cursor,)).fetchone()
        return int(row[0])

    @property
    def running(self) -> bool:
        return self._thread is not None and self._thread.is_alive()

    # -- control -----------------------------------------------------------------------------------------------

    def start(self) -> None:
        if self.running:
            return
        self._stop.clear()
        self._thread = threading.Thread(target=self._run, name="influx-forwarder", daemon=True)
        self._thread.start()

    def notify(self) -> None:
        """New events were committed: look now instead of at the end of the idle sleep."""
        self._wake.set()

    def stop(self, timeout: float = 10.0) -> bool:
        """Stop the worker; returns whether it ended within `timeout` (a write in flight takes <= timeout_ms).

        If the server was answering, the worker first delivers what was committed since its last pass (for at
        most `final_pass_s`), so a clean shutdown does not leave the record's last events waiting for the next
        start; if it was not, nothing is tried and the durable cursor keeps them for that start."""
        self._stop.set()
        self._wake.set()
        thread = self._thread
        if thread is not None:
            thread.join(timeout)
            if thread.is_alive():
                return False
        self._thread = None
        return True

    def close(self) -> None:
        if self.stop():
            with self._lock:
                self._conn.close()

    # -- the worker ----------------------------------------------------------------------------------------------

    def _read(self) -> list[Event]:
        with self._lock:
            rows = self._conn.execute(
                "SELECT id, ts, venue, type, payload FROM events WHERE id > ? ORDER BY id LIMIT ?",
                (self._cursor, self.batch),
            ).fetchall()
        return [
            Event(int(id_), datetime.fromisoformat(ts), venue, type_, json.loads(payload))
            for id_, ts, venue, type_, payload in rows
        ]

    def _newest(self) -> int:
        """The newest event id: ids grow in order, so what lies beyond a batch costs no count."""
        with self._lock:
            row = self._conn.execute("SELECT MAX(id) FROM events").fetchone()
        return int(row[0] or 0)

    def _commit_cursor(self, last_id: int) -> None:
        with self._lock:
            self._conn.execute(
                "INSERT INTO forwarder_cursor(name, last_id) VALUES (?, ?) "
                "ON CONFLICT(name) DO UPDATE SET last_id = excluded.last_id",
                (self.name, last_id),
            )
        self._cursor = last_id

    def _deliver_batch(self, write_api: Any) -> int:
        """Write the next batch after the cursor and advance the cursor once the server accepted it; raises on any
        failure (the cursor then stays, and the same events go again). Returns how many were delivered."""
        events = self._read()
        if events:
            points = to_points(events)
            points.append(
                delivery_point(events[0].venue, len(events), self._newest() - events[-1].id, events[0].ts, utc_now())
            )
            write_api.write(bucket=self.settings.bucket, org=self.settings.org, record=points)
            self._commit_cursor(events[-1].id)
            self.delivered += len(events)
        return len(events)

    def _final_pass(self, write_api: Any) -> None:
        """On stop: what was committed since the last pass, while the server answers and time is left."""
        if self.last_error is not None:
            return  # the server was failing: trying again would only delay the shutdown
        deadline = time.monotonic() + self.final_pass_s
        while time.monotonic() < deadline:
            try:
                if not self._deliver_batch(write_api):
                    return
            except Exception as exc:  # left for the next start, from the durable cursor
                log.warning("influx forwarder: final delivery to %s failed: %s", self.url, exc)
                self.last_error = f"{type(exc).__name__}: {exc}"[:500]
                return

    def _run(self) -> None:
        backoff = 0.5
        client = InfluxDBClient(
            url=self.url, token=self._token, org=self.settings.org, timeout=self.timeout_ms, retries=False
        )
        try:
            write_api = client.write_api(write_options=SYNCHRONOUS)
            while not self._stop.is_set():
                try:
                    if not self._deliver_batch(write_api):
                        self._wake.wait(self.idle_s)
                        self._wake.clear()
                        continue
                    if self.last_error is not None:
                        log.info("influx forwarder: delivering again to %s (cursor %d)", self.url, self._cursor)
                    self.last_error = None
                    backoff = 0.5
                except Exception as exc:  # any failure: keep the batch, wait, try the same events again
                    if self.last_error is None:
                        log.warning("influx forwarder: write to %s failed, retrying with back-off: %s", self.url, exc)
                    self.last_error = f"{type(exc).__name__}: {exc}"[:500]
                    self._stop.wait(backoff)
                    backoff = min(backoff * 2, self.max_backoff_s)
            self._final_pass(write_api)
        finally:
            closing: Any = client
            closing.close()
