"""Events per second into the event record (each durable before it is acknowledged), and from it to InfluxDB.

What is measured, in one process and on loopback, the way the service uses these parts:

- `durable`: `--producers` asyncio tasks each loop `await record.append(...)` (as the service awaits a kiosk
  check-in before acknowledging it) until `--events` events or `--seconds` seconds. Events/s, the latency of
  each append (emit -> committed and the caller resumed), and the size and duration of each commit (one SQLite
  transaction with `synchronous=FULL`: the WAL is synced before any waiter of that batch is resolved).
- `emit`: `--events` fire-and-forget `emit()` calls (device reports, commands: nothing waits for them), then one
  `flush()`; events/s of the calls alone and until everything is committed.
- `forward`: a victoria-metrics of its own on a free loopback port (Debian's `/usr/bin/victoria-metrics`, the
  InfluxDB v2 write endpoint of the tests), and the service's `InfluxForwarder` copying everything recorded so
  far: time until its durable cursor reaches the last id, events/s, and how many event ids the server has.
- `sustained`: `--rate` events/s (default 10,000) emitted for `--seconds` seconds, paced by the clock, while the
  forwarder runs: per second, events emitted, committed and forwarded, and the lag (committed - cursor); then
  the time until the lag is 0. The forwarder keeps up when the lag stays flat instead of growing.

Event payloads are a mix of what the service writes (device_state 50 %, command_sent 30 %, checkin 10 %,
profile_activated 10 %), from 50 devices and 3 communities, each timestamped with the clock when emitted; in the
durable phase a check-in carries its presence row in the same transaction, as the service's does.

How to read it. The targets (issue 5): >= 10,000 events/s into the record with every event durable before it is
acknowledged, and a forwarder that keeps up with that rate. Everything stops by itself (bounded waits); temp
folders are removed and the server is stopped on the way out, also on Ctrl-C.

    .venv/bin/python bench/record_throughput.py                    # 100,000 events, 100 producers, 10 s at 10k/s
    .venv/bin/python bench/record_throughput.py --producers 1000 --events 200000 --json
"""

from __future__ import annotations

import argparse
import asyncio
import json
import math
import sys
import tempfile
import time
from collections.abc import Sequence
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from _venue import fmt, percentile, summary_ms

from controller.shell.forwarder import InfluxForwarder
from controller.shell.record import EventRecord, Mutation, presence_upsert
from profiles.venue import InfluxSettings
from testkit.processes import interruptible
from testkit.victoria import VictoriaMetrics, find_binary

COMMUNITIES = ("book-club", "spicy-tech-gossip", "house")
DEVICES = tuple(f"light-{i:03d}" for i in range(50))
FORWARD_TIMEOUT_S = 30.0
DRAIN_TIMEOUT_S = 20.0


# -- events -------------------------------------------------------------------------------------------------------


def mutations(type_: str, payload: dict[str, Any], now: datetime) -> list[Mutation]:
    """What the service commits with the event: a check-in's presence row."""
    if type_ == "checkin":
        return [presence_upsert(payload["member_id"], payload["community_id"], now)]
    return []


def event(i: int) -> tuple[str, dict[str, Any]]:
    """The i-th event of the mix: (type, payload), shaped like the service's."""
    device = DEVICES[i % len(DEVICES)]
    kind = i % 10
    if kind < 5:
        state = {"on": True, "brightness": float(i % 100), "color_temp_k": 2700 + i % 7 * 100}
        return "device_state", {"device_id": device, "kind": "light", "state": state}
    if kind < 8:
        payload = {"state": "ON", "brightness": i % 254, "color_temp": 370, "transition": 3}
        return "command_sent", {"device_id": device, "topic": f"zigbee2mqtt/{device}/set", "payload": payload}
    community = COMMUNITIES[i % len(COMMUNITIES)]
    if kind == 8:
        return "checkin", {"member_id": f"m{i}", "community_id": community, "source": "mqtt", "present": i % 40}
    return "profile_activated", {
        "community_id": community,
        "active": [community],
        "source": "headcount",
        "previous": None,
        "headcount": {c: (i + n) % 20 for n, c in enumerate(COMMUNITIES)},
    }


class MeasuredRecord(EventRecord):
    """The real record, with the size and duration of every commit (group) noted on the way: measurement only."""

    def __init__(self, path: Path, venue_id: str) -> None:
        self.commits: list[tuple[int, float]] = []  # (events, seconds), appended by the writer thread
        super().__init__(path, venue_id)

    def _commit(self, batch: list[Any]) -> None:
        started = time.perf_counter()
        super()._commit(batch)
        if batch:
            self.commits.append((len(batch), time.perf_counter() - started))


# -- phases -------------------------------------------------------------------------------------------------------


