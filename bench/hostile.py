"""Hostile or careless input against a running venue: how much damage it does, in numbers (no assertions).

Each sub-command starts a whole venue on loopback (Mosquitto, the service with its API, the simulated devices: see
`_hostile.py`), waits until it is up, does one thing to it, and prints a few lines of figures:

- `bodies`: four concurrent unauthenticated `POST /api/v1/checkins`, 50 MiB each (one valid JSON check-in whose
  `community_id` is 50 MiB of 'x', with its Content-Length), sent over plain sockets that read whenever the
  server says something. A server may answer early and close: then sending stops and `sent before the answer`
  says how far it got (an upper bound of what the server read: the kernel's socket buffers hold a few MiB).
  Printed: each answer's status and time (connect -> first response byte); the service's resident memory
  (VmRSS before, the largest sampled every 50 ms during, 2 s after; VmHWM before and after); and the event-loop
  stall, as `GET /healthz` latency polled every 50 ms from 0.5 s before to 1 s after.
- `flood`: `--members` (30,000) unique members checked in by one kiosk over MQTT (QoS 1 on
  `ambience/<venue>/checkin`, up to 1,000 in flight, as fast as the broker acknowledges). Printed: how fast the
  broker took them, how many `checkin` events the record has (polled every 0.5 s in SQLite, read-only) and when
  the last was recorded, or, after `--timeout` (180 s from the first publish), how many were recorded by then;
  recorded per second in each 10 s window; `GET /healthz` p50/p99/max polled every 100 ms meanwhile.
- `slow`: `--connections` (200) sockets that send half a request line and go silent, then as many that send one
  full `GET /healthz`, read the answer and stay idle (keep-alive). After 5, 30 and 60 s (times `--scale`): how
  many of each are still open (closed = the server closed them), the service's open file descriptors, and
  whether a new `GET /healthz` answers (5 s timeout) and how fast.
- `echo`: ten 5 MiB kiosk check-ins over MQTT whose `community_id` (unknown) is 5 MiB of 'x', then one 50 MiB
  HTTP check-in with the admin token and an unknown 50 MiB `community_id`. Printed: how much the record grew
  (bytes on disk of the SQLite file + WAL + shm, and the characters of the stored `input_rejected` payloads),
  what `ambience/<venue>/rejected` carried (a subscriber counts messages and bytes), the HTTP status and
  response body size, and how much the service's log grew.
- `storm`: one light of the venue (`--device`, default the first light; the simulator leaves it to us) reports
  its state `--rate` (1,000) times a second for `--seconds` (10) on `<base_topic>/<topic>` (QoS 0, not
  retained): brightness 200, 200, 201, 201, 200, ... (every other report a tiny change, the others repeats).
  Printed: how many `device_state` events (and others) the record gained, their stored size, and what that
  rate means per day; `/healthz` latency and the service's CPU time meanwhile.

`--tree DIR` (default: this checkout) is the code under test: the service and the simulator run as
`python -m controller|firmware_sim` with their working directory and PYTHONPATH set to DIR, and the first line
printed says where `controller` and the API (entry point `ambience.http`) are imported from; the harness itself
imports nothing of the project, so before/after figures use the same client side. Figures are noisy on a small
or busy machine: run a scenario two or three times. Everything listens and connects on 127.0.0.1 only, every
loop is bounded in count and time, and every process started is stopped at the end, also on an error or Ctrl-C.

    git worktree add /tmp/ambience-before HEAD
    .venv/bin/python bench/hostile.py bodies --tree /tmp/ambience-before
    .venv/bin/python bench/hostile.py flood --members 30000 --timeout 180 --tree /tmp/ambience-before
    .venv/bin/python bench/hostile.py slow --scale 0.2          # 1, 6 and 12 s instead of 5, 30 and 60 s
    .venv/bin/python bench/hostile.py echo
    .venv/bin/python bench/hostile.py storm --json              # one JSON line instead of the report
"""

from __future__ import annotations

