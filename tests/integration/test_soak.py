"""The soak: a scripted evening with random faults from a fixed seed, then the venue must be exactly right.

Real parts on loopback: the session's Mosquitto, the in-process service (with its InfluxDB forwarder) and the
simulated devices of examples/venue.yaml, a kiosk publishing with QoS 1, and victoria-metrics as the InfluxDB
v2 endpoint. One `random.Random(seed)` drives the evening: members of book-club, spicy-tech-gossip and house
check in and out at random moments, so the leading community (quorum 2, majority) keeps changing. Meanwhile
the simulator injects, from the same seed: lost `/set` commands, late state reports, devices losing power and
coming back, and people changing devices by hand (respected for `override_minutes`, shortened here to 6 s so
overrides expire within the run); and victoria-metrics is stopped for a stretch in the middle of the evening.

Then the faults stop, the venue settles, and:

- every device's reported state (the simulator's, and the service's shadow of it) satisfies the desired state
  of the service's resolution (`devices.compare.differences` within the device's mired range), or the device is
  under an active override; and it stays so for a second;
- every kiosk check-in and check-out is in the record exactly once, and the service's presence is who is there;
- event ids in the record run 1..N without a gap, and every one of them is in victoria-metrics: events lost 0.

The figures line (`pytest -s` shows it; also a `soak_figures` property in the report) gives the events,
the faults injected by kind, check-ins, overrides and events lost.

    AMBIENCE_SOAK_S=600 .venv/bin/pytest tests/integration/test_soak.py -s     # a ten-minute evening
    AMBIENCE_SOAK_SEED=7 ...                                                  # another evening
"""

from __future__ import annotations

import asyncio
import os
import random
import time
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest

from controller.cli.broker import MosquittoBroker
from controller.core.plan import wanted
from devices.compare import differences
from devices.z2m import from_z2m
from firmware_sim import FaultPlan
from profiles.venue import InfluxSettings
from testkit.victoria import VictoriaMetrics
from testkit.waiting import wait_until
from tests.integration.harness import Venue, example_venue, run, running_venue

pytestmark = pytest.mark.integration

DURATION_S = float(os.environ.get("AMBIENCE_SOAK_S", "45"))
SEED = int(os.environ.get("AMBIENCE_SOAK_SEED", "20260501"))

FAULTS = FaultPlan(
    drop_share=0.1,  # one /set in ten never arrives
    report_delay_s=0.2,  # every state report is 0.2 s late
    offline_every_s=6.0,  # somewhere in the venue a device loses power about every 6 s...
    offline_for_s=2.0,  # ...for 2 s
    manual_every_s=5.0,  # and about every 5 s a person changes a device by hand
)
OVERRIDE_MINUTES = 0.1  # a person's change is respected for 6 s, then the controller reasserts
VM_OUTAGE = (0.35, 0.55)  # victoria-metrics is down from 35 % to 55 % of the evening
STEP_S = (0.2, 1.2)  # between two kiosk actions

MEMBERS: dict[str, str] = {
    **{f"bc-{i:02d}": "book-club" for i in range(1, 7)},
    **{f"stg-{i:02d}": "spicy-tech-gossip" for i in range(1, 7)},
    **{f"house-{i:02d}": "house" for i in range(1, 4)},
}

SETTLE_TIMEOUT_S = 120.0  # bounded; what it took is in the figures
STABLE_S = 1.0  # the settled room must stay right this long
FORWARD_TIMEOUT_S = 90.0  # the forwarder's back-off after the outage is at most 60 s


@dataclass
class Evening:
    """What the kiosk did, for the checks at the end."""

    present: dict[str, str] = field(default_factory=dict)  # member -> community
    checkins: list[tuple[str, str]] = field(default_factory=list)
    checkouts: list[str] = field(default_factory=list)
    vm_down_s: float = 0.0


