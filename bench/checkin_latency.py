"""Check-in -> every device reports the new state: end-to-end latency on a real broker, beside the broker's own.

What is measured. A whole venue runs on loopback as separate processes: Mosquitto, the simulated devices
(`python -m firmware_sim`) and the service (`python -m controller run`). The room starts on the default profile
(house). Each iteration toggles the room: either two members of `book-club` (quorum 2) check in, or they check
out again. For a check-in, t0 is the moment the kiosk publishes the *second* member's check-in (QoS 1), the one
that makes quorum; for a check-out, the first check-out, the one that breaks it. "Done" is the moment the last
device whose desired state changed has published a state message showing the new values (brightness, colour
temperature, setpoint, volume, playlist, scent... computed from the profile files), as seen by an observer
client on the same broker. Between iterations the bench waits `--settle-ms` (default 300 ms, more than the
service's 250 ms coalescing window), so every sample is a lone check-in.

In the same run, the broker's own round trip is measured: one client publishes with QoS 1, another receives
(subscribed with QoS 1), one message at a time. The service's peak RSS (VmHWM) and CPU time are read from
/proc before it is stopped.

How to read it. `p99 - broker p99` is what the service, the devices and the broker's own work (persistence,
fan-out) add on top of a bare round trip; the target (issue 3) is <= 25 ms for a 50-device venue, and peak RSS
<= 80 MB. The breakdown line splits a toggle into "kiosk publish -> first / last /set command seen by the
observer" (the service: receive, record, resolve, plan, publish; plus the broker forwarding) and "last command
-> last report" (the simulated devices and the broker). CPU per toggle is per process (service, simulator,
broker, this process's observer and kiosk), measured over the whole loop. Percentiles are nearest-rank: with
fewer than 100 samples, p99 is the maximum.

Diagnostics: `--broker save-every-change` runs Mosquitto with save-on-every-change (see
`_venue.py`); `--switch-interval` runs the service with another GIL switch interval.

    .venv/bin/python bench/checkin_latency.py                       # the example venue's 7 devices, 50 toggles
    .venv/bin/python bench/checkin_latency.py --devices 50 --iterations 100
    .venv/bin/python bench/checkin_latency.py --devices 200 --json  # one JSON line
    .venv/bin/python bench/checkin_latency.py --devices 200 --zone-groups  # the same lights, as two groups
"""

from __future__ import annotations

import argparse
import json
import math
import sys
import time
from dataclasses import dataclass
from typing import Any

from _venue import BROKER_KINDS, BenchError, BenchVenue, broker_round_trips, fmt, summary_ms

from testkit.processes import interruptible

COMMUNITY = "book-club"
PRE_GAP_S = 0.05  # between the first member's check-in and the second's: people do not arrive together


@dataclass(frozen=True, slots=True)
class Sample:
    direction: str  # "in" | "out"
    total_s: float  # kiosk publish -> last changed device reported the new state
    first_command_s: float  # kiosk publish -> first /set command seen by the observer
    command_s: float  # kiosk publish -> last /set command to a changed device seen by the observer
    devices: int  # devices whose state changed


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--devices", type=int, default=None, help="generated venue size (default: examples/venue.yaml)")
    parser.add_argument("--iterations", type=int, default=50, help="room toggles to measure (half in, half out)")
    parser.add_argument("--broker-rtt-samples", type=int, default=200, help="broker round trips to measure")
    parser.add_argument("--settle-ms", type=float, default=300.0, help="pause after each toggle is done")
    parser.add_argument(
        "--timeout", type=float, default=10.0, help="seconds one toggle may take before it counts as lost"
    )
    parser.add_argument("--max-seconds", type=float, default=600.0, help="stop measuring after this long")
    parser.add_argument(
        "--switch-interval",
        type=float,
        default=None,
        help="diagnostic: run the service with this sys.setswitchinterval (seconds; CPython's default 0.005)",
    )
    parser.add_argument(
        "--broker",
        choices=BROKER_KINDS,
        default="default",
        help="'default': persistence saved once a second (as the demo runs it); "
        "'save-every-change': saved after every retained message, as tests that SIGKILL the broker need",
    )
    parser.add_argument(
        "--zone-groups",
        action="store_true",
        help="the simulated Zigbee2MQTT has a group of each zone's lights: one group command per zone",
    )
    parser.add_argument("--json", action="store_true", help="print one JSON line instead of the table")
    parser.add_argument("--keep", action="store_true", help="keep the temp folder (logs, record) for a look")
    return parser


