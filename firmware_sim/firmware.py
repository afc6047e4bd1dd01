"""What every simulated device's firmware is: an immutable state that takes commands and says what to report.

Firmware is the functional core of a simulated device: `apply()` and `advance()` take values (and the time, as
an argument) and return new values; they never touch the network or read the clock. `SimDevice` is the shell
that feeds them MQTT messages and publishes `report()`. Faults (dropped commands, late reports, outages) are
injected in the shell, so the firmware stays the device's honest behaviour.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, replace
from typing import Any, ClassVar, Generic, Protocol, Self, TypeVar

from firmware_sim.fields import FieldError

S = TypeVar("S")


@dataclass(frozen=True, slots=True)
class Outcome(Generic[S]):
    """A command's result: the new state, the fields taken and the fields refused (with why)."""

    state: S
    accepted: tuple[str, ...] = ()
    rejected: tuple[FieldError, ...] = ()


class Firmware(Protocol):
    """The behaviour `SimDevice` drives; one frozen dataclass per device kind implements it."""

    KIND: ClassVar[str]

    def apply(self, command: Mapping[str, Any], now: float) -> Outcome[Self]:
        """Apply the valid fields of a `/set` (or a manual change) at time `now`."""
        ...

    def advance(self, now: float) -> Self:
        """The state at `now` with no command: physics, timers. Most kinds do not change on their own."""
        ...

    def report(self, now: float) -> dict[str, Any]:
        """The JSON-ready state message, with the fields a real Zigbee2MQTT device of this kind sends."""
        ...

    def wants_report(self, last: Mapping[str, Any], since_s: float) -> bool:
        """Whether a change on its own (not a command) deserves a new state message now."""
        ...


FieldParser = Callable[[str, Any], Any]


def apply_table(state: S, command: Mapping[str, Any], table: Mapping[str, tuple[str, FieldParser]]) -> Outcome[S]:
    """Apply a command to a dataclass state through a table `wire field -> (attribute, parser)`.

    For kinds whose fields are independent of each other (speaker, scent): each field is parsed on its own,
    bad ones are refused, good ones are set.
    """
    updates: dict[str, Any] = {}
    accepted: list[str] = []
    rejected: list[FieldError] = []
    for key, value in command.items():
        entry = table.get(key)
        if entry is None:
            rejected.append(FieldError(key, "unknown field"))
            continue
        attribute, parse = entry
        try:
            updates[attribute] = parse(key, value)
        except FieldError as error:
            rejected.append(error)
            continue
        accepted.append(key)
    new_state = replace(state, **updates) if updates else state  # type: ignore[type-var]
    return Outcome(new_state, tuple(accepted), tuple(rejected))