async def scripted_evening(v: Venue, vm: VictoriaMetrics, rng: random.Random, duration_s: float) -> Evening:
    """Kiosk actions at random moments for `duration_s`, and one victoria-metrics outage in the middle."""
    evening = Evening()
    started = time.monotonic()
    down_at, up_at = (started + duration_s * share for share in VM_OUTAGE)

    async def vm_outage() -> None:
        await asyncio.sleep(max(0.0, down_at - time.monotonic()))
        stopped = time.monotonic()
        await asyncio.to_thread(vm.stop)
        await asyncio.sleep(max(0.0, up_at - time.monotonic()))
        await asyncio.to_thread(vm.start)
        evening.vm_down_s = time.monotonic() - stopped

    outage = asyncio.create_task(vm_outage())
    members = sorted(MEMBERS)
    try:
        while time.monotonic() - started < duration_s:
            await asyncio.sleep(rng.uniform(*STEP_S))
            member = rng.choice(members)
            if member in evening.present:
                await asyncio.to_thread(v.kiosk.checkout, member)  # QoS 1: returns once the broker has it
                del evening.present[member]
                evening.checkouts.append(member)
            else:
                community = MEMBERS[member]
                await asyncio.to_thread(v.kiosk.checkin, member, community)
                evening.present[member] = community
                evening.checkins.append((member, community))
            assert v.service.failure is None, f"the service failed: {v.service.failure!r}"
        await outage
    finally:
        if not outage.done():
            outage.cancel()
    return evening


def device_problems(v: Venue) -> list[str]:
    """Every device whose reported state (simulator and shadow) does not satisfy the desired state, and is not
    under an active override; empty when the room is right."""
    service = v.service
    resolution = service.state.resolution
    if resolution is None:
        return ["nothing resolved yet"]
    now = service.clock()
    problems: list[str] = []
    for device_id, config in service.state.site.devices.items():
        sim_device = v.sim.devices[device_id]
        shadow = service.state.shadows[device_id]
        if sim_device.offline or not sim_device.connected:
            problems.append(f"{device_id}: off or not connected")
            continue
        if shadow.overridden(now):
            continue  # a person's change, still respected
        # As the device can take it (a TV02 valve heats when the room asks auto): docs/contract.md §7.
        desired, _ = wanted(config, resolution.zones, service.state.capabilities)
        if desired is None:
            continue
        mireds = service.state.mireds_for(config)
        reported = from_z2m(config.kind, sim_device.state)
        if (diff := differences(desired, reported, mired_range=mireds)) is not None:
            problems.append(f"{device_id}: device reports {reported}, wanted {diff} (shadow {shadow})")
        elif shadow.online is not True or shadow.reported is None:
            problems.append(f"{device_id}: the service does not know it is online ({shadow})")
        elif (diff := differences(desired, shadow.reported, mired_range=mireds)) is not None:
            problems.append(f"{device_id}: the shadow says {shadow.reported}, wanted {diff}")
    return problems


async def settle(v: Venue, timeout_s: float) -> tuple[float, list[str]]:
    """Wait until the room is right and stays right for STABLE_S. Returns how long it took (seconds) and what was
    still wrong on the way, each new problem once with the time it was first seen (for the log)."""
    started = time.monotonic()
    right_since: float | None = None
    problems: list[str] = []
    seen: list[str] = []
    known: set[str] = set()
    while time.monotonic() - started < timeout_s:
        problems = device_problems(v)
        now = time.monotonic()
        for problem in problems:
            if problem not in known:
                known.add(problem)
                seen.append(f"+{now - started:.1f}s {problem}")
        if problems:
            right_since = None
        elif right_since is None:
            right_since = now
        elif now - right_since >= STABLE_S:
            return right_since - started, seen
        await asyncio.sleep(0.05)
    raise AssertionError(f"the room did not settle within {timeout_s} s: " + "; ".join(problems))