def _changed(before: dict[str, dict[str, object]], after: dict[str, dict[str, object]]) -> dict[str, dict[str, object]]:
    return {topic: want for topic, want in after.items() if before.get(topic) != want}


def measure(
    venue: BenchVenue, iterations: int, settle_s: float, timeout_s: float, max_s: float
) -> tuple[list[Sample], int]:
    """Toggle the room `iterations` times; returns the samples and the number of toggles that timed out."""
    assert venue.observer is not None and venue.kiosk is not None
    observer, kiosk = venue.observer, venue.kiosk
    default = venue.default_profile or "house"
    rooms = {default: venue.expected(default), COMMUNITY: venue.expected(COMMUNITY)}
    samples: list[Sample] = []
    timeouts = 0
    present: tuple[str, str] | None = None
    deadline = time.perf_counter() + max_s
    for i in range(iterations):
        if time.perf_counter() > deadline:
            break
        venue.check_alive()
        if present is None:
            members = (f"bench-{i}-a", f"bench-{i}-b")
            kiosk.checkin(members[0], COMMUNITY).wait_for_publish(5)
            time.sleep(PRE_GAP_S)
            before, after, direction = default, COMMUNITY, "in"
            watch = observer.watch(_changed(rooms[before], rooms[after]))
            t0 = time.perf_counter()
            info = kiosk.checkin(members[1], COMMUNITY)
        else:
            members = present
            before, after, direction = COMMUNITY, default, "out"
            watch = observer.watch(_changed(rooms[before], rooms[after]))
            t0 = time.perf_counter()
            info = kiosk.checkout(members[0])
        done = watch.done.wait(timeout_s)
        observer.unwatch()
        info.wait_for_publish(5)
        if done and watch.reported_at:
            first_cmd = min(watch.commanded_at.values(), default=math.nan)
            last_cmd = max(watch.commanded_at.values(), default=math.nan)
            samples.append(
                Sample(
                    direction,
                    max(watch.reported_at.values()) - t0,
                    first_cmd - t0,
                    last_cmd - t0,
                    len(watch.expected),
                )
            )
        elif not done:
            timeouts += 1
            print(
                f"# toggle {i} ({direction}) timed out; still waiting for {watch.remaining[:5]}",
                file=sys.stderr,
            )
            venue.wait_ready(after, 30)  # resynchronise before the next sample
        if direction == "out":
            kiosk.checkout(members[1]).wait_for_publish(5)
            present = None
        else:
            present = members
        time.sleep(settle_s)
    return samples, timeouts