import argparse
import contextlib
import itertools
import json
import math
import resource
import socket
import sys
import threading
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import paho.mqtt.client as mqtt
from _hostile import (
    HOST,
    MIB,
    ROOT,
    BenchError,
    HealthPoller,
    PostResult,
    ResponseReader,
    RssSampler,
    Tree,
    Venue,
    cpu_seconds,
    fmt,
    http_get,
    json_body,
    json_safe,
    mib,
    open_fds,
    percentile,
    post_raw,
)

from testkit.processes import interruptible

Report = tuple[list[str], dict[str, Any]]
CHECKINS = "/api/v1/checkins"


def _status_line(venue: Venue) -> tuple[str, dict[str, Any]]:
    """Is the service alive and answering now?"""
    if not venue.alive():
        return f"service exited with {venue.service.returncode if venue.service else '?'}", {"alive": False}
    status, _, seconds = http_get(venue.api_port, "/healthz", 5.0)
    answer = f"/healthz {status} in {fmt(seconds * 1000)} ms" if status else "/healthz did not answer within 5 s"
    return f"service alive, {answer}", {"alive": True, "healthz_status": status, "healthz_ms": seconds * 1000}


# -- bodies ------------------------------------------------------------------------------------------------------


def bodies(tree: Tree, args: argparse.Namespace) -> Report:
    size = int(args.size_mb * MIB)
    body = json_body(size, "hostile-body")
    lines = [
        f"bodies: {args.clients} concurrent unauthenticated POST {CHECKINS} of {mib(size)} each"
        " (valid JSON, Content-Length given, no Authorization)"
    ]
    with Venue(tree, sim=not args.no_sim, keep=args.keep) as venue:
        rss_before, hwm_before = venue.rss()
        poller = HealthPoller(venue.api_port, args.poll_ms / 1000, timeout_s=30.0)
        sampler = RssSampler(venue.pid, 0.05)
        poller.start()
        sampler.start()
        time.sleep(0.5)
        results: list[PostResult | None] = [None] * args.clients
        barrier = threading.Barrier(args.clients)

        def send(i: int) -> None:
            with contextlib.suppress(threading.BrokenBarrierError):
                barrier.wait(10)
            results[i] = post_raw(venue.api_port, CHECKINS, body, args.deadline)

        threads = [
            threading.Thread(target=send, args=(i,), name=f"bench-body-{i}", daemon=True) for i in range(args.clients)
        ]
        started = time.perf_counter()
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join(max(1.0, started + args.deadline + 15 - time.perf_counter()))
        attack_s = time.perf_counter() - started
        time.sleep(1.0)  # a stall may outlast the last answer
        health = poller.stop()
        rss_max = sampler.stop()
        hwm_after = venue.rss()[1]
        time.sleep(2.0)
        rss_after = venue.rss()[0]
        status, status_data = _status_line(venue)

    for i, res in enumerate(results, 1):
        if res is None:
            lines.append(f"  client {i}: still sending at the deadline")
            continue
        answer = (
            f"{res.status} after {fmt(res.answer_s, 2)} s" if res.status is not None else "no answer"
        ) + f" (done after {fmt(res.elapsed_s, 2)} s)"
        sent = res.sent_at_answer if res.sent_at_answer is not None else res.sent
        share = 100 * sent / res.body_size if res.body_size else math.nan
        text = res.response_start[:80].decode(errors="replace")
        lines.append(
            f"  client {i}: {answer}; {mib(sent)} of {mib(res.body_size)} ({fmt(share, 0)}%) sent before the answer,"
            f" {mib(res.sent)} in all; response body {res.response_bytes} B {text!r}"
            + (f"; {res.error.strip()}" if res.error else "")
        )
    lines.append(
        f"  service RSS: before {fmt(rss_before)} MiB, max during {fmt(rss_max)} MiB, 2 s after {fmt(rss_after)} MiB;"
        f" VmHWM before {fmt(hwm_before)} MiB, after {fmt(hwm_after)} MiB"
    )
    lines.append(
        f"  /healthz every {args.poll_ms:g} ms from 0.5 s before to 1 s after the {fmt(attack_s, 2)} s attack: "
        + health.line()
        + " (max = the event-loop stall)"
    )
    lines.append(f"  after: {status}")
    data = {
        "clients": [r.as_dict() if r else None for r in results],
        "rss_before_mib": rss_before,
        "rss_max_during_mib": rss_max,
        "rss_after_mib": rss_after,
        "hwm_before_mib": hwm_before,
        "hwm_after_mib": hwm_after,
        "attack_s": attack_s,
        "healthz": health.as_dict(),
        **status_data,
    }
    return lines, data


