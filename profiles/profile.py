"""A community's ambience profile (docs/contract.md §3): what the room should feel like when they are here.

Every section and every field is optional: `None` means "this profile does not care", so the resolver can
layer phases over the base and zone entries over the top level. Unknown fields are rejected, never ignored,
because a misspelt `colour:` silently doing nothing is the worst kind of bug for a non-programmer to find.
"""

from __future__ import annotations

import json
from typing import Annotated, Literal

from pydantic import Field, field_validator

from profiles._model import DocumentModel
from profiles.errors import ErrorCollector
from profiles.units import Celsius, HexColor, Kelvin, Percent, Slug, TransitionS

__all__ = [
    "Audio",
    "Climate",
    "Lighting",
    "LightingZone",
    "Occupancy",
    "Phase",
    "Profile",
    "Scent",
    "canonical_json",
]

_Name = Annotated[str, Field(min_length=1, max_length=200)]
_PerTen = Annotated[float, Field(ge=-100, le=100)]


class LightingZone(DocumentModel):
    """Lighting for one zone; each field overrides the profile's top-level lighting there."""

    on: bool | None = None
    """Lights on (true) or off (false)."""
    brightness: Percent | None = None
    """Brightness in percent, 0-100."""
    color_temp_k: Kelvin | None = None
    """White colour temperature in Kelvin, 2000-6500."""
    color: HexColor | None = None
    """A colour `#rrggbb` (stored lowercase)."""
    transition_s: TransitionS | None = None
    """Fade time in seconds, 0-3600."""


class Lighting(LightingZone):
    """Lighting for the whole venue, with optional per-zone overrides."""

    zones: dict[Annotated[str, Field(min_length=1)], LightingZone] = {}
    """Overrides per zone name (zones are the venue's `zones`)."""


class Climate(DocumentModel):
    """The thermostat's target."""

    target_c: Celsius | None = None
    """Setpoint in degrees Celsius, 5-35."""
    mode: Literal["off", "heat", "cool", "auto"] | None = None
    """Thermostat mode."""


class Audio(DocumentModel):
    """What the speaker plays."""

    playlist: _Name | None = None
    """Playlist name, as the speaker knows it."""
    volume: Percent | None = None
    """Volume in percent, 0-100."""
    state: Literal["play", "pause", "stop"] | None = None
    """Transport state."""


class Scent(DocumentModel):
    """What the diffuser releases."""

    name: _Name | None = None
    """Scent name, as the diffuser knows it."""
    intensity: Percent | None = None
    """Intensity in percent, 0-100; 0 turns the diffuser off."""


class Phase(DocumentModel):
    """A later stage of the gathering: from `after_min` minutes on, its sections override the base."""

    after_min: Annotated[float, Field(ge=0)]
    """Minutes after the profile became active."""
    name: Annotated[str, Field(min_length=1, max_length=100)]
    """Shown in the dashboard and the event record."""
    lighting: Lighting | None = None
    climate: Climate | None = None
    audio: Audio | None = None
    scent: Scent | None = None


class Occupancy(DocumentModel):
    """Adjustments per 10 people present (all communities together), applied on top of the profile."""

    volume_per_10: _PerTen | None = None
    """Volume percent points added per 10 people."""
    target_c_per_10: _PerTen | None = None
    """Degrees Celsius added per 10 people (usually negative: people warm a room)."""
    brightness_per_10: _PerTen | None = None
    """Brightness percent points added per 10 people."""


class Profile(DocumentModel):
    """A community's mood profile; phases are kept sorted by `after_min`, whatever order they came in."""

    community_id: Slug
    """The community this profile belongs to."""
    name: Annotated[str, Field(min_length=1, max_length=100)]
    """A human name for the mood."""
    quorum: Annotated[int, Field(ge=1)] = 1
    """Members that must be present before this profile can become active."""
    lighting: Lighting | None = None
    climate: Climate | None = None
    audio: Audio | None = None
    scent: Scent | None = None
    phases: tuple[Phase, ...] = ()
    """Later stages; names and start minutes must be unique."""
    occupancy: Occupancy | None = None

    @field_validator("phases")
    @classmethod
    def _phases_unique_and_sorted(cls, phases: tuple[Phase, ...]) -> tuple[Phase, ...]:
        """Two phases with one name or one start minute would make the active phase ambiguous."""
        problems = ErrorCollector()
        names: dict[str, int] = {}
        starts: dict[float, int] = {}
        for index, phase in enumerate(phases):
            if phase.name in names:
                problems.add(
                    (index, "name"),
                    "duplicate",
                    f"must be unique (phases.{names[phase.name]} has the same name)",
                    phase.name,
                )
            else:
                names[phase.name] = index
            if phase.after_min in starts:
                problems.add(
                    (index, "after_min"),
                    "duplicate",
                    f"must be unique (phases.{starts[phase.after_min]} starts at the same minute)",
                    phase.after_min,
                )
            else:
                starts[phase.after_min] = index
        problems.raise_if_any("Profile")
        return tuple(sorted(phases, key=lambda phase: phase.after_min))


def canonical_json(profile: Profile) -> str:
    """One stable text per meaning: unset (null) fields dropped, keys sorted, no whitespace.

    Two profiles that mean the same thing (one with `color: null`, one without) get the same text, hence the
    same stored body and ETag; it is also the form published on `ambience/profiles/<community_id>`.
    """
    data = profile.model_dump(mode="json", exclude_none=True)
    return json.dumps(data, sort_keys=True, separators=(",", ":"), ensure_ascii=False)
