"""What one step of the venue core asks of the shell: events to record (with the state changes that go with them
in the same transaction) and commands to carry out. Plain values, so a test reads them like a log."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import TYPE_CHECKING, Any, TypeAlias

from controller.core.events import EventBody
from devices.driver import Command
from profiles.profile import Profile

if TYPE_CHECKING:
    from controller.core.state import VenueState

__all__ = [
    "DeviceReturned",
    "Drive",
    "Emit",
    "Mutation",
    "Output",
    "PresenceDelete",
    "PresenceUpsert",
    "Publish",
    "StateSet",
    "Step",
    "StoreProfile",
]


@dataclass(frozen=True, slots=True)
class PresenceUpsert:
    member_id: str
    community_id: str
    at: datetime


@dataclass(frozen=True, slots=True)
class PresenceDelete:
    member_id: str


@dataclass(frozen=True, slots=True)
class StateSet:
    """A value the venue keeps across restarts (`activations`, `forced`, `overrides`), written with its event."""

    key: str
    value: Any


Mutation: TypeAlias = PresenceUpsert | PresenceDelete | StateSet


@dataclass(frozen=True, slots=True)
class Emit:
    """Record `event`; `durable`: the input it answers is acknowledged (or replied to) only once it is committed."""

    event: EventBody
    mutations: tuple[Mutation, ...] = ()
    durable: bool = False


@dataclass(frozen=True, slots=True)
class Publish:
    topic: str
    payload: str
    qos: int = 1
    retain: bool = False


@dataclass(frozen=True, slots=True)
class Drive:
    """Planned device commands, for the dispatcher (coalescing window, flap hold, settle gate) and the drivers."""

    commands: tuple[Command, ...]


@dataclass(frozen=True, slots=True)
class StoreProfile:
    """Store a profile from the hub (I/O, so the shell's), then tell the core `ProfileStored` or `Rejected`."""

    profile: Profile
    topic: str


@dataclass(frozen=True, slots=True)
class DeviceReturned:
    """A device that was offline is back: the dispatcher decides whether it is flapping and holds it."""

    device_id: str


Output: TypeAlias = Publish | Drive | StoreProfile | DeviceReturned


@dataclass(frozen=True, slots=True)
class Step:
    """One step's result. The shell commits `events` first: if the record refuses them, `state` is not adopted."""

    state: VenueState
    events: tuple[Emit, ...] = ()
    commands: tuple[Output, ...] = ()
    reply: Any = None
