"""What the venue core is told: one frozen class per kind of input, each already in our own values.

The shell turns wire input into these at the edge (`controller.core.inputs.parse_message` for the venue's own
topics, a driver's `observe` for its devices) and hands them to `controller.core.venue.step`. An input that came
from a kiosk or a tool names its `topic`: if the core refuses it, the refusal is recorded and published there.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TypeAlias

from devices.driver import Observation, Sent
from profiles.errors import FieldError
from profiles.profile import Profile
from profiles.store import ProfileVersion

__all__ = [
    "CheckIn",
    "CheckOut",
    "CommandsSent",
    "Connected",
    "Force",
    "HomeAssistantBirth",
    "HubProfile",
    "Input",
    "Observed",
    "ProfileStored",
    "Rejected",
    "Tick",
]


@dataclass(frozen=True, slots=True)
class CheckIn:
    """A member checks in for a community the venue knows (the edge checked it). Answered with a `CheckIn`."""

    member_id: str
    community_id: str
    source: str = "http"
    topic: str | None = None


@dataclass(frozen=True, slots=True)
class CheckOut:
    """A member checks out. Answered True, or False if the member was not checked in (rejected from a kiosk)."""

    member_id: str
    source: str = "http"
    topic: str | None = None


@dataclass(frozen=True, slots=True)
class Force:
    """Drive the room with one community's profile whoever is here, or (None) go back to the venue's policy."""

    community_id: str | None
    source: str = "http"
    topic: str | None = None


@dataclass(frozen=True, slots=True)
class HubProfile:
    """A valid profile that arrived from the hub on `topic`: known at once, stored by the shell."""

    profile: Profile
    topic: str


@dataclass(frozen=True, slots=True)
class ProfileStored:
    """The profile store wrote (or, `changed` False, already held) `version` of `profile`.

    `publish`: send it retained to the hub's topic (an edit made here, not one that came from the hub)."""

    profile: Profile
    version: ProfileVersion
    author: str
    changed: bool
    publish: bool = False


@dataclass(frozen=True, slots=True)
class Rejected:
    """Input the edge (or the record) refused, with every reason: recorded, published, acknowledged."""

    topic: str
    errors: tuple[FieldError, ...]


@dataclass(frozen=True, slots=True)
class Observed:
    """What drivers saw of their devices; `mono` is the monotonic time it arrived (for the record's pacing)."""

    observations: tuple[Observation, ...]
    mono: float


@dataclass(frozen=True, slots=True)
class CommandsSent:
    """What the drivers really sent of what the core planned."""

    sent: tuple[Sent, ...]


@dataclass(frozen=True, slots=True)
class Tick:
    """Reconcile: expire, resolve, record what changed, plan. `plan_all` plans every device (once a tick, and after
    a connect); `also` names devices whose commands were held back and must be planned again."""

    plan_all: bool = False
    also: frozenset[str] = frozenset()


@dataclass(frozen=True, slots=True)
class Connected:
    """The broker connection is (re)established: retained state and discovery again, and plan every device."""


@dataclass(frozen=True, slots=True)
class HomeAssistantBirth:
    """Home Assistant (re)started and may have lost its discovery configs."""


Input: TypeAlias = (
    CheckIn
    | CheckOut
    | Force
    | HubProfile
    | ProfileStored
    | Rejected
    | Observed
    | CommandsSent
    | Tick
    | Connected
    | HomeAssistantBirth
)
