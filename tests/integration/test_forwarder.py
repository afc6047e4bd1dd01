"""The InfluxDB forwarder against a real InfluxDB-protocol server (Debian's victoria-metrics) on loopback.

Each test writes events into a real SQLite record, forwards them, and reads back from the server what arrived:
every event id present, none lost, through an outage of the server and a restart of the forwarder.
"""

from __future__ import annotations

import asyncio
import json
import time
import urllib.error
import urllib.parse
import urllib.request
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from controller.cli.broker import MosquittoBroker
from controller.shell.forwarder import InfluxForwarder
from controller.shell.record import EventRecord
from profiles.venue import InfluxSettings
from testkit.victoria import VictoriaMetrics
from testkit.waiting import wait_until_sync

pytestmark = pytest.mark.integration


def settings(server: VictoriaMetrics) -> InfluxSettings:
    return InfluxSettings(url=server.url, org="venue", bucket="ambience")


def emit_events(record: EventRecord, n: int, start: datetime) -> set[int]:
    """n events of the kinds the service writes; returns their ids once committed."""
    before = record.committed_id
    for i in range(n):
        ts = start + timedelta(milliseconds=i)
        kind = i % 4
        if kind == 0:
            record.emit("checkin", {"member_id": f"m{i}", "community_id": "yoga", "source": "api", "present": i}, ts)
        elif kind == 1:
            state = {"on": True, "brightness": i % 100, "color_temp_k": 2700}
            record.emit("device_state", {"device_id": "lamp-1", "kind": "light", "state": state}, ts)
        elif kind == 2:
            record.emit("command_sent", {"device_id": "lamp-1", "topic": "t/set", "payload": {"brightness": 10}}, ts)
        else:
            record.emit(
                "profile_activated",
                {"community_id": "yoga", "active": ["yoga"], "source": "headcount", "headcount": {"yoga": i}},
                ts,
            )
    assert record.flush()
    return set(range(before + 1, record.committed_id + 1))


def forwarder_series(vm: VictoriaMetrics, field: str) -> list[float]:
    """The values of one `ambience_forwarder` field, oldest first (one per delivered batch)."""
    vm.get("/internal/force_flush")
    query = urllib.parse.urlencode({"match[]": f'{{__name__="ambience_forwarder_{field}",venue="venue-x"}}'})
    lines = [json.loads(x) for x in vm.get(f"/api/v1/export?{query}").splitlines() if x.strip()]
    return [float(v) for series in lines for v in series["values"]]


def now() -> datetime:
    return datetime.now(UTC).replace(microsecond=0) - timedelta(minutes=5)


def test_every_event_arrives_with_its_tags(vm: VictoriaMetrics, tmp_path: Path) -> None:
    record = EventRecord(tmp_path / "r.db", "venue-x")
    forwarder = InfluxForwarder(record.path, settings(vm), "any-token", batch=50)
    try:
        ids = emit_events(record, 230, now())
        forwarder.start()
        forwarder.notify()
        wait_until_sync(
            lambda: forwarder.cursor == max(ids), 30, lambda: f"every event sent; last error {forwarder.last_error}"
        )
        assert forwarder.lag == 0
        assert forwarder.last_error is None
        seen = vm.wait_for_ids(ids)
        assert ids <= seen, f"missing {sorted(ids - seen)[:20]}"
        query = urllib.parse.urlencode({"match[]": '{__name__="ambience_event_state_brightness"}'})
        [series] = [json.loads(x) for x in vm.get(f"/api/v1/export?{query}").splitlines() if x.strip()]
        assert series["metric"]["device_id"] == "lamp-1" and series["metric"]["venue"] == "venue-x"
        assert series["metric"]["type"] == "device_state"
    finally:
        assert forwarder.stop(15)
        forwarder.close()
        record.close()


