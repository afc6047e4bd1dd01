"""`resolve` + `plan` per call: the pure core of a reconcile, in-process, no broker.

What is measured. A venue config of N devices (lights over bar/lounge plus a thermostat, speaker and scent
diffuser; built with the real models, `profiles.loader.parse_venue`), the example profiles
(`profiles.loader.load_profile`), and a presence of `--members` members spread over the three example
communities (`controller.core.presence.check_in`). One call is `resolve(presence, profiles, venue, activations, now)`
followed by `plan(devices, resolution.zones, shadows, now)`, timed with `time.perf_counter_ns` after a warm-up,
for two cases:

- `matched`: every device has reported exactly the desired state (the steady state: plan finds nothing to send);
  the reported states are the desired ones sent through the Zigbee2MQTT dialect and back, as a device would
  report them;
- `unknown`: no device has been heard from (start-up: plan commands every device).

How to read it. mean/p50/p99 are microseconds per resolve+plan call; `resolve` and `plan` are the p50 of each
half; `commands` is how many commands plan returned per call (0 for matched, N for unknown). The target
(issue 3) is <= 1 ms per call at 500 devices. The service runs this on every reconcile: once per batch of
messages, so also once per device report that arrives after a check-in.

    .venv/bin/python bench/resolve_plan.py                     # 50, 200 and 500 devices
    .venv/bin/python bench/resolve_plan.py --devices 500 --iterations 5000
"""

from __future__ import annotations

import argparse
import json
import statistics
import sys
import time
from collections.abc import Mapping
from datetime import UTC, datetime, timedelta
from typing import Any

from _venue import EXAMPLE_VENUE, ZONES, fmt, generate_devices, load_profiles, percentile

from controller.core.plan import DEFAULT_MIRED_RANGE, desired_for, plan
from controller.core.presence import Presence, check_in
from controller.core.resolve import resolve
from controller.core.shadow import Shadow
from devices.z2m import from_z2m, to_z2m
from profiles.loader import load_document, parse_venue
from profiles.profile import Profile
from profiles.venue import VenueConfig

NOW = datetime(2026, 5, 1, 19, 30, tzinfo=UTC)


def build_venue(devices: int) -> VenueConfig:
    doc = load_document(EXAMPLE_VENUE)
    doc["venue"] = {"id": "bench-resolve", "name": "Bench venue"}
    doc["zones"] = list(ZONES)
    doc["devices"] = generate_devices(devices)
    doc["profiles_dir"] = None
    return parse_venue(doc)


# 2 : 2 : 1, so a community with zone overrides, a colour and occupancy rules leads (30 members: 12, 12, 6).
MIX = ("spicy-tech-gossip", "book-club", "spicy-tech-gossip", "book-club", "house")


def build_presence(members: int) -> Presence:
    """`members` members over the three communities (MIX), checked in a minute apart before NOW."""
    presence = Presence()
    for i in range(members):
        at = NOW - timedelta(minutes=members - i)
        presence, _, _ = check_in(presence, f"member-{i:04d}", MIX[i % len(MIX)], at)
    return presence


def matched_shadows(venue: VenueConfig, zones: Mapping[str, Any]) -> dict[str, Shadow]:
    """Every device reporting its desired state, as it would arrive over the wire."""
    shadows: dict[str, Shadow] = {}
    for device in venue.devices:
        desired, _ = desired_for(device, zones)
        if desired is None:
            continue
        payload: dict[str, Any] = dict(to_z2m(desired, mired_range=device.color_temp_range or DEFAULT_MIRED_RANGE))
        if device.kind == "light" and "color_temp" in payload:
            payload["color_mode"] = "color_temp"
        elif device.kind == "light" and "color" in payload:
            payload["color_mode"] = "xy"
        shadows[device.id] = Shadow(reported=from_z2m(device.kind, payload), online=True, last_seen=NOW)
    return shadows


