"""A diffuser on a smart plug: intensity as a duty cycle, each on-phase with the plug's own off timer."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from controller.core import messages as msg
from controller.core.duty import ON_TIME_MARGIN_S, PlugPhase, plug_phase, plug_state
from controller.core.outputs import Drive
from controller.core.state import VenueState
from controller.core.venue import step
from devices.driver import Report, Sent
from devices.states import ScentState
from profiles.loader import parse_profile, parse_venue

CYCLE_START = datetime.fromtimestamp(300 * 6_000_000, UTC)  # a multiple of 300 s since the epoch
VENUE = parse_venue(
    {
        "venue": {"id": "v", "name": "V"},
        "zones": ["lounge"],
        "policy": {"default_profile": "house"},
        "devices": [{"id": "plug", "kind": "scent", "zone": "lounge", "driver": "mqtt", "topic": "plug", "plug": True}],
    }
)
HOUSE = parse_profile({"community_id": "house", "name": "House", "scent": {"name": "cedar", "intensity": 40}})


def test_forty_percent_of_a_five_minute_cycle_is_two_minutes_on_then_three_off() -> None:
    assert plug_phase(40, 300, CYCLE_START) == PlugPhase(True, 120.0)
    assert plug_phase(40, 300, CYCLE_START + timedelta(seconds=150)) == PlugPhase(False, 150.0)
    assert plug_state(ScentState(on=True, intensity=40), 300, CYCLE_START) == (
        ScentState(on=True),
        120 + ON_TIME_MARGIN_S,
    )
    assert plug_state(ScentState(on=True, intensity=0), 300, CYCLE_START) == (ScentState(on=False), None)
    assert plug_state(ScentState(on=True, intensity=100), 300, CYCLE_START) == (ScentState(on=True), None)


def planned(state: VenueState, now: datetime) -> tuple[VenueState, list[tuple[ScentState, float | None]]]:
    result = step(state, msg.Tick(plan_all=True), now)
    commands = [c for out in result.commands if isinstance(out, Drive) for c in out.commands]
    return result.state, [(c.change, c.on_time_s) for c in commands]  # type: ignore[misc]


def test_the_plug_is_switched_on_with_its_own_timer_and_off_at_the_end_of_the_phase_without_an_override() -> None:
    state = VenueState.initial(VENUE, profiles={"house": HOUSE})
    state = step(state, msg.Observed((Report("plug", ScentState(on=False), True),), 0.0), CYCLE_START).state
    state, sent = planned(state, CYCLE_START + timedelta(seconds=10))
    assert sent == [(ScentState(on=True), 110 + ON_TIME_MARGIN_S)]
    state = step(state, msg.CommandsSent((Sent("plug", ScentState(on=True), {"state": "ON"}),)), CYCLE_START).state
    on_report = msg.Observed((Report("plug", ScentState(on=True), True),), 1.0)
    state = step(state, on_report, CYCLE_START + timedelta(seconds=11)).state
    assert planned(state, CYCLE_START + timedelta(seconds=60))[1] == []  # on, as wanted
    state, sent = planned(state, CYCLE_START + timedelta(seconds=121))
    assert sent == [(ScentState(on=False), None)]
    off_report = msg.Observed((Report("plug", ScentState(on=False), True),), 2.0)
    after = step(state, off_report, CYCLE_START + timedelta(seconds=122))
    assert not [e for e in after.events if e.event.TYPE == "manual_override"]
