"""The broker persistence check's parsing and verdicts (controller/shell/broker_check.py), without a broker:
tests/e2e/test_cli_broker_check.py runs it through `ambience run` against real Mosquittos."""

from __future__ import annotations

from pathlib import Path

import pytest

from controller.shell.broker_check import (
    SYS_STALE_S,
    Marker,
    Memory,
    Observation,
    Verdict,
    judge,
    memory_path,
    parse_marker,
    parse_uptime,
    read_memory,
    write_memory,
)
from profiles.loader import parse_venue

BROKER = "127.0.0.1:1883"
NOW = 1_800_000_000.0


@pytest.mark.parametrize(
    ("payload", "uptime"),
    [(b"12345 seconds", 12345.0), (b"0 seconds", 0.0), (b"1 second", 1.0), (b"42", 42.0), (b"soon", None), (b"", None)],
)
def test_uptime_as_mosquitto_publishes_it(payload: bytes, uptime: float | None) -> None:
    assert parse_uptime(payload) == uptime


def test_a_marker_reads_back_and_anything_else_is_no_marker() -> None:
    assert parse_marker(Marker(NOW, 30.0).payload().encode()) == Marker(NOW, 30.0)
    assert parse_marker(Marker(NOW).payload().encode()) == Marker(NOW, None)
    for other in (b"", b"{}", b"[1]", b"not json", b'{"written_at": true}', b'{"written_at": "x"}'):
        assert parse_marker(other) is None, other


def seen(marker: Marker | None, uptime: float | None) -> Observation:
    return Observation(marker, uptime, NOW)


LEFT_HERE = Memory(BROKER, NOW - 5)


@pytest.mark.parametrize(
    ("observation", "memory", "verdict"),
    [
        # Gone, though this store left one on this broker: lost.
        (seen(None, 3.0), LEFT_HERE, Verdict.LOST),
        (seen(None, None), LEFT_HERE, Verdict.LOST),  # no $SYS needed to see a loss
        # Gone, but nothing was left here: the first check, or another broker at another address.
        (seen(None, 3.0), None, Verdict.UNKNOWN),
        (seen(None, 3.0), Memory("10.0.0.2:1883", NOW - 5), Verdict.UNKNOWN),
        # There, and the broker restarted since: its uptime went down, or it started after the marker was written.
        (seen(Marker(NOW - 5, 600.0), 2.0), LEFT_HERE, Verdict.KEPT),
        (seen(Marker(NOW - 3600), 60.0), LEFT_HERE, Verdict.KEPT),
        # There, and no restart proven: the same lifetime, or a restart the stale uptime cannot tell apart.
        (seen(Marker(NOW - 5, 0.0), 0.0), LEFT_HERE, Verdict.UNKNOWN),
        (seen(Marker(NOW - 5, 100.0), 105.0), LEFT_HERE, Verdict.UNKNOWN),
        (seen(Marker(NOW - 60 - SYS_STALE_S + 1), 60.0), LEFT_HERE, Verdict.UNKNOWN),
        (seen(Marker(NOW - 3600, 600.0), None), LEFT_HERE, Verdict.UNKNOWN),  # no $SYS: never proven kept
    ],
)
def test_verdicts(observation: Observation, memory: Memory | None, verdict: Verdict) -> None:
    assert judge(observation, memory, BROKER) is verdict


def test_the_memory_lives_beside_the_store_and_survives_a_bad_file(tmp_path: Path) -> None:
    store = {"path": str(tmp_path / "data" / "a.db")}
    venue = parse_venue({"venue": {"id": "v", "name": "V"}, "zones": ["main"], "devices": [], "store": store})
    path = memory_path(venue)
    assert path == tmp_path / "data" / "a.db.broker-check"
    path.parent.mkdir()
    assert read_memory(path) is None
    write_memory(path, LEFT_HERE)
    assert read_memory(path) == LEFT_HERE
    path.write_text("{half")
    assert read_memory(path) is None
