"""The event catalogue: one frozen class per type of event the venue records, listed once in `CATALOGUE`.

The record, the InfluxDB forwarder (which fields become tags and which numeric fields), `ambience schema events`,
the docs and the dashboard all read this list, so a new type cannot be recorded without being described, and
nothing matches a type by a string spelled somewhere else (h11's `_events.py` is the model).

A class's fields are its payload, in order. A field marked `OMIT` is left out of the payload while it is None (a
check-in's `moved_from` exists only for a move); any other None is written as null. `TAG` marks a short text that
the forwarder copies as an InfluxDB tag, `FIELD` a number it copies as a field (docs/telemetry.md); `member_id` is
never a tag (unbounded, and personal).
"""

from __future__ import annotations

import dataclasses
import typing
from dataclasses import dataclass
from enum import Enum
from typing import Annotated, Any, ClassVar

__all__ = [
    "CATALOGUE",
    "TYPES",
    "AmbienceApplied",
    "BridgeError",
    "Checkin",
    "CheckinExpired",
    "Checkout",
    "CommandSent",
    "DeviceAdapted",
    "DeviceOffline",
    "DeviceOnline",
    "DeviceState",
    "EventBody",
    "InputRejected",
    "LimitClamped",
    "ManualOverride",
    "PhaseChanged",
    "ProfileActivated",
    "ProfileForced",
    "ProfileUpdated",
    "RetentionHeld",
    "events_schema",
    "influx_keys",
]


class Mark(Enum):
    """What a field's `Annotated` metadata says about it."""

    TAG = "tag"  # a short text the forwarder writes as an InfluxDB tag
    FIELD = "field"  # a number the forwarder writes as an InfluxDB field
    OMIT = "omit"  # left out of the payload while it is None


TAG, FIELD, OMIT = Mark.TAG, Mark.FIELD, Mark.OMIT


_MARKS: dict[type, dict[str, frozenset[Mark]]] = {}


def marks(cls: type[EventBody]) -> dict[str, frozenset[Mark]]:
    """Each field's marks, in field order, read once per class (every emitted event asks)."""
    found = _MARKS.get(cls)
    if found is None:
        hints = typing.get_type_hints(cls, include_extras=True)
        found = {
            item.name: frozenset(m for m in getattr(hints[item.name], "__metadata__", ()) if isinstance(m, Mark))
            for item in dataclasses.fields(cls)
        }
        _MARKS[cls] = found
    return found


@dataclass(frozen=True, slots=True)
class EventBody:
    """What an event says; its type is the class's `TYPE`, its id, time and venue are the record's."""

    TYPE: ClassVar[str]
    SUMMARY: ClassVar[str]

    def body(self) -> dict[str, Any]:
        """The payload as the record stores it."""
        out: dict[str, Any] = {}
        for name, flags in marks(type(self)).items():
            value = getattr(self, name)
            if value is None and OMIT in flags:
                continue
            out[name] = value
        return out


# -- presence ------------------------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Checkin(EventBody):
    TYPE = "checkin"
    SUMMARY = "a member checked in (kiosk or API); `present` is the community's headcount after it"
    member_id: str
    community_id: Annotated[str, TAG]
    source: Annotated[str, TAG]
    present: Annotated[int, FIELD]
    moved_from: Annotated[str | None, TAG, OMIT] = None
    moved_from_present: Annotated[int | None, OMIT] = None


@dataclass(frozen=True, slots=True)
class Checkout(EventBody):
    TYPE = "checkout"
    SUMMARY = "a member checked out"
    member_id: str
    community_id: Annotated[str, TAG]
    source: Annotated[str, TAG]
    present: Annotated[int, FIELD]


@dataclass(frozen=True, slots=True)
class CheckinExpired(EventBody):
    TYPE = "checkin_expired"
    SUMMARY = "a member not checked out left after `policy.checkin_ttl_hours`"
    member_id: str
    community_id: Annotated[str, TAG]
    checked_in_at: str
    present: Annotated[int, FIELD]


# -- profiles and the room -------------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class ProfileUpdated(EventBody):
    TYPE = "profile_updated"
    SUMMARY = "a new version of a community's profile was stored (API, hub, or a file in profiles_dir)"
    community_id: Annotated[str, TAG]
    version: Annotated[int, FIELD]
    etag: str
    author: str


@dataclass(frozen=True, slots=True)
class ProfileForced(EventBody):
    TYPE = "profile_forced"
    SUMMARY = "an operator forced a profile (null: back to the venue's policy)"
    community_id: Annotated[str | None, TAG]
    previous: str | None
    source: Annotated[str, TAG]


@dataclass(frozen=True, slots=True)
class ProfileActivated(EventBody):
    TYPE = "profile_activated"
    SUMMARY = "another community (or set of communities) now drives the room, with the headcount"
    community_id: Annotated[str | None, TAG]
    active: list[str]
    source: Annotated[str, TAG]
    previous: str | None
    headcount: dict[str, int]


@dataclass(frozen=True, slots=True)
class PhaseChanged(EventBody):
    TYPE = "phase_changed"
    SUMMARY = "the active profile entered another phase (null: its base)"
    community_id: Annotated[str | None, TAG]
    phase: Annotated[str | None, TAG]
    previous: str | None


@dataclass(frozen=True, slots=True)
class AmbienceApplied(EventBody):
    TYPE = "ambience_applied"
    SUMMARY = "the desired ambience per zone changed"
    community_id: Annotated[str | None, TAG]
    phase: Annotated[str | None, TAG]
    zones: dict[str, Any]