# -- flood -------------------------------------------------------------------------------------------------------


class Acks:
    """PUBACKs seen by a kiosk (paho's thread counts; the main thread reads)."""

    def __init__(self) -> None:
        self.count = 0
        self.last_at = math.nan

    def on_publish(self, *_args: Any) -> None:
        self.count += 1
        self.last_at = time.perf_counter()


def flood(tree: Tree, args: argparse.Namespace) -> Report:
    n = args.members
    lines = [
        f"flood: {n} unique members checked in by one kiosk over MQTT (QoS 1, community {args.community},"
        f" up to {args.inflight} in flight)"
    ]
    with Venue(tree, sim=not args.no_sim, keep=args.keep) as venue:
        kiosk = venue.mqtt("hostile-kiosk", inflight=args.inflight)
        acks = Acks()
        kiosk.on_publish = acks.on_publish
        topic = venue.topic("checkin")
        since = venue.last_event_id()
        cpu_before = cpu_seconds(venue.pid)
        poller = HealthPoller(venue.api_port, 0.1, timeout_s=10.0, max_s=args.timeout + 30)
        published = [0]

        def publish_all() -> None:
            for i in range(n):
                body = json.dumps({"member_id": f"flood-{i:07d}", "community_id": args.community})
                kiosk.publish(topic, body, qos=1)
                published[0] = i + 1

        publisher = threading.Thread(target=publish_all, name="bench-kiosk", daemon=True)
        poller.start()
        started = time.perf_counter()
        publisher.start()
        samples: list[tuple[float, int]] = []
        done_at = math.nan
        died = False
        with contextlib.closing(venue.db()) as conn:
            while True:
                time.sleep(0.5)
                now = time.perf_counter() - started
                recorded = venue.count(conn, "checkin", since)
                samples.append((now, recorded))
                if recorded >= n:
                    done_at = now
                    break
                if now >= args.timeout:
                    break
                if not venue.alive():
                    died = True
                    break
        health = poller.stop()
        publisher.join(5)
        cpu = cpu_seconds(venue.pid) - cpu_before
        hwm = venue.rss()[1]
        status, status_data = _status_line(venue)

    recorded = samples[-1][1] if samples else 0
    acked_s = acks.last_at - started if acks.count >= n else math.nan
    lines.append(
        f"  kiosk: the broker acknowledged {acks.count} of {published[0]} published"
        + (f" in {fmt(acked_s, 2)} s ({fmt(n / acked_s, 0)}/s)" if not math.isnan(acked_s) else "")
    )
    if not math.isnan(done_at):
        lines.append(
            f"  recorded: all {n} check-ins within {fmt(done_at, 1)} s of the first publish"
            f" ({fmt(n / done_at, 0)}/s on average)"
        )
    else:
        why = "the service exited" if died else f"gave up after {args.timeout:g} s"
        elapsed = samples[-1][0] if samples else math.nan
        lines.append(
            f"  recorded: {why}: {recorded} of {n} check-ins recorded by then"
            f" ({fmt(recorded / elapsed, 0)}/s on average)"
        )
    windows: list[float] = []
    previous = 0
    end = samples[-1][0] if samples else 0.0
    for edge in range(10, int(end) + 10, 10):
        upto = [c for t, c in samples if t <= edge]
        if not upto:
            continue
        span = min(10.0, end - (edge - 10))
        windows.append((upto[-1] - previous) / span if span > 0 else math.nan)
        previous = upto[-1]
    times = [0.0, *(t for t, _ in samples)]
    gap = max((b - a for a, b in itertools.pairwise(times)), default=math.nan)
    lines.append(
        "  recorded per second in each 10 s window: "
        + ", ".join(fmt(w, 0) for w in windows)
        + f" (record polled every 0.5 s, longest gap between polls {fmt(gap, 2)} s)"
    )
    lines.append("  /healthz every 100 ms meanwhile: " + health.line())
    lines.append(f"  service: CPU {fmt(cpu)} s meanwhile, VmHWM {fmt(hwm)} MiB; after: {status}")
    data = {
        "members": n,
        "published": published[0],
        "acked": acks.count,
        "acked_s": acked_s,
        "recorded": recorded,
        "all_recorded_s": done_at,
        "timeout_s": args.timeout,
        "per_second_by_10s": windows,
        "longest_poll_gap_s": gap,
        "healthz": health.as_dict(),
        "service_cpu_s": cpu,
        "hwm_mib": hwm,
        **status_data,
    }
    return lines, data


