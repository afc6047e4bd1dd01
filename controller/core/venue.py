"""The venue core: `step(state, input, now) -> Step`, one pure function that holds every rule of the venue.

h11's `Connection` is the model: no I/O, no clock, no threads; inputs are typed values (`controller.core.messages`),
the result is the next state, the events to record and the commands to carry out (`controller.core.outputs`).
The shell (`controller.shell.service`) reads the clock, feeds inputs in order, commits the events and only then
adopts the state, acknowledges the input and hands the commands to the drivers. So a rule is tested as inputs in,
events and commands out, in microseconds and without a broker (tests/unit/test_venue_core.py).

Where each rule lives:

    people.py     check-in, check-out, force, a profile from the hub or the API, refused input
    observing.py  device reports (recorded, compared, overrides), availability, capabilities, what was sent
    room.py       each tick: expiry, resolve, the events of a change, plan; what a (re)connect republishes
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime
from typing import Any

from controller.core import messages as msg
from controller.core import observing, people, room
from controller.core.outputs import Step
from controller.core.state import VenueState, Work

__all__ = ["step"]

_Rule = Callable[[Work, Any], Any]

_RULES: dict[type, _Rule] = {
    msg.CheckIn: people.on_check_in,
    msg.CheckOut: people.on_check_out,
    msg.Force: people.on_force,
    msg.HubProfile: people.on_hub_profile,
    msg.ProfileStored: people.on_profile_stored,
    msg.Rejected: people.on_rejected,
    msg.Observed: observing.on_observed,
    msg.CommandsSent: observing.on_commands_sent,
    msg.Tick: room.on_tick,
    msg.Connected: room.on_connected,
    msg.HomeAssistantBirth: room.on_home_assistant_birth,
}


def step(state: VenueState, input: msg.Input, now: datetime) -> Step:
    """Apply one input at `now`. `Step.reply` is the rule's answer (a `CheckIn` outcome, a bool, or None)."""
    work = Work(state, now)
    reply = _RULES[type(input)](work, input)
    return work.done(reply)
