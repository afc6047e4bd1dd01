"""Retention: the service prunes events older than `store.retention_days`, but never one InfluxDB does not have."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from controller.cli.broker import MosquittoBroker
from controller.shell.record import EventRecord
from profiles.venue import InfluxSettings
from testkit.victoria import VictoriaMetrics
from testkit.waiting import wait_until
from tests.integration.harness import example_venue, run, running_venue

pytestmark = pytest.mark.integration


def seed_old_events(path: Path, venue_id: str, n: int, age_days: int) -> set[int]:
    record = EventRecord(path, venue_id)
    before = record.committed_id
    start = datetime.now(UTC) - timedelta(days=age_days)
    for i in range(n):
        record.emit("checkin", {"member_id": f"m{i}", "community_id": "book-club"}, start + timedelta(seconds=i))
    assert record.flush()
    ids = set(range(before + 1, record.committed_id + 1))
    record.close()
    return ids


def test_old_events_are_pruned_only_once_influxdb_has_them(
    vm: VictoriaMetrics, mosquitto: MosquittoBroker, tmp_path: Path
) -> None:
    config = example_venue(mosquitto.url, tmp_path, influx=InfluxSettings(url=vm.url, org="venue", bucket="ambience"))
    config = config.model_copy(update={"store": config.store.model_copy(update={"retention_days": 10})})
    # victoria-metrics keeps a month (-retentionPeriod=1) and refuses older points: 20 days old, kept 10
    old = seed_old_events(Path(config.store.path), config.venue.id, 50, age_days=20)
    seed_old_events(Path(config.store.path), config.venue.id, 1, age_days=0)  # it ran until now (a sane clock)
    vm.stop()  # InfluxDB is away when the service starts: nothing old may go yet

    async def scenario() -> None:
        async with running_venue(config) as v:
            service = v.service
            assert service.forwarder is not None
            assert await service.prune() == 0
            assert old <= {e.id for e in v.events()}, "pruned events InfluxDB never acknowledged"

            await asyncio.to_thread(vm.start)
            await wait_until(lambda: service.forwarder is not None and service.forwarder.cursor >= max(old), 60)
            assert await service.prune() == len(old)
            remaining = {e.id for e in v.events()}
            assert not old & remaining
            assert remaining, "the service's own, recent events are kept"
            assert old <= await asyncio.to_thread(vm.wait_for_ids, old, 30.0)

    run(scenario)


def test_without_a_forwarder_only_age_decides(mosquitto: MosquittoBroker, tmp_path: Path) -> None:
    config = example_venue(mosquitto.url, tmp_path)
    config = config.model_copy(update={"store": config.store.model_copy(update={"retention_days": 7})})
    old = seed_old_events(Path(config.store.path), config.venue.id, 20, age_days=8)
    young = seed_old_events(Path(config.store.path), config.venue.id, 5, age_days=6)
    # The venue ran until now: its newest event agrees with the clock (controller/core/retention.py believes it).
    young |= seed_old_events(Path(config.store.path), config.venue.id, 1, age_days=0)

    async def scenario() -> None:
        async with running_venue(config) as v:
            # The service prunes once as it starts; the old events are gone, the younger ones stay.
            await wait_until(lambda: not old & {e.id for e in v.events()}, 10, "the start-up prune")
            assert young <= {e.id for e in v.events()}

    run(scenario)
