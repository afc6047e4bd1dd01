"""The venue's counters, for `/metrics` and the demo's screen: counted where the shell sees what happened."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass

from controller.core import events as ev
from controller.core.outputs import Emit

__all__ = ["Stats"]


@dataclass(slots=True)
class Stats:
    checkins: int = 0
    commands_sent: int = 0
    commands_deferred: int = 0
    flap_holds: int = 0  # a device came back again soon after its last return and was held
    messages: int = 0
    rejected: int = 0
    reconciles: int = 0

    def count(self, emits: Iterable[Emit]) -> None:
        """What a committed step's events say about the counters."""
        for emit in emits:
            event = emit.event
            if isinstance(event, ev.Checkin):
                self.checkins += 1
            elif isinstance(event, ev.InputRejected):
                self.rejected += 1
            elif isinstance(event, ev.CommandSent):
                self.commands_sent += 1