def test_an_outage_delays_but_loses_nothing(vm: VictoriaMetrics, tmp_path: Path) -> None:
    record = EventRecord(tmp_path / "r.db", "venue-x")
    forwarder = InfluxForwarder(record.path, settings(vm), None, batch=100, max_backoff_s=1.0, timeout_ms=2000)
    try:
        forwarder.start()
        first = emit_events(record, 100, now())
        wait_until_sync(
            lambda: forwarder.cursor == max(first), 30, lambda: f"the first sent; last error {forwarder.last_error}"
        )
        delivered = forwarder.cursor

        vm.stop()
        second = emit_events(record, 150, now() + timedelta(seconds=1))
        forwarder.notify()
        wait_until_sync(lambda: forwarder.last_error is not None, 15, "the forwarder to see the server down")
        time.sleep(1.0)
        assert forwarder.cursor == delivered  # nothing acknowledged while the server is down
        assert forwarder.lag == len(second)

        vm.start()
        wait_until_sync(
            lambda: forwarder.cursor == max(second), 30, lambda: f"the rest sent; last error {forwarder.last_error}"
        )
        assert forwarder.last_error is None
        everything = first | second
        seen = vm.wait_for_ids(everything)
        assert everything <= seen, f"lost {sorted(everything - seen)[:20]}"
        # The forwarder's own series says how far behind it was: the first batch after the outage had 50 behind it.
        wait_until_sync(lambda: sum(forwarder_series(vm, "batch_events")) >= len(everything), 15, "every batch counted")
        assert sum(forwarder_series(vm, "batch_events")) == len(everything)
        lags = forwarder_series(vm, "lag_events")
        assert lags[-1] == 0 and 50 in lags, lags
        assert min(forwarder_series(vm, "delay_s")) > 0
    finally:
        assert forwarder.stop(15)
        forwarder.close()
        record.close()


def test_stop_is_prompt_while_the_server_is_down(vm: VictoriaMetrics, tmp_path: Path) -> None:
    record = EventRecord(tmp_path / "r.db", "venue-x")
    vm.stop()
    forwarder = InfluxForwarder(record.path, settings(vm), None, max_backoff_s=60.0, timeout_ms=2000)
    try:
        emit_events(record, 10, now())
        forwarder.start()
        wait_until_sync(lambda: forwarder.last_error is not None, 15, "the forwarder to see the server down")
        started = time.monotonic()
        assert forwarder.stop(10)
        assert time.monotonic() - started < 5
        assert forwarder.cursor == 0
    finally:
        forwarder.stop(10)
        forwarder.close()
        record.close()


def test_a_new_forwarder_resumes_from_the_durable_cursor(vm: VictoriaMetrics, tmp_path: Path) -> None:
    record = EventRecord(tmp_path / "r.db", "venue-x")
    ids = emit_events(record, 600, now())
    first = InfluxForwarder(record.path, settings(vm), None, batch=20)
    try:
        first.start()
        wait_until_sync(lambda: first.cursor >= 100, 30, lambda: f"100 events sent; last error {first.last_error}")
    finally:
        assert first.stop(15)  # "crash": whatever was in flight is sent again by the next one
        first.close()
    cursor = first.cursor
    assert cursor >= 100
    second = InfluxForwarder(record.path, settings(vm), None, batch=20)
    try:
        assert second.cursor == cursor  # read back from forwarder_cursor in the database file
        more = emit_events(record, 50, now() + timedelta(seconds=2))
        second.start()
        wait_until_sync(
            lambda: second.cursor == max(more), 30, lambda: f"the rest sent; last error {second.last_error}"
        )
        everything = ids | more
        seen = vm.wait_for_ids(everything)
        assert everything <= seen, f"lost {sorted(everything - seen)[:20]}"
    finally:
        assert second.stop(15)
        second.close()
        record.close()


def test_a_venue_with_influx_configured_delivers_its_record(
    vm: VictoriaMetrics, mosquitto: MosquittoBroker, tmp_path: Path
) -> None:
    """The service starts the forwarder from the venue config: kiosk check-ins end up in the time-series server."""
    from testkit.waiting import wait_until as wait_until_async
    from tests.integration.harness import example_venue, run, running_venue

    config = example_venue(mosquitto.url, tmp_path, influx=settings(vm))

    async def scenario() -> None:
        async with running_venue(config) as v:
            for member in ("ana", "ben"):
                v.kiosk.checkin(member, "book-club")
            checkins = await wait_until_async(lambda: len(v.events("checkin")) == 2 and v.events("checkin"))
            assert v.service.forwarder is not None
            ids = {e.id for e in checkins}
            seen = await asyncio.to_thread(vm.wait_for_ids, ids, 30.0)
            assert ids <= seen
            await wait_until_async(lambda: v.service.health()["forwarder"]["lag"] == 0, what="forwarder caught up")

    run(scenario)