# -- slow --------------------------------------------------------------------------------------------------------


class Conn:
    """One client socket of the `slow` scenario and what the server did with it."""

    def __init__(self, sock: socket.socket) -> None:
        sock.setblocking(True)  # no timeout mode: then MSG_DONTWAIT reads return at once instead of waiting
        self.sock = sock
        self.closed_at: float | None = None
        self.answered = 0  # bytes the server sent on it after our setup

    def poll(self, now: float) -> bool:
        """Still open? Reads (and counts) whatever the server sent; EOF or an error means it closed."""
        if self.closed_at is not None:
            return False
        for _ in range(64):
            try:
                data = self.sock.recv(65536, socket.MSG_DONTWAIT)
            except BlockingIOError:
                return True
            except OSError:
                break
            if not data:
                break
            self.answered += len(data)
        else:
            return True
        self.closed_at = now
        return False


def _one_request(port: int, timeout_s: float) -> tuple[Conn | None, float]:
    """A connection that sent one full keep-alive `GET /healthz` and read its answer: (it, seconds)."""
    t0 = time.perf_counter()
    try:
        sock = socket.create_connection((HOST, port), timeout=timeout_s)
    except OSError:
        return None, math.nan
    try:
        sock.sendall(f"GET /healthz HTTP/1.1\r\nHost: {HOST}:{port}\r\n\r\n".encode())
        reader = ResponseReader()
        deadline = t0 + timeout_s
        while not reader.complete and time.perf_counter() < deadline:
            data = sock.recv(65536)
            if not data:
                break
            reader.feed(data, time.perf_counter())
        if reader.complete:
            return Conn(sock), time.perf_counter() - t0
    except (OSError, ValueError):
        pass
    sock.close()
    return None, math.nan