def test_a_scripted_evening_with_faults_ends_right_and_loses_no_event(
    mosquitto: MosquittoBroker, vm: VictoriaMetrics, tmp_path: Path, record_property: Callable[[str, Any], None]
) -> None:
    config = example_venue(mosquitto.url, tmp_path, influx=InfluxSettings(url=vm.url, org="venue", bucket="ambience"))
    config = config.model_copy(
        update={"policy": config.policy.model_copy(update={"override_minutes": OVERRIDE_MINUTES})}
    )
    rng = random.Random(SEED)

    async def scenario() -> None:
        async with running_venue(config, faults=FAULTS, seed=SEED) as v:
            service, sim = v.service, v.sim
            assert service.record is not None and service.forwarder is not None
            evening = await scripted_evening(v, vm, rng, DURATION_S)

            # The faults stop (a device still off comes back when its outage ends); the venue settles.
            await asyncio.to_thread(sim.inject, FaultPlan())
            settle_s, settling = await settle(v, SETTLE_TIMEOUT_S)
            for line in settling:
                print(f"soak: settling {line}")
            assert service.failure is None, f"the service failed: {service.failure!r}"

            # Who is here: the kiosk's view, the service's presence and the retained state agree.
            assert {m.member_id: m.community_id for m in service.state.presence.members.values()} == evening.present
            resolution = service.state.resolution
            assert resolution is not None
            headcount = dict(Counter(evening.present.values()))
            state = await wait_until(
                lambda: (s := v.listener.json(v.state_topic)) is not None and s.get("headcount") == headcount and s,
                what="the retained state's headcount",
            )
            assert state["active_profile"] == resolution.leader

            # Every check-in and check-out is in the record, exactly once.
            events = v.events()
            checkins = [(e.payload["member_id"], e.payload["community_id"]) for e in events if e.type == "checkin"]
            checkouts = [e.payload["member_id"] for e in events if e.type == "checkout"]
            assert Counter(checkins) == Counter(evening.checkins)
            assert Counter(checkouts) == Counter(evening.checkouts)
            assert all(e.payload["source"] == "mqtt" for e in events if e.type in ("checkin", "checkout"))

            # Ids run 1..N: nothing emitted was lost on its way into the record.
            ids = [e.id for e in events]
            assert ids == list(range(1, len(ids) + 1)), "a gap in the record's ids"

            # Every event reached victoria-metrics through its outage: none lost.
            last_id = service.record.committed_id
            forwarder = service.forwarder
            await wait_until(
                lambda: forwarder.cursor >= last_id,
                timeout_s=FORWARD_TIMEOUT_S,
                what=f"the forwarder's cursor at {last_id} (last error {forwarder.last_error})",
            )
            expected = set(range(1, last_id + 1))
            seen = await asyncio.to_thread(vm.wait_for_ids, expected, 30.0)
            lost = expected - seen
            assert not lost, f"events never forwarded: {sorted(lost)[:20]}"

            stats = sim.fault_stats
            types = Counter(e.type for e in events)
            figures = (
                f"soak: seed {SEED}, {DURATION_S:g} s evening, settled {settle_s:.1f} s after the faults stopped;"
                f" events recorded {last_id}, forwarded {len(seen & expected)}, events lost {len(lost)};"
                f" faults injected: {stats.commands_dropped} commands dropped, {stats.reports_delayed} reports"
                f" delayed, {stats.outages} device outages ({stats.count('back')} back),"
                f" {stats.manual_changes} manual changes, 1 victoria-metrics outage ({evening.vm_down_s:.1f} s);"
                f" check-ins {len(evening.checkins)}, check-outs {len(evening.checkouts)},"
                f" overrides {types['manual_override']}, commands sent {types['command_sent']},"
                f" devices offline/online {types['device_offline']}/{types['device_online']};"
                f" final room: {resolution.leader} ({dict(sorted(headcount.items()))})"
            )
            print(figures)
            record_property("soak_figures", figures)

            # The faults really happened (the schedule is a pure function of the seed and the time).
            assert stats.commands_dropped > 0 and stats.reports_delayed > 0
            assert stats.outages > 0 and stats.manual_changes > 0
            assert len(evening.checkins) > 0 and len(evening.checkouts) > 0

    run(scenario)
