"""Fault injection's pure parts: the `--faults` spec, the seeded schedule, the manual changes, the counters.

Time is an argument everywhere here; the only threads are the ones `FaultStats` and `Timeline` exist to serve.
"""

from __future__ import annotations

import math
import threading
import time
from typing import Any

import pytest

from firmware_sim import (
    ConfigError,
    FaultPlan,
    FaultScheduler,
    FaultSpecError,
    FaultStats,
    LightFirmware,
    ScentFirmware,
    SimDevice,
    SpeakerFirmware,
    ThermostatFirmware,
    Timeline,
    plausible_change,
)
from firmware_sim.config import BrokerAddress
from firmware_sim.faults import MAX_DUE_PER_CALL

IDS = [f"dev-{i:02d}" for i in range(12)]

# -- the spec ----------------------------------------------------------------------------------------------


def test_a_full_spec_parses_to_its_plan_and_back() -> None:
    plan = FaultPlan.parse("drop=0.2,delay=0.5,offline=60/5,manual=120")
    assert plan == FaultPlan(
        drop_share=0.2, report_delay_s=0.5, offline_every_s=60.0, offline_for_s=5.0, manual_every_s=120.0
    )
    assert plan.active
    assert FaultPlan.parse(plan.spec()) == plan


@pytest.mark.parametrize(
    ("spec", "expected"),
    [
        ("drop=1", FaultPlan(drop_share=1.0)),
        ("drop=25%", FaultPlan(drop_share=0.25)),
        (" manual = 30 , delay=0 ,", FaultPlan(manual_every_s=30.0)),
        ("offline=0.5/0.25", FaultPlan(offline_every_s=0.5, offline_for_s=0.25)),
        ("drop=0", FaultPlan()),
    ],
)
def test_partial_specs_in_any_order(spec: str, expected: FaultPlan) -> None:
    assert FaultPlan.parse(spec) == expected


@pytest.mark.parametrize(
    ("spec", "key", "reason"),
    [
        ("drop=1.5", "drop", "between 0 and 1"),
        ("drop=-0.1", "drop", "between 0 and 1"),
        ("drop=lots", "drop", "expected a number"),
        ("drop=150%", "drop", "between 0 and 1"),
        ("delay=-1", "delay", "at least 0"),
        ("delay=nan", "delay", "finite"),
        ("offline=60", "offline", "EVERY/FOR"),
        ("offline=60/0", "offline", "above 0"),
        ("offline=0/5", "offline", "above 0"),
        ("offline=x/5", "offline", "expected a number"),
        ("manual=0", "manual", "above 0"),
        ("manual=inf", "manual", "finite"),
        ("flap=3", "flap", "unknown key"),
        ("drop", "drop", "key=value"),
        ("drop=0.1,drop=0.2", "drop", "given twice"),
        ("", "", "empty spec"),
        (" , ", "", "empty spec"),
    ],
)
def test_bad_specs_name_the_key_and_the_reason(spec: str, key: str, reason: str) -> None:
    with pytest.raises(FaultSpecError) as caught:
        FaultPlan.parse(spec)
    assert caught.value.key == key
    assert reason in caught.value.reason
    assert isinstance(caught.value, ConfigError) and isinstance(caught.value, ValueError)
    assert "\n" not in str(caught.value)


def test_a_plan_built_in_code_checks_itself() -> None:
    with pytest.raises(FaultSpecError, match=r"^drop: ") as caught:
        FaultPlan(drop_share=2)
    assert caught.value.key == "drop"
    with pytest.raises(FaultSpecError) as caught:
        FaultPlan(offline_for_s=5)  # a length without an interval
    assert caught.value.key == "offline"
    assert not FaultPlan().active


# -- the schedule ------------------------------------------------------------------------------------------


def run_schedule(scheduler: FaultScheduler, until: float, step: float) -> list[tuple[float, str, str]]:
    """Poll `due()` every `step` seconds of pretend time, as the fault thread does in real time."""
    found: list[tuple[float, str, str]] = []
    now = 0.0
    while now <= until:
        found += [(round(f.at, 9), f.kind, f.device_id) for f in scheduler.due(now)]
        now += step
    return found


PLAN = FaultPlan(offline_every_s=10.0, offline_for_s=2.0, manual_every_s=4.0)


def test_the_schedule_is_a_function_of_the_seed_not_of_how_often_it_is_polled() -> None:
    fine = run_schedule(FaultScheduler(PLAN, IDS, seed=42, start=0.0), until=300, step=0.1)
    coarse = run_schedule(FaultScheduler(PLAN, IDS, seed=42, start=0.0), until=300, step=7.0)
    assert fine and [e for e in coarse if e[0] <= 294.0] == [e for e in fine if e[0] <= 294.0]
    assert fine == sorted(fine)
    assert {device for _, _, device in fine} <= set(IDS)
    other = run_schedule(FaultScheduler(PLAN, IDS, seed=43, start=0.0), until=300, step=0.1)
    assert other != fine