def slow(tree: Tree, args: argparse.Namespace) -> Report:
    k = args.connections
    checkpoints = [5 * args.scale, 30 * args.scale, 60 * args.scale]
    lines = [
        f"slow: {k} connections that sent half a request line ('GET /healthz HT') and went silent, then {k} idle"
        " keep-alive connections after one full GET /healthz"
    ]
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    with Venue(tree, sim=not args.no_sim, keep=args.keep) as venue:
        if soft < 2 * k + 200:  # this process only: the service keeps the limit it was started with
            resource.setrlimit(resource.RLIMIT_NOFILE, (min(hard, 2 * k + 200), hard))
        fds_before = open_fds(venue.pid)
        half: list[Conn] = []
        idle: list[Conn] = []
        first_answers: list[float] = []
        failed = 0
        checks: list[dict[str, Any]] = []
        try:
            open_by = time.perf_counter() + 60
            for _ in range(k):
                if time.perf_counter() > open_by:
                    break
                try:
                    sock = socket.create_connection((HOST, venue.api_port), timeout=5)
                    sock.sendall(b"GET /healthz HT")
                    half.append(Conn(sock))
                except OSError:
                    failed += 1
            for _ in range(k):
                if time.perf_counter() > open_by:
                    break
                conn, seconds = _one_request(venue.api_port, 10.0)
                if conn is None:
                    failed += 1
                else:
                    idle.append(conn)
                    first_answers.append(seconds * 1000)
            t0 = time.perf_counter()
            fds_open = open_fds(venue.pid)
            lines.append(
                f"  opened {len(half)} + {len(idle)} ({failed} failed) in {fmt(t0 - (open_by - 60), 2)} s;"
                f" the keep-alive ones' one answer p50 {fmt(percentile(first_answers, 50))} ms,"
                f" max {fmt(max(first_answers, default=math.nan))} ms; service fds {fds_before} -> {fds_open}"
            )
            for at in checkpoints:
                while (now := time.perf_counter()) < t0 + at:
                    for conn in (*half, *idle):
                        conn.poll(now - t0)
                    time.sleep(min(0.25, max(0.0, t0 + at - time.perf_counter())))
                now = time.perf_counter()
                half_open = sum(c.poll(now - t0) for c in half)
                idle_open = sum(c.poll(now - t0) for c in idle)
                answered = sum(1 for c in half if c.answered)
                fds = open_fds(venue.pid)
                code, _, seconds = http_get(venue.api_port, "/healthz", 5.0)
                new = f"{code} in {fmt(seconds * 1000)} ms" if code else "no answer within 5 s"
                lines.append(
                    f"  after {at:5.1f} s: half-line open {half_open}/{len(half)}"
                    f" ({answered} got a response), keep-alive open {idle_open}/{len(idle)};"
                    f" service fds {fds}; a new GET /healthz: {new}"
                )
                checks.append(
                    {
                        "at_s": at,
                        "half_open": half_open,
                        "half_answered": answered,
                        "idle_open": idle_open,
                        "service_fds": fds,
                        "healthz_status": code,
                        "healthz_ms": seconds * 1000,
                    }
                )
            closed_half = [c.closed_at for c in half if c.closed_at is not None]
            closed_idle = [c.closed_at for c in idle if c.closed_at is not None]
        finally:
            for conn in (*half, *idle):
                conn.sock.close()
        time.sleep(0.5)
        status, status_data = _status_line(venue)
    lines.append(
        f"  closed by the server: half-line {len(closed_half)} (median at {fmt(percentile(closed_half, 50))} s),"
        f" keep-alive {len(closed_idle)} (median at {fmt(percentile(closed_idle, 50))} s); after: {status}"
    )
    data = {
        "connections": k,
        "opened_half": len(half),
        "opened_idle": len(idle),
        "failed": failed,
        "fds_before": fds_before,
        "checks": checks,
        "half_closed_median_s": percentile(closed_half, 50),
        "idle_closed_median_s": percentile(closed_idle, 50),
        **status_data,
    }
    return lines, data


# -- echo --------------------------------------------------------------------------------------------------------


class Tap:
    """Counts the messages and bytes on one topic."""

    def __init__(self) -> None:
        self.messages = 0
        self.bytes = 0
        self.subscribed = threading.Event()

    def on_message(self, _c: Any, _u: Any, msg: mqtt.MQTTMessage) -> None:
        self.messages += 1
        self.bytes += len(msg.payload)

    def on_subscribe(self, *_args: Any) -> None:
        self.subscribed.set()


def _wait(predicate: Callable[[], bool], timeout_s: float, step_s: float = 0.2) -> bool:
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        if predicate():
            return True
        time.sleep(step_s)
    return predicate()


