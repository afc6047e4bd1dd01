"""A burst of kiosk check-ins: does the service keep up, and does coalescing hold commands to one per window?

What is measured. The same loopback venue as `checkin_latency.py` (Mosquitto, simulated devices and the service
as processes; `--devices` generated devices). Once the room has settled, a kiosk publishes `--rate` messages/s
(QoS 1) for `--seconds` seconds, paced by the clock and bounded in count and time: check-ins of distinct members,
in blocks that move from one community to the next (book-club, spicy-tech-gossip, house), and check-outs of
the oldest members present, so the leading community and the headcount, and therefore the room, keep changing
(about 25 changes of leader per second at 1,000 messages/s). Then:

- backlog: the service's event record (SQLite, table `events`) is polled during and after the burst; `lag` is
  messages published minus `checkin`/`checkout` events committed. Lag per second of the burst shows whether
  a backlog grows; `drain` is the time from the last publish until the last check-in/check-out event is
  committed (polled every 5 ms). `handling lag` is each check-in event's timestamp (taken by the service when
  it handles the message) minus the kiosk's publish time (same machine clock), per second of the burst.
- coalescing: an observer subscribed to every device's `/set` topic counts commands per device. For each
  device, the most commands seen within any sliding 250 ms window, and the smallest gap between two commands;
  the design allows one command per device per window, so the distribution should be all 1s (a gap just under
  250 ms is arrival jitter of a command the service held for exactly one window).
- the service's peak RSS (VmHWM) and CPU time.

How to read it. `lost` (published minus committed after the drain) and `rejected` must be 0; lag that stays
flat from second to second means no growing backlog (target: 1,000 check-ins/s for 10 s); `max per window`
should be 1 for every device. `--broker save-every-change` runs the broker with per-change persistence saves
(a diagnostic: the test broker writes its database after every retained message).

    .venv/bin/python bench/checkin_burst.py                    # 1,000/s for 10 s, 50 devices
    .venv/bin/python bench/checkin_burst.py --seconds 3 --json
"""

from __future__ import annotations

import argparse
import bisect
import collections
import itertools
import json
import math
import sqlite3
import sys
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from _venue import BROKER_KINDS, BenchError, BenchVenue, fmt, percentile

from testkit.processes import interruptible

BLOCK = 40  # messages per community block: the leader changes about every BLOCK messages
PRESENT = 10  # members kept present (check-outs start once this many are in)
ORDER = ("book-club", "spicy-tech-gossip", "house")


@dataclass
class Published:
    """What the kiosk sent, shared with the poller thread (ints are updated atomically under the GIL)."""

    checkins: int = 0
    checkouts: int = 0
    sent_at: dict[str, float] = field(default_factory=dict)  # member -> wall-clock publish time (epoch s)

    @property
    def total(self) -> int:
        return self.checkins + self.checkouts


def _count(conn: sqlite3.Connection, since_id: int) -> tuple[int, int, int]:
    rows = conn.execute(
        "SELECT type, COUNT(*) FROM events WHERE id > ? AND type IN ('checkin', 'checkout', 'input_rejected')"
        " GROUP BY type",
        (since_id,),
    ).fetchall()
    counts = dict(rows)
    return counts.get("checkin", 0), counts.get("checkout", 0), counts.get("input_rejected", 0)


class Poller(threading.Thread):
    """Samples (seconds since burst start, published, committed) every `interval_s` until stopped."""

    def __init__(self, connect: Callable[[], sqlite3.Connection], since_id: int, published: Published) -> None:
        super().__init__(name="bench-db-poller", daemon=True)
        self.connect = connect
        self.since_id = since_id
        self.published = published
        self.samples: list[tuple[float, int, int]] = []
        self.started_at = time.perf_counter()
        self.stop_event = threading.Event()

    def run(self) -> None:
        conn = self.connect()
        try:
            while not self.stop_event.wait(0.1):
                sent = self.published.total
                checkins, checkouts, _ = _count(conn, self.since_id)
                self.samples.append((time.perf_counter() - self.started_at, sent, checkins + checkouts))
        finally:
            conn.close()