async def durable_phase(record: MeasuredRecord, producers: int, events: int, seconds: float) -> dict[str, Any]:
    latencies: list[float] = []
    commits_before = len(record.commits)
    deadline = time.perf_counter() + seconds
    counter = iter(range(events))

    async def producer() -> None:
        for i in counter:  # shared: the producers take turns drawing the next index
            type_, payload = event(i)
            started = time.perf_counter()
            now = datetime.now(UTC)
            await record.append(type_, payload, now, mutations(type_, payload, now))
            latencies.append(time.perf_counter() - started)
            if started > deadline:
                return

    started = time.perf_counter()
    await asyncio.gather(*(producer() for _ in range(producers)))
    elapsed = time.perf_counter() - started
    commits = record.commits[commits_before:]
    sizes = [n for n, _ in commits]
    return {
        "producers": producers,
        "events": len(latencies),
        "seconds": round(elapsed, 3),
        "events_per_s": round(len(latencies) / elapsed),
        "latency_ms": summary_ms(latencies),
        "commits": len(commits),
        "batch": _batch_stats(sizes),
        "commit_ms": summary_ms([s for _, s in commits]),
    }


def _batch_stats(sizes: Sequence[int]) -> dict[str, float]:
    if not sizes:
        return {"mean": math.nan, "p50": math.nan, "p99": math.nan, "max": math.nan}
    return {
        "mean": round(sum(sizes) / len(sizes), 1),
        "p50": percentile(sizes, 50),
        "p99": percentile(sizes, 99),
        "max": max(sizes),
    }


def emit_phase(record: MeasuredRecord, events: int) -> dict[str, Any]:
    commits_before = len(record.commits)
    started = time.perf_counter()
    for i in range(events):
        type_, payload = event(i)
        record.emit(type_, payload, datetime.now(UTC))
    queued = time.perf_counter() - started
    flushed = record.flush(60.0)
    elapsed = time.perf_counter() - started
    sizes = [n for n, _ in record.commits[commits_before:]]
    return {
        "events": events,
        "emit_per_s": round(events / queued),
        "committed_per_s": round(events / elapsed),
        "seconds": round(elapsed, 3),
        "flushed": flushed,
        "commits": len(sizes),
        "batch": _batch_stats(sizes),
    }


def forward_phase(record: EventRecord, forwarder: InfluxForwarder, server: VictoriaMetrics) -> dict[str, Any]:
    last_id = record.committed_id
    started = time.perf_counter()
    forwarder.start()
    reached = wait(lambda: forwarder.cursor >= last_id, FORWARD_TIMEOUT_S)
    elapsed = time.perf_counter() - started
    stored = len(server.event_ids(timeout_s=30.0))
    return {
        "events": last_id,
        "batch": forwarder.batch,
        "seconds": round(elapsed, 3),
        "events_per_s": round(forwarder.cursor / elapsed),
        "reached_last_id": reached,
        "cursor": forwarder.cursor,
        "stored_in_server": stored,
        "last_error": forwarder.last_error,
    }


async def sustained_phase(
    record: EventRecord, forwarder: InfluxForwarder, rate: float, seconds: float
) -> dict[str, Any]:
    """Emit `rate` events/s for `seconds`, sampling emitted/committed/forwarded once a second; then drain."""
    emitted = 0
    start_id = record.committed_id
    start_cursor = forwarder.cursor
    seconds_rows: list[dict[str, Any]] = []
    started = time.perf_counter()
    next_sample = started + 1.0
    while True:
        now = time.perf_counter()
        elapsed = now - started
        due = min(round(rate * elapsed), round(rate * seconds))
        for i in range(emitted, due):
            type_, payload = event(i)
            record.emit(type_, payload, datetime.now(UTC))
        emitted = due
        if now >= next_sample:
            seconds_rows.append(_sample(record, forwarder, emitted, start_id, start_cursor, now - started))
            next_sample += 1.0
        if elapsed >= seconds:
            break
        await asyncio.sleep(0.005)
    emit_end = time.perf_counter()
    last_id = start_id + emitted
    drained = await asyncio.to_thread(wait, lambda: forwarder.cursor >= last_id, DRAIN_TIMEOUT_S)
    drain_s = time.perf_counter() - emit_end
    lags = [row["lag"] for row in seconds_rows]
    return {
        "rate_target": rate,
        "seconds": seconds,
        "emitted": emitted,
        "rate_achieved": round(emitted / (emit_end - started)),
        "per_second": seconds_rows,
        "max_lag": max(lags, default=0),
        "forwarded_per_s": round((forwarder.cursor - start_cursor) / (time.perf_counter() - started)),
        "drained": drained,
        "drain_s": round(drain_s, 3) if drained else None,
        "last_error": forwarder.last_error,
    }


def _sample(
    record: EventRecord, forwarder: InfluxForwarder, emitted: int, start_id: int, start_cursor: int, at: float
) -> dict[str, Any]:
    committed, cursor = record.committed_id, forwarder.cursor
    return {
        "t": round(at, 1),
        "emitted": emitted,
        "committed": committed - start_id,
        "forwarded": cursor - start_cursor,
        "lag": committed - cursor,
    }


def wait(condition: Any, timeout_s: float) -> bool:
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        if condition():
            return True
        time.sleep(0.01)
    return bool(condition())


# -- main ---------------------------------------------------------------------------------------------------------