def main(argv: list[str] | None = None) -> int:
    args = _parser().parse_args(argv)
    if args.iterations < 1 or args.broker_rtt_samples < 1:
        print("error: --iterations and --broker-rtt-samples must be >= 1", file=sys.stderr)
        return 2
    try:
        with (
            interruptible(),
            BenchVenue(
                args.devices,
                keep=args.keep,
                switch_interval_s=args.switch_interval,
                zone_groups=args.zone_groups,
                broker=args.broker,
            ) as venue,
        ):
            default = venue.default_profile or "house"
            ready_s = venue.wait_ready(default, 30 + 0.2 * len(venue.devices))
            time.sleep(0.5)  # past any coalescing window of the start-up commands
            rtt = broker_round_trips(venue.broker.host, venue.broker.port, args.broker_rtt_samples)
            cpu_before = venue.cpu_by_process()
            started = time.perf_counter()
            samples, timeouts = measure(venue, args.iterations, args.settle_ms / 1000, args.timeout, args.max_seconds)
            elapsed = time.perf_counter() - started
            cpu_after = venue.cpu_by_process()
            cpu_loop = {name: cpu_after[name] - cpu_before[name] for name in cpu_after}
            cpu_total = venue.service_cpu_s()
            rss = venue.service_rss_mb()
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

    total = summary_ms([s.total_s for s in samples])
    broker = summary_ms(rtt)
    result: dict[str, Any] = {
        "bench": "checkin_latency",
        "devices": devices,
        "zone_groups": args.zone_groups,
        "iterations": len(samples),
        "timeouts": timeouts,
        "latency_ms": total,
        "latency_in_ms": summary_ms([s.total_s for s in samples if s.direction == "in"]),
        "latency_out_ms": summary_ms([s.total_s for s in samples if s.direction == "out"]),
        "to_first_command_ms": summary_ms([s.first_command_s for s in samples if not math.isnan(s.first_command_s)]),
        "to_last_command_ms": summary_ms([s.command_s for s in samples if not math.isnan(s.command_s)]),
        "command_to_report_ms": summary_ms([s.total_s - s.command_s for s in samples if not math.isnan(s.command_s)]),
        "broker_rtt_ms": {k: broker[k] for k in ("p50", "p99", "max")},
        "broker_rtt_samples": len(rtt),
        "p99_minus_broker_p99_ms": round(total["p99"] - broker["p99"], 2),
        "service_peak_rss_mb": round(rss, 1),
        "service_cpu_s": round(cpu_total, 2),
        "cpu_ms_per_toggle": {name: round(1000 * cpu / max(1, len(samples)), 2) for name, cpu in cpu_loop.items()},
        "ready_s": round(ready_s, 2),
        "loop_s": round(elapsed, 1),
        "service_exit": service_exit,
        "service_final_status": final_status,
        "broker": args.broker,
    }
    if args.json:
        print(json.dumps(result, separators=(",", ":")))
        return 0
    header = [
        "devices",
        "iterations",
        "p50_ms",
        "p99_ms",
        "max_ms",
        "broker_p50",
        "broker_p99",
        "p99-broker_p99",
        "rss_mb",
    ]
    row = [
        str(devices),
        str(len(samples)),
        fmt(total["p50"]),
        fmt(total["p99"]),
        fmt(total["max"]),
        fmt(broker["p50"]),
        fmt(broker["p99"]),
        fmt(result["p99_minus_broker_p99_ms"]),
        fmt(rss, 1),
    ]
    widths = [max(len(h), len(c)) for h, c in zip(header, row, strict=True)]
    print("  ".join(h.rjust(w) for h, w in zip(header, widths, strict=True)))
    print("  ".join(c.rjust(w) for c, w in zip(row, widths, strict=True)))
    first, cmd, rep = result["to_first_command_ms"], result["to_last_command_ms"], result["command_to_report_ms"]
    lin, lout = result["latency_in_ms"], result["latency_out_ms"]
    print(
        f"# check-in p50/p99 {fmt(lin['p50'])}/{fmt(lin['p99'])} ms,"
        f" check-out {fmt(lout['p50'])}/{fmt(lout['p99'])} ms;"
        f" kiosk -> first /set p50/p99 {fmt(first['p50'])}/{fmt(first['p99'])} ms,"
        f" kiosk -> last /set p50/p99 {fmt(cmd['p50'])}/{fmt(cmd['p99'])} ms,"
        f" last /set -> last report p50/p99 {fmt(rep['p50'])}/{fmt(rep['p99'])} ms"
    )
    print(
        "# CPU ms per toggle: "
        + ", ".join(f"{name} {fmt(ms)}" for name, ms in result["cpu_ms_per_toggle"].items())
        + f"; service CPU {fmt(cpu_total)} s in all; broker {args.broker};"
        f" timeouts {timeouts}; broker samples {len(rtt)}; service exit code {service_exit}, status {final_status!r}"
    )
    if len(samples) < 100:
        print(f"# note: nearest-rank percentiles of {len(samples)} samples: p99 is the maximum")
    return 0


if __name__ == "__main__":
    sys.exit(main())