def publish_burst(venue: BenchVenue, rate: float, seconds: float, published: Published) -> tuple[float, float]:
    """Paced publishing; returns (burst duration, perf_counter of the last publish). Bounded by count and by
    3x the planned time (a kiosk that cannot keep up stops rather than run on)."""
    assert venue.kiosk is not None
    kiosk = venue.kiosk
    total = max(1, round(rate * seconds))
    present: collections.deque[str] = collections.deque()
    start = time.perf_counter()
    hard_stop = start + 3 * seconds + 5
    last = start
    info = None
    for i in range(total):
        target = start + i / rate
        now = time.perf_counter()
        if now < target:
            time.sleep(target - now)
        elif now > hard_stop:
            print(f"# kiosk stopped after {i} messages: could not keep the pace", file=sys.stderr)
            break
        if i % 2 == 1 and len(present) >= PRESENT:
            member = present.popleft()
            info = kiosk.checkout(member)
            published.checkouts += 1
        else:
            member = f"burst-{i:07d}"
            published.sent_at[member] = time.time()
            info = kiosk.checkin(member, ORDER[(i // BLOCK) % len(ORDER)])
            present.append(member)
            published.checkins += 1
        last = time.perf_counter()
    if info is not None:
        info.wait_for_publish(30)
    return last - start, last


def wait_drained(
    venue: BenchVenue, since_id: int, published: Published, last_publish: float, timeout_s: float
) -> tuple[float, tuple[int, int, int]]:
    """Poll (every 5 ms) until every published message has its event; returns (drain seconds, counts)."""
    conn = venue.db()
    try:
        deadline = time.perf_counter() + timeout_s
        while True:
            counts = _count(conn, since_id)
            if counts[0] >= published.checkins and counts[1] >= published.checkouts:
                return time.perf_counter() - last_publish, counts
            if time.perf_counter() > deadline:
                return math.nan, counts
            venue.check_alive()
            time.sleep(0.005)
    finally:
        conn.close()


def handling_lag(
    venue: BenchVenue, since_id: int, published: Published, burst_start_wall: float
) -> dict[int, list[float]]:
    """Per second of the burst: service handling time minus kiosk publish time of each check-in (seconds)."""
    conn = venue.db()
    try:
        rows = conn.execute("SELECT ts, payload FROM events WHERE id > ? AND type = 'checkin'", (since_id,)).fetchall()
    finally:
        conn.close()
    by_second: dict[int, list[float]] = collections.defaultdict(list)
    for ts, payload in rows:
        member = json.loads(payload).get("member_id")
        sent = published.sent_at.get(member)
        if sent is None:
            continue
        handled = datetime.fromisoformat(ts).timestamp()
        by_second[int(sent - burst_start_wall)].append(handled - sent)
    return by_second


def command_stats(sets: list[tuple[float, str]], topics: list[str], window_s: float) -> dict[str, Any]:
    """Commands per device: total, the most within any sliding window, and the smallest gap between two."""
    times: dict[str, list[float]] = {t: [] for t in topics}
    for at, topic in sets:
        if topic in times:
            times[topic].append(at)
    max_per_window: dict[str, int] = {}
    min_gap: dict[str, float] = {}
    for topic, ts in times.items():
        ts.sort()
        best = 0
        for i, t in enumerate(ts):
            best = max(best, bisect.bisect_left(ts, t + window_s) - i)
        max_per_window[topic] = best
        gaps = [b - a for a, b in itertools.pairwise(ts)]
        min_gap[topic] = min(gaps) if gaps else math.nan
    totals = [len(ts) for ts in times.values()]
    gaps_ms = [g * 1000 for g in min_gap.values() if not math.isnan(g)]
    return {
        "max_per_window_distribution": dict(sorted(collections.Counter(max_per_window.values()).items())),
        "max_per_window": max(max_per_window.values(), default=0),
        "min_gap_ms": round(min(gaps_ms), 2) if gaps_ms else math.nan,
        "gaps_under_window": sum(1 for ts in times.values() for a, b in itertools.pairwise(ts) if b - a < window_s),
        "per_device_total": {
            "min": min(totals, default=0),
            "p50": percentile(totals, 50),
            "max": max(totals, default=0),
        },
        "commands": sum(totals),
    }


def wait_commands_seen(venue: BenchVenue, since_id: int, timeout_s: float) -> None:
    """Until the observer has seen as many /set commands as the service recorded sending (a slow broker may
    still be delivering them), or `timeout_s`."""
    assert venue.observer is not None
    conn = venue.db()
    try:
        deadline = time.perf_counter() + timeout_s
        while time.perf_counter() < deadline:
            sent = conn.execute(
                "SELECT COUNT(*) FROM events WHERE id > ? AND type = 'command_sent'", (since_id,)
            ).fetchone()[0]
            if len(venue.observer.sets) >= sent:
                return
            time.sleep(0.05)
    finally:
        conn.close()


def service_command_stats(venue: BenchVenue, since_id: int, window_s: float) -> dict[str, Any]:
    """The same statistics from the service's own `command_sent` events (timestamped when it planned them),
    which leaves out broker and network jitter."""
    conn = venue.db()
    try:
        rows = conn.execute(
            "SELECT ts, payload FROM events WHERE id > ? AND type = 'command_sent'", (since_id,)
        ).fetchall()
    finally:
        conn.close()
    topic_of = {d["id"]: venue.topic_of[d["id"]] for d in venue.devices}
    sets = [
        (datetime.fromisoformat(ts).timestamp(), topic_of.get(json.loads(payload).get("device_id"), "?"))
        for ts, payload in rows
    ]
    return command_stats(sets, list(venue.state_topics), window_s)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--rate", type=float, default=1000.0, help="kiosk messages per second")
    parser.add_argument("--seconds", type=float, default=10.0, help="length of the burst")
    parser.add_argument("--devices", type=int, default=50, help="generated venue size")
    parser.add_argument("--window-ms", type=float, default=250.0, help="the coalescing window to check against")
    parser.add_argument("--drain-timeout", type=float, default=60.0, help="seconds to wait for the record after")
    parser.add_argument(
        "--broker",
        choices=BROKER_KINDS,
        default="default",
        help="'default': persistence saved once a second (as the demo runs it); "
        "'save-every-change': saved after every retained message, as tests that SIGKILL the broker need",
    )
    parser.add_argument("--json", action="store_true", help="print one JSON line instead of the report")
    parser.add_argument("--keep", action="store_true", help="keep the temp folder (logs, record) for a look")
    args = parser.parse_args(argv)
    if args.rate <= 0 or args.seconds <= 0 or args.devices < 4:
        print("error: --rate and --seconds must be > 0, --devices >= 4", file=sys.stderr)
        return 2
    window_s = args.window_ms / 1000

    try:
        with (
            interruptible(),
            BenchVenue(args.devices, keep=args.keep, broker=args.broker, kiosk_inflight=1000) as venue,
        ):
            assert venue.observer is not None and venue.kiosk is not None
            default = venue.default_profile or "house"
            venue.wait_ready(default, 30 + 0.2 * len(venue.devices))
            time.sleep(0.5)
            conn = venue.db()
            since_id = conn.execute("SELECT COALESCE(MAX(id), 0) FROM events").fetchone()[0]
            conn.close()
            published = Published()
            cpu_before = venue.cpu_by_process()
            venue.observer.record_sets = True
            poller = Poller(venue.db, since_id, published)
            poller.start()
            burst_start_wall = time.time()
            burst_s, last_publish = publish_burst(venue, args.rate, args.seconds, published)
            drain_s, (checkins, checkouts, rejected) = wait_drained(
                venue, since_id, published, last_publish, args.drain_timeout
            )
            time.sleep(2 * window_s + 0.5)  # the last held commands go out when their window ends
            wait_commands_seen(venue, since_id, timeout_s=5.0)
            poller.stop_event.set()
            poller.join(5)
            venue.observer.record_sets = False
            cpu_after = venue.cpu_by_process()
            rss = venue.service_rss_mb()
            commands = command_stats(list(venue.observer.sets), list(venue.state_topics), window_s)
            lags = handling_lag(venue, since_id, published, burst_start_wall)
            service_side = service_command_stats(venue, since_id, window_s)
            devices = len(venue.devices)
            venue.stop()
            service_exit = venue.service_exit
            final_status = (venue.final_status or b"").decode(errors="replace")
    except BenchError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 1
    except KeyboardInterrupt:
        print("interrupted; everything stopped", file=sys.stderr)
        return 130

    # Backlog at the end of each second of the burst (the last poller sample in that second).
    lag_by_second: dict[int, int] = {}
    for at, sent, done in poller.samples:
        if at <= burst_s + 0.05:
            lag_by_second[int(at)] = sent - done
    max_lag = max((sent - done for at, sent, done in poller.samples if at <= burst_s + 0.05), default=0)
    all_lags = [x for values in lags.values() for x in values]
    result: dict[str, Any] = {
        "bench": "checkin_burst",
        "broker": args.broker,
        "devices": devices,
        "rate_target": args.rate,
        "published": published.total,
        "published_checkins": published.checkins,
        "published_checkouts": published.checkouts,
        "burst_s": round(burst_s, 3),
        "rate_achieved": round(published.total / burst_s, 1) if burst_s > 0 else math.nan,
        "committed_checkins": checkins,
        "committed_checkouts": checkouts,
        "lost": published.total - checkins - checkouts,
        "rejected": rejected,
        "lag_by_second": [lag_by_second.get(s) for s in range(math.ceil(burst_s))],
        "max_lag": max_lag,
        "drain_ms": round(drain_s * 1000, 1) if not math.isnan(drain_s) else None,
        "handling_lag_ms": {
            "p50": round(percentile(all_lags, 50) * 1000, 1),
            "p99": round(percentile(all_lags, 99) * 1000, 1),
            "max": round(max(all_lags, default=math.nan) * 1000, 1),
        },
        "handling_lag_p50_ms_by_second": [
            round(percentile(lags.get(s, []), 50) * 1000, 1) for s in range(math.ceil(burst_s))
        ],
        "commands": commands,
        "service_commands": service_side,
        "service_peak_rss_mb": round(rss, 1),
        "cpu_s": {name: round(cpu_after[name] - cpu_before[name], 2) for name in cpu_after},
        "service_exit": service_exit,
        "service_final_status": final_status,
    }
    if args.json:
        print(json.dumps(result, separators=(",", ":")))
        return 0
    per_dev = commands["per_device_total"]
    print(
        f"burst: {result['published']} messages ({published.checkins} check-ins, {published.checkouts} check-outs)"
        f" in {fmt(burst_s)} s = {fmt(result['rate_achieved'], 0)}/s (target {fmt(args.rate, 0)}/s),"
        f" {devices} devices, broker {args.broker}"
    )
    print(
        f"record:   committed {checkins} check-ins + {checkouts} check-outs; lost {result['lost']};"
        f" rejected {rejected}; drain after last publish {fmt(result['drain_ms'] or math.nan, 1)} ms"
    )
    print(f"backlog:  lag (published - committed) at the end of each second {result['lag_by_second']}, max {max_lag}")
    hl = result["handling_lag_ms"]
    print(
        f"handling: publish -> service handles check-in p50/p99/max {fmt(hl['p50'], 1)}/{fmt(hl['p99'], 1)}/"
        f"{fmt(hl['max'], 1)} ms; p50 by second {result['handling_lag_p50_ms_by_second']}"
    )
    print(
        f"commands: {commands['commands']} /set seen by the observer ({service_side['commands']} command_sent"
        f" events); per device min/p50/max {per_dev['min']}/{fmt(per_dev['p50'], 0)}/{per_dev['max']}"
    )
    for label, stats in (("as received", commands), ("as sent", service_side)):
        print(
            f"  {label:<12} max commands per device in any {fmt(args.window_ms, 0)} ms window:"
            f" {stats['max_per_window_distribution']} (max: devices); min gap {fmt(stats['min_gap_ms'])} ms;"
            f" gaps under the window {stats['gaps_under_window']}"
        )
    cpu = result["cpu_s"]
    print(
        f"service:  peak RSS {fmt(rss, 1)} MB; CPU s during the run: "
        + ", ".join(f"{name} {fmt(value)}" for name, value in cpu.items())
        + f"; exit code {service_exit}, status {final_status!r}"
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