def echo(tree: Tree, args: argparse.Namespace) -> Report:
    mqtt_size, http_size, count = int(args.mqtt_mb * MIB), int(args.http_mb * MIB), args.count
    lines = [
        f"echo: {count} kiosk check-ins of {mib(mqtt_size)} each with an unknown community (MQTT), then one HTTP"
        f" check-in of {mib(http_size)} with an unknown community_id (admin token)"
    ]
    with Venue(tree, sim=not args.no_sim, keep=args.keep) as venue:
        tap = Tap()
        listener = venue.mqtt("hostile-rejected")
        listener.on_message = tap.on_message
        listener.on_subscribe = tap.on_subscribe
        rejected_topic = venue.topic("rejected")
        listener.subscribe(rejected_topic, qos=1)
        if not tap.subscribed.wait(10):
            raise BenchError(f"could not subscribe to {rejected_topic}")
        kiosk = venue.mqtt("hostile-kiosk")
        since = venue.last_event_id()
        size_before, db_before, log_before = venue.record_size(), venue.db_size(), venue.log_size()
        infos = [kiosk.publish(venue.topic("checkin"), json_body(mqtt_size, f"echo-{i}"), qos=1) for i in range(count)]
        for info in infos:
            info.wait_for_publish(60)
        with contextlib.closing(venue.db()) as conn:
            _wait(lambda: venue.count(conn, "input_rejected", since) >= count, 60)
        _wait(lambda: tap.messages >= count, 30)
        mqtt_counts = venue.wait_settled(since, 2.0, 30)
        size_mqtt, db_mqtt = venue.record_size(), venue.db_size()
        payload_chars, _ = venue.stored_bytes(since, "input_rejected")
        tap_messages, tap_bytes = tap.messages, tap.bytes

        since_http = venue.last_event_id()
        headers = {"Authorization": f"Bearer {venue.token}"}
        res = post_raw(venue.api_port, CHECKINS, json_body(http_size, "echo-http"), args.deadline, headers)
        http_counts = venue.wait_settled(since_http, 2.0, 30)
        size_http, db_http = venue.record_size(), venue.db_size()
        log_after = venue.log_size()
        hwm = venue.rss()[1]
        status, status_data = _status_line(venue)

    sent_in = count * mqtt_size
    lines.append(
        f"  MQTT: {mqtt_counts.get('input_rejected', 0)} input_rejected events storing {mib(payload_chars)} of payload"
        f"; files on disk (db + wal + shm) {mib(size_before)} -> {mib(size_mqtt)} (+{mib(size_mqtt - size_before)}),"
        f" database (page_count x page_size) +{mib(db_mqtt - db_before)}; all events added: {mqtt_counts}"
    )
    lines.append(
        f"  MQTT: {rejected_topic} carried {tap_messages} messages, {mib(tap_bytes)} (for {mib(sent_in)} of input)"
    )
    text = res.response_start[:60].decode(errors="replace")
    answer = f"{res.status} after {fmt(res.answer_s, 2)} s" if res.status is not None else "no answer"
    lines.append(
        f"  HTTP: {answer} (done after {fmt(res.elapsed_s, 2)} s), response body {res.response_bytes} B"
        f" ({mib(res.response_bytes)}) {text!r}...; files +{mib(size_http - size_mqtt)}, database"
        f" +{mib(db_http - db_mqtt)}, events added: {http_counts}" + (f"; {res.error.strip()}" if res.error else "")
    )
    lines.append(f"  service log +{mib(log_after - log_before)}; VmHWM {fmt(hwm)} MiB; after: {status}")
    data = {
        "mqtt_messages": count,
        "mqtt_bytes_in": sent_in,
        "mqtt_events": mqtt_counts,
        "input_rejected_payload_chars": payload_chars,
        "record_before_bytes": size_before,
        "record_after_mqtt_bytes": size_mqtt,
        "rejected_topic_messages": tap_messages,
        "rejected_topic_bytes": tap_bytes,
        "http": res.as_dict(),
        "http_events": http_counts,
        "record_after_http_bytes": size_http,
        "db_before_bytes": db_before,
        "db_after_mqtt_bytes": db_mqtt,
        "db_after_http_bytes": db_http,
        "service_log_growth_bytes": log_after - log_before,
        "hwm_mib": hwm,
        **status_data,
    }
    return lines, data


# -- storm -------------------------------------------------------------------------------------------------------