def time_calls(
    venue: VenueConfig,
    profiles: Mapping[str, Profile],
    presence: Presence,
    shadows: Mapping[str, Shadow],
    iterations: int,
    warmup: int,
    max_s: float,
) -> dict[str, Any]:
    activations = dict(resolve(presence, profiles, venue, {}, NOW).activations)
    total: list[int] = []
    resolve_ns: list[int] = []
    plan_ns: list[int] = []
    commands = 0
    deadline = time.perf_counter() + max_s
    for i in range(warmup + iterations):
        t0 = time.perf_counter_ns()
        resolution = resolve(presence, profiles, venue, activations, NOW)
        t1 = time.perf_counter_ns()
        planned = plan(venue.devices, resolution.zones, shadows, NOW)
        t2 = time.perf_counter_ns()
        if i >= warmup:
            total.append(t2 - t0)
            resolve_ns.append(t1 - t0)
            plan_ns.append(t2 - t1)
            commands = len(planned)
        if time.perf_counter() > deadline:
            break
    us = [t / 1000 for t in total]
    return {
        "calls": len(us),
        "mean_us": round(statistics.fmean(us), 1) if us else float("nan"),
        "p50_us": round(percentile(us, 50), 1),
        "p99_us": round(percentile(us, 99), 1),
        "resolve_p50_us": round(percentile([t / 1000 for t in resolve_ns], 50), 1),
        "plan_p50_us": round(percentile([t / 1000 for t in plan_ns], 50), 1),
        "commands": commands,
    }


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--devices", type=int, nargs="+", default=[50, 200, 500], help="venue sizes (>= 4)")
    parser.add_argument("--members", type=int, default=30, help="members present over the 3 communities")
    parser.add_argument("--iterations", type=int, default=2000, help="timed calls per size and case")
    parser.add_argument("--warmup", type=int, default=200, help="untimed calls first")
    parser.add_argument("--max-seconds", type=float, default=30.0, help="time limit per size and case")
    parser.add_argument("--json", action="store_true", help="one JSON line per size and case")
    args = parser.parse_args(argv)
    if min(args.devices) < 4 or args.iterations < 1:
        print("error: --devices must be >= 4 and --iterations >= 1", file=sys.stderr)
        return 2

    profiles = load_profiles()
    presence = build_presence(args.members)
    rows: list[dict[str, Any]] = []
    try:
        for devices in args.devices:
            venue = build_venue(devices)
            resolution = resolve(presence, profiles, venue, {}, NOW)
            cases = {"matched": matched_shadows(venue, resolution.zones), "unknown": {}}
            for case, shadows in cases.items():
                result = time_calls(venue, profiles, presence, shadows, args.iterations, args.warmup, args.max_seconds)
                rows.append({"bench": "resolve_plan", "devices": devices, "case": case, **result})
                if args.json:
                    print(json.dumps(rows[-1], separators=(",", ":")), flush=True)
    except KeyboardInterrupt:
        print("interrupted", file=sys.stderr)
        return 130
    if args.json:
        return 0

    leader = resolve(presence, profiles, build_venue(4), {}, NOW).leader
    header = ["devices", "case", "calls", "mean_us", "p50_us", "p99_us", "resolve_p50", "plan_p50", "commands"]
    table = [
        [
            str(r["devices"]),
            r["case"],
            str(r["calls"]),
            fmt(r["mean_us"], 1),
            fmt(r["p50_us"], 1),
            fmt(r["p99_us"], 1),
            fmt(r["resolve_p50_us"], 1),
            fmt(r["plan_p50_us"], 1),
            str(r["commands"]),
        ]
        for r in rows
    ]
    widths = [max(len(h), *(len(row[i]) for row in table)) for i, h in enumerate(header)]
    print("  ".join(h.rjust(w) for h, w in zip(header, widths, strict=True)))
    for row in table:
        print("  ".join(c.rjust(w) for c, w in zip(row, widths, strict=True)))
    counts = ", ".join(f"{c} {n}" for c, n in sorted(presence.headcount().items()))
    print(f"# {presence.total} members present ({counts}); active profile: {leader}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