def test_device_order_does_not_matter_and_means_are_as_planned() -> None:
    one = FaultScheduler(PLAN, IDS, seed=7, start=0.0)
    two = FaultScheduler(PLAN, list(reversed(IDS)), seed=7, start=0.0)
    events = run_schedule(one, until=4000, step=1.0)
    assert events == run_schedule(two, until=4000, step=1.0)
    manual = [at for at, kind, _ in events if kind == "manual"]
    outages = [at for at, kind, _ in events if kind == "outage"]
    assert len(manual) / 4000 == pytest.approx(1 / 4.0, rel=0.15)  # mean interval 4 s across the venue
    assert len(outages) / 4000 == pytest.approx(1 / 10.0, rel=0.2)
    assert len({device for _, _, device in events}) == len(IDS)


def test_a_stalled_caller_catches_up_in_bounded_steps() -> None:
    scheduler = FaultScheduler(PLAN, IDS, seed=1, start=0.0)
    first = scheduler.due(1000.0)
    assert len(first) == MAX_DUE_PER_CALL
    rest: list[Any] = []
    while batch := scheduler.due(1000.0):
        rest += batch
    reference = FaultScheduler(PLAN, IDS, seed=1, start=0.0)
    assert [f.at for f in first + rest] == [f.at for f in run_until_empty(reference, 1000.0)]
    assert scheduler.next_at() > 1000.0


def run_until_empty(scheduler: FaultScheduler, now: float) -> list[Any]:
    found: list[Any] = []
    while batch := scheduler.due(now):
        found += batch
    return found


def test_a_plan_without_outages_or_manual_changes_schedules_nothing() -> None:
    scheduler = FaultScheduler(FaultPlan(drop_share=0.5, report_delay_s=1.0), IDS, seed=1, start=0.0)
    assert scheduler.next_at() == math.inf
    assert scheduler.due(1e9) == []


# -- manual changes ----------------------------------------------------------------------------------------

DRAWS = [(a / 10, b / 10) for a in range(10) for b in range(10)] + [(0.0, 0.0), (0.999, 0.999)]


@pytest.mark.parametrize("on", [True, False])
@pytest.mark.parametrize("brightness", [1, 30, 127, 230, 254])
def test_a_hand_on_a_light_toggles_it_or_moves_the_brightness_visibly(on: bool, brightness: int) -> None:
    light = LightFirmware.create().apply({"state": "ON" if on else "OFF", "brightness": brightness}, 0.0).state
    if not on:
        light = light.apply({"state": "OFF"}, 0.0).state
    report = light.report(0.0)
    for draws in DRAWS:
        fields = plausible_change("light", report, draws)
        outcome = light.apply(fields, 1.0)
        assert outcome.rejected == () and outcome.accepted
        after = outcome.state.report(1.0)
        level_before = report["brightness"] if report["state"] == "ON" else 0
        level_after = after["brightness"] if after["state"] == "ON" else 0
        assert after["state"] != report["state"] or abs(level_after - level_before) >= 30, (report, fields)


@pytest.mark.parametrize("setpoint", [5.0, 6.5, 20.0, 33.5, 35.0])
def test_a_hand_on_a_thermostat_moves_the_setpoint_by_two_degrees(setpoint: float) -> None:
    thermostat = ThermostatFirmware(setpoint=setpoint)
    for draws in DRAWS:
        fields = plausible_change("thermostat", thermostat.report(0.0), draws)
        outcome = thermostat.apply(fields, 0.0)
        assert outcome.rejected == ()
        assert abs(outcome.state.setpoint - setpoint) == 2.0


@pytest.mark.parametrize("volume", [0, 10, 50, 90, 100])
def test_a_hand_on_a_speaker_moves_the_volume_by_twenty_or_more(volume: int) -> None:
    speaker = SpeakerFirmware(volume=volume)
    for draws in DRAWS:
        fields = plausible_change("speaker", speaker.report(0.0), draws)
        outcome = speaker.apply(fields, 0.0)
        assert outcome.rejected == ()
        assert abs(outcome.state.volume - volume) >= 20
        assert 0 <= outcome.state.volume <= 100


@pytest.mark.parametrize(("state", "intensity"), [("ON", 0), ("OFF", 50), ("ON", 100)])
def test_a_hand_on_a_diffuser_toggles_it_or_moves_the_intensity(state: str, intensity: int) -> None:
    scent = ScentFirmware(state=state, intensity=intensity, scent="cedar")
    for draws in DRAWS:
        fields = plausible_change("scent", scent.report(0.0), draws)
        after = scent.apply(fields, 0.0).state
        assert after.state != state or abs(after.intensity - intensity) >= 20