def storm(tree: Tree, args: argparse.Namespace) -> Report:
    venue = Venue(tree, sim=not args.no_sim, keep=args.keep)
    lights = [d for d in venue.devices if d.get("kind") == "light" and d.get("driver", "mqtt") == "mqtt"]
    chosen = [d for d in lights if d.get("id") == args.device] if args.device else lights[:1]
    if not chosen:
        venue.stop()
        raise BenchError(f"no MQTT light {args.device!r} in the venue (lights: {[d.get('id') for d in lights]})")
    device = chosen[0]
    venue.sim_exclude = [device["id"]]
    topic = f"{venue.base_topic}/{device['topic']}"
    total = max(1, round(args.rate * args.seconds))
    lines = [
        f"storm: light {device['id']} reports {args.rate:g}/s for {args.seconds:g} s on {topic} (QoS 0): brightness"
        " 200, 200, 201, 201, ... (every other report a tiny change, the others repeats)"
    ]
    with venue:
        client = venue.mqtt("hostile-device")
        since = venue.last_event_id()
        size_before, db_before = venue.record_size(), venue.db_size()
        cpu_before = cpu_seconds(venue.pid)
        poller = HealthPoller(venue.api_port, 0.1, timeout_s=10.0, max_s=args.seconds * 3 + 60)
        poller.start()
        start = time.perf_counter()
        hard_stop = start + 3 * args.seconds + 5
        sent = changes = 0
        for i in range(total):
            target = start + i / args.rate
            now = time.perf_counter()
            if now < target:
                time.sleep(target - now)
            elif now > hard_stop:
                break
            brightness = 200 + (i // 2) % 2
            payload = json.dumps({"state": "ON", "brightness": brightness, "color_temp": 370})
            client.publish(topic, payload, qos=0)
            sent += 1
            changes += i % 2 == 0
        publish_s = time.perf_counter() - start
        counts = venue.wait_settled(since, 2.0, 60)
        settled_s = time.perf_counter() - start
        health = poller.stop()
        cpu = cpu_seconds(venue.pid) - cpu_before
        size_after, db_after = venue.record_size(), venue.db_size()
        with contextlib.closing(venue.db()) as conn:
            rows = conn.execute(
                "SELECT payload, LENGTH(payload) + LENGTH(ts) + LENGTH(venue) + LENGTH(type) FROM events"
                " WHERE id > ? AND type = 'device_state'",
                (since,),
            ).fetchall()
        mine = [size for payload, size in rows if json.loads(payload).get("device_id") == device["id"]]
        status, status_data = _status_line(venue)

    per_day = 86400 / publish_s if publish_s > 0 else math.nan
    row_bytes = sum(mine)
    lines.append(
        f"  published {sent} in {fmt(publish_s, 2)} s ({changes} of them changes); the record gained"
        f" {len(mine)} device_state events for {device['id']}; all events added: {counts}"
    )
    each = row_bytes / len(mine) if mine else math.nan
    growth = db_after - db_before
    lines.append(
        f"  stored: {row_bytes:,} B of row text for those ({fmt(each, 0)} B each); database +{mib(growth)}"
        f" (page_count x page_size), files on disk (db + wal + shm) +{mib(size_after - size_before)}"
    )
    lines.append(
        f"  at this rate, per day: {len(mine) * per_day:,.0f} device_state events, {fmt(row_bytes * per_day / MIB, 0)}"
        f" MiB of row text, {fmt(growth * per_day / MIB, 0)} MiB of database"
    )
    lines.append(
        f"  /healthz every 100 ms for {fmt(settled_s, 1)} s: {health.line()}; service CPU {fmt(cpu)} s; after: {status}"
    )
    data = {
        "device": device["id"],
        "published": sent,
        "changes_sent": changes,
        "publish_s": publish_s,
        "device_state_events": len(mine),
        "events_added": counts,
        "device_state_row_bytes": row_bytes,
        "files_growth_bytes": size_after - size_before,
        "db_growth_bytes": growth,
        "events_per_day": len(mine) * per_day,
        "row_mib_per_day": row_bytes * per_day / MIB,
        "db_mib_per_day": growth * per_day / MIB,
        "healthz": health.as_dict(),
        "service_cpu_s": cpu,
        **status_data,
    }
    return lines, data


# -- the command line --------------------------------------------------------------------------------------------

SCENARIOS: dict[str, Callable[[Tree, argparse.Namespace], Report]] = {
    "bodies": bodies,
    "flood": flood,
    "slow": slow,
    "echo": echo,
    "storm": storm,
}


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(description=(__doc__ or "").split("\n\n")[0])
    common = argparse.ArgumentParser(add_help=False)
    common.add_argument("--tree", type=Path, default=ROOT, help="checkout whose code runs (default: this one)")
    common.add_argument("--no-sim", action="store_true", help="without the simulated devices")
    common.add_argument("--json", action="store_true", help="print one JSON line instead of the report")
    common.add_argument("--keep", action="store_true", help="keep the temp folder (logs, record) for a look")
    sub = parser.add_subparsers(dest="command", required=True)
    p = sub.add_parser("bodies", parents=[common], help="4 concurrent unauthenticated 50 MiB check-in bodies")
    p.add_argument("--clients", type=int, default=4)
    p.add_argument("--size-mb", type=float, default=50.0, help="MiB per body")
    p.add_argument("--poll-ms", type=float, default=50.0, help="/healthz poll interval")
    p.add_argument("--deadline", type=float, default=120.0, help="seconds each upload may take in all")
    p = sub.add_parser("flood", parents=[common], help="N unique members checked in over MQTT")
    p.add_argument("--members", type=int, default=30_000)
    p.add_argument("--timeout", type=float, default=180.0, help="give up after this many seconds")
    p.add_argument("--community", default="book-club")
    p.add_argument("--inflight", type=int, default=1000, help="kiosk QoS 1 messages awaiting PUBACK at once")
    p = sub.add_parser("slow", parents=[common], help="half-sent requests and idle keep-alive connections")
    p.add_argument("--connections", type=int, default=200, help="of each kind")
    p.add_argument("--scale", type=float, default=1.0, help="times the 5/30/60 s checkpoints (0.1: 0.5/3/6 s)")
    p = sub.add_parser("echo", parents=[common], help="huge unknown community ids over MQTT and HTTP")
    p.add_argument("--count", type=int, default=10, help="kiosk messages")
    p.add_argument("--mqtt-mb", type=float, default=5.0, help="MiB per kiosk message")
    p.add_argument("--http-mb", type=float, default=50.0, help="MiB of the HTTP body")
    p.add_argument("--deadline", type=float, default=120.0, help="seconds the HTTP request may take in all")
    p = sub.add_parser("storm", parents=[common], help="one light flooding state reports")
    p.add_argument("--device", default=None, help="light id (default: the venue's first MQTT light)")
    p.add_argument("--rate", type=float, default=1000.0, help="reports per second")
    p.add_argument("--seconds", type=float, default=10.0)
    return parser


def _check(args: argparse.Namespace) -> str | None:
    limits = {
        "clients": (1, 64),
        "size_mb": (0.001, 1024),
        "members": (1, 1_000_000),
        "timeout": (1, 3600),
        "inflight": (1, 65535),
        "connections": (1, 5000),
        "scale": (0.01, 10),
        "count": (1, 1000),
        "mqtt_mb": (0.001, 200),
        "http_mb": (0.001, 1024),
        "rate": (1, 100_000),
        "seconds": (0.1, 600),
        "poll_ms": (1, 10_000),
        "deadline": (1, 3600),
    }
    for name, (lo, hi) in limits.items():
        value = getattr(args, name, None)
        if value is not None and not lo <= value <= hi:
            return f"--{name.replace('_', '-')} must be within {lo:g}..{hi:g}"
    return None


def main(argv: list[str] | None = None) -> int:
    args = _parser().parse_args(argv)
    if problem := _check(args):
        print(f"error: {problem}", file=sys.stderr)
        return 2
    try:
        with interruptible():
            tree = Tree(args.tree)
            found = tree.check_imports()
            where = (
                f"# tree {tree.describe()}: controller from {found['controller']},"
                f" API (entry point ambience.http = {found['entry_point']}) from {found['api']}"
            )
            if not args.json:
                print(where, flush=True)
            lines, data = SCENARIOS[args.command](tree, args)
    except BenchError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 1
    except KeyboardInterrupt:
        print("interrupted; everything stopped", file=sys.stderr)
        return 130
    if args.json:
        out = {"bench": f"hostile.{args.command}", "tree": str(tree.path), "imports": found, **data}
        print(json.dumps(json_safe(out), separators=(",", ":"), default=str))
    else:
        print("\n".join(lines))
    return 0


if __name__ == "__main__":
    sys.exit(main())