@dataclass(frozen=True, slots=True)
class LimitClamped(EventBody):
    TYPE = "limit_clamped"
    SUMMARY = "a venue limit (or a value's own range) changed a desired value"
    zone: Annotated[str, TAG]
    field: Annotated[str, TAG]
    requested: Annotated[float, FIELD]
    applied: Annotated[float, FIELD]
    limit: Annotated[str, TAG]


# -- devices ---------------------------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class CommandSent(EventBody):
    TYPE = "command_sent"
    SUMMARY = "a command went to a device: its MQTT `/set` topic, or its Hue bridge and light (and group)"
    device_id: Annotated[str, TAG]
    payload: dict[str, Any]
    topic: Annotated[str | None, OMIT] = None
    bridge: Annotated[str | None, OMIT] = None
    light: Annotated[str | None, OMIT] = None
    group: Annotated[str | None, OMIT] = None


@dataclass(frozen=True, slots=True)
class DeviceState(EventBody):
    TYPE = "device_state"
    SUMMARY = "what a device reported, when it said something new (docs/reliability.md)"
    device_id: Annotated[str, TAG]
    kind: Annotated[str, TAG]
    state: dict[str, Any]


@dataclass(frozen=True, slots=True)
class DeviceOnline(EventBody):
    TYPE = "device_online"
    SUMMARY = "a device is back: by its availability topic, a live state, or a Hue poll"
    device_id: Annotated[str, TAG]
    via: Annotated[str, TAG]


@dataclass(frozen=True, slots=True)
class DeviceOffline(EventBody):
    TYPE = "device_offline"
    SUMMARY = "a device went away"
    device_id: Annotated[str, TAG]
    via: Annotated[str, TAG]


@dataclass(frozen=True, slots=True)
class ManualOverride(EventBody):
    TYPE = "manual_override"
    SUMMARY = "a person changed a device; it is left alone until `until`"
    device_id: Annotated[str, TAG]
    changed: dict[str, Any]
    until: str


@dataclass(frozen=True, slots=True)
class DeviceAdapted(EventBody):
    TYPE = "device_adapted"
    SUMMARY = "what the room wants was adapted to what a device can take (its key, range, step, modes, colour)"
    device_id: Annotated[str, TAG]
    adapted: list[str]
    source: str  # where its capabilities came from: bridge/devices, hue, default


@dataclass(frozen=True, slots=True)
class BridgeError(EventBody):
    TYPE = "bridge_error"
    SUMMARY = "a Hue bridge refused a request or could not be reached, with its own message"
    bridge: str
    context: str
    error: str
    error_type: Annotated[int | None, OMIT] = None  # the bridge's error number ("type" would hide the event's)
    address: Annotated[str | None, OMIT] = None
    description: Annotated[str | None, OMIT] = None


# -- the venue itself ------------------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class InputRejected(EventBody):
    TYPE = "input_rejected"
    SUMMARY = "a message was refused (kiosk, hub profile, force), with every error at its field path"
    topic: str
    errors: list[dict[str, str]]
    more_errors: Annotated[int | None, OMIT] = None


@dataclass(frozen=True, slots=True)
class RetentionHeld(EventBody):
    TYPE = "retention_held"
    SUMMARY = "the wall clock ran ahead of what the record allows: retention prunes by the trusted time"
    wall: str
    pruning_by: str
    ahead_s: int


CATALOGUE: tuple[type[EventBody], ...] = (
    Checkin,
    Checkout,
    CheckinExpired,
    ProfileUpdated,
    ProfileForced,
    ProfileActivated,
    PhaseChanged,
    AmbienceApplied,
    LimitClamped,
    CommandSent,
    DeviceState,
    DeviceOnline,
    DeviceOffline,
    ManualOverride,
    DeviceAdapted,
    BridgeError,
    InputRejected,
    RetentionHeld,
)
TYPES: tuple[str, ...] = tuple(cls.TYPE for cls in CATALOGUE)


def influx_keys() -> tuple[frozenset[str], frozenset[str]]:
    """(tag keys, numeric field keys) across the catalogue, as the forwarder copies them from payloads."""
    tags: set[str] = set()
    numbers: set[str] = set()
    for cls in CATALOGUE:
        for item in dataclasses.fields(cls):
            flags = marks(cls)[item.name]
            if TAG in flags:
                tags.add(item.name)
            elif FIELD in flags:
                numbers.add(item.name)
    return frozenset(tags), frozenset(numbers)


def events_schema() -> dict[str, Any]:
    """JSON Schema of a record event as the API and `ambience events --json` show it: one shape per type."""
    from pydantic import TypeAdapter  # only here: the catalogue itself needs nothing but the standard library

    shapes = []
    for cls in CATALOGUE:
        schema = TypeAdapter(cls).json_schema()
        required = [name for name in schema.get("required", []) if name != "TYPE"]
        properties = {
            "id": {"type": "integer", "description": "grows with every event, never reused"},
            "ts": {"type": "string", "format": "date-time"},
            "venue": {"type": "string"},
            "type": {"const": cls.TYPE},
            **schema.get("properties", {}),
        }
        shapes.append(
            {
                "title": cls.TYPE,
                "description": cls.SUMMARY,
                "type": "object",
                "properties": properties,
                "required": ["id", "ts", "venue", "type", *required],
            }
        )
    return {
        "$schema": "https://json-schema.org/draft/2020-12/schema",
        "title": "ambience event",
        "description": "An event of the venue's record (docs/architecture.md, controller/core/events.py).",
        "oneOf": shapes,
    }