def test_the_same_draws_make_the_same_change_and_unknown_kinds_are_refused() -> None:
    report = LightFirmware.create().report(0.0)
    assert plausible_change("light", report, (0.7, 0.3)) == plausible_change("light", report, (0.7, 0.3))
    with pytest.raises(ValueError, match="fan"):
        plausible_change("fan", {}, (0.1, 0.1))


# -- counters and log --------------------------------------------------------------------------------------


def test_stats_count_from_many_threads_and_keep_a_log_per_device() -> None:
    stats = FaultStats()

    def burst(device_id: str) -> None:
        for _ in range(500):
            stats.record("dropped", device_id, {"payload": "{}"})

    threads = [threading.Thread(target=burst, args=(f"d{i}",)) for i in range(8)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    stats.record("manual", "d1", {"brightness": 40}, at=12.5)
    assert stats.commands_dropped == 4000
    assert stats.count("dropped", "d3") == 500
    assert stats.events("manual") == [(12.5, "d1", "manual", {"brightness": 40})]
    assert stats.manual_changes == 1 and stats.outages == 0 and stats.reports_delayed == 0
    assert stats.summary() == "4000 commands dropped, 0 reports delayed, 0 outages, 1 manual change"


def test_stats_wait_for_is_bounded() -> None:
    stats = FaultStats()
    assert not stats.wait_for("outage", timeout=0.05)
    threading.Timer(0.05, lambda: stats.record("outage", "x")).start()
    assert stats.wait_for("outage", timeout=2.0)


# -- the timeline ------------------------------------------------------------------------------------------


def test_the_timeline_keeps_the_order_per_key_and_drops_cancelled_calls() -> None:
    timeline = Timeline()
    ran: list[str] = []
    done = threading.Event()
    now = time.monotonic()
    try:
        timeline.call_at(now + 0.10, lambda: ran.append("a1"), key="a")
        timeline.call_at(now + 0.01, lambda: ran.append("a2"), key="a")  # asks earlier, still runs after a1
        timeline.call_at(now + 0.02, lambda: ran.append("b1"), key="b")
        timeline.call_at(now + 0.05, lambda: ran.append("c1"), key="c")
        assert timeline.cancel("c") == 1
        timeline.call_at(now + 0.15, done.set)
        assert done.wait(2.0)
    finally:
        timeline.close()
    assert ran == ["b1", "a1", "a2"]


def test_closing_the_timeline_is_prompt_and_drops_what_is_pending() -> None:
    timeline = Timeline()
    ran: list[int] = []
    timeline.call_at(time.monotonic() + 60, lambda: ran.append(1))
    started = time.monotonic()
    timeline.close()
    assert time.monotonic() - started < 0.5
    assert timeline.pending() == 0 and ran == []


# -- a device's own faults, without a broker ----------------------------------------------------------------


def device(seed: int | None = None, drop_share: float = 0.0) -> SimDevice[Any]:
    sim = SimDevice("lamp", "lamp", LightFirmware.create(), BrokerAddress("127.0.0.1", 1))
    sim.inject(drop_share=drop_share, seed=seed)
    return sim


def test_dropped_commands_are_lost_and_counted_and_reproducible_per_device() -> None:
    pattern = []
    for _ in range(2):
        sim = device(seed=5, drop_share=0.5)
        pattern.append([sim.receive(f'{{"brightness": {10 + i}}}'.encode()) is None for i in range(200)])
        assert sim.fault_stats.commands_dropped == sum(pattern[-1])
    assert pattern[0] == pattern[1]
    assert 60 < sum(pattern[0]) < 140


def test_drop_next_loses_exactly_the_next_commands() -> None:
    sim = device()
    sim.drop_next(2)
    assert sim.receive(b'{"brightness": 10}') is None
    assert sim.receive(b'{"brightness": 20}') is None
    assert sim.state["brightness"] == 254
    outcome = sim.receive(b'{"brightness": 30}')
    assert outcome is not None and outcome.accepted == ("brightness",)
    assert [e.detail["payload"] for e in sim.fault_stats.events("dropped", "lamp")] == [
        '{"brightness": 10}',
        '{"brightness": 20}',
    ]


def test_an_all_dropping_device_still_takes_manual_changes() -> None:
    sim = device(seed=1, drop_share=1.0)
    assert sim.receive(b'{"state": "ON"}') is None
    assert sim.manual_change({"state": "ON"}).accepted == ("state",)
    assert sim.state["state"] == "ON"


def test_device_faults_are_checked_like_a_plan() -> None:
    with pytest.raises(FaultSpecError) as caught:
        device(drop_share=1.5)
    assert caught.value.key == "drop"