async def measure(args: argparse.Namespace, workdir: Path, server: VictoriaMetrics | None) -> dict[str, Any]:
    record = MeasuredRecord(workdir / "record.db", "bench-record")
    forwarder: InfluxForwarder | None = None
    try:
        result: dict[str, Any] = {"bench": "record_throughput"}
        result["durable"] = await durable_phase(record, args.producers, args.events, args.seconds)
        result["emit"] = await asyncio.to_thread(emit_phase, record, args.events)
        if server is None:
            result["forward"] = result["sustained"] = {"skipped": "victoria-metrics is not installed"}
            return result
        settings = InfluxSettings(url=server.url, org="venue", bucket="ambience")
        forwarder = InfluxForwarder(record.path, settings, "bench", batch=args.batch, idle_s=0.05)
        result["forward"] = await asyncio.to_thread(forward_phase, record, forwarder, server)
        result["sustained"] = await sustained_phase(record, forwarder, args.rate, args.seconds)
        return result
    finally:
        if forwarder is not None:
            await asyncio.to_thread(forwarder.close)
        await asyncio.to_thread(record.close)


def report(result: dict[str, Any]) -> None:
    d = result["durable"]
    lat, batch, commit = d["latency_ms"], d["batch"], d["commit_ms"]
    print(
        f"durable:   {d['events']} events by {d['producers']} producers awaiting append() in {fmt(d['seconds'])} s"
        f" = {d['events_per_s']} events/s"
    )
    print(
        f"           append -> durable p50/p99/max {fmt(lat['p50'])}/{fmt(lat['p99'])}/{fmt(lat['max'])} ms;"
        f" {d['commits']} commits, events per commit mean/p50/p99/max {fmt(batch['mean'], 1)}/{batch['p50']}/"
        f"{batch['p99']}/{batch['max']}; commit p50/p99 {fmt(commit['p50'])}/{fmt(commit['p99'])} ms"
    )
    e = result["emit"]
    print(
        f"emit:      {e['events']} fire-and-forget emit() calls at {e['emit_per_s']}/s; all committed after"
        f" {fmt(e['seconds'])} s = {e['committed_per_s']} events/s ({e['commits']} commits, mean"
        f" {fmt(e['batch']['mean'], 1)} events each)"
    )
    f = result["forward"]
    if "skipped" in f:
        print(f"forward:   skipped: {f['skipped']}")
        return
    print(
        f"forward:   {f['events']} events from the record to victoria-metrics (batch {f['batch']}) in"
        f" {fmt(f['seconds'])} s = {f['events_per_s']} events/s; cursor {f['cursor']}"
        f" ({'reached' if f['reached_last_id'] else 'NOT reached'} the last id); distinct event ids in the server"
        f" {f['stored_in_server']}; last error {f['last_error']}"
    )
    s = result["sustained"]
    print(
        f"sustained: {s['emitted']} events at {s['rate_achieved']}/s (target {fmt(s['rate_target'], 0)}/s) for"
        f" {fmt(s['seconds'], 0)} s with the forwarder running: forwarded {s['forwarded_per_s']}/s, max lag"
        f" {s['max_lag']}, drained {fmt(s['drain_s']) if s['drained'] else 'NOT'} s after the last emit;"
        f" last error {s['last_error']}"
    )
    print("           t(s)  emitted  committed  forwarded    lag")
    for row in s["per_second"]:
        print(
            f"           {row['t']:>4}  {row['emitted']:>7}  {row['committed']:>9}  {row['forwarded']:>9}"
            f"  {row['lag']:>5}"
        )


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--events", type=int, default=100_000, help="events for the durable and emit phases")
    parser.add_argument("--producers", type=int, default=100, help="concurrent tasks awaiting append()")
    parser.add_argument(
        "--seconds", type=float, default=10.0, help="length of the sustained phase; also caps the durable phase"
    )
    parser.add_argument("--rate", type=float, default=10_000.0, help="events/s of the sustained phase")
    parser.add_argument("--batch", type=int, default=1000, help="the forwarder's batch (its default: 1000)")
    parser.add_argument("--json", action="store_true", help="print one JSON line instead of the report")
    args = parser.parse_args(argv)
    if args.events < 1 or args.producers < 1 or args.seconds <= 0 or args.rate <= 0 or args.batch < 1:
        print("error: --events, --producers, --batch must be >= 1; --seconds and --rate > 0", file=sys.stderr)
        return 2
    server: VictoriaMetrics | None = None
    try:
        with interruptible(), tempfile.TemporaryDirectory(prefix="bench-record-") as tmp:
            try:
                binary = find_binary()
                if binary is not None:
                    (Path(tmp) / "vm").mkdir()
                    server = VictoriaMetrics(binary, Path(tmp) / "vm")
                    server.start()  # from the main thread: die_with_parent follows the thread that started it
                result = asyncio.run(measure(args, Path(tmp), server))
            finally:
                if server is not None:
                    server.stop()
    except KeyboardInterrupt:
        print("interrupted; everything stopped", file=sys.stderr)
        return 130
    if args.json:
        print(json.dumps(result, separators=(",", ":")))
    else:
        report(result)
    return 0


if __name__ == "__main__":
    sys.exit(main())
