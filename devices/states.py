"""Capability states in human units: what a device is (reported) or should be (desired).

One frozen dataclass per capability. Every field is optional: in a *desired* state `None` means "don't care", in
a *reported* state it means "the device did not say". Protocol units (0-254 brightness, mireds, Hue's deciseconds)
never appear here; drivers convert at the edge.

Colour is kept as CIE 1931 xy because that is what devices report; a profile's `#rrggbb` is converted once, when
the desired state is built, so desired and reported compare in the same space.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Literal, TypeAlias

DeviceKind: TypeAlias = Literal["light", "thermostat", "speaker", "scent"]
ClimateMode: TypeAlias = Literal["off", "heat", "cool", "auto"]
PlayState: TypeAlias = Literal["play", "pause", "stop"]


@dataclass(frozen=True, slots=True)
class LightState:
    on: bool | None = None
    brightness: float | None = None  # percent 0-100
    color_temp_k: int | None = None  # Kelvin; set when the light is in colour-temperature mode
    color_xy: tuple[float, float] | None = None  # CIE 1931 xy; set when the light is in colour mode


@dataclass(frozen=True, slots=True)
class ClimateState:
    target_c: float | None = None
    mode: ClimateMode | None = None
    local_temp_c: float | None = None  # reported only: the room's temperature


@dataclass(frozen=True, slots=True)
class AudioState:
    state: PlayState | None = None
    volume: int | None = None  # percent 0-100
    playlist: str | None = None


@dataclass(frozen=True, slots=True)
class ScentState:
    on: bool | None = None
    intensity: int | None = None  # percent 0-100
    name: str | None = None


DeviceState: TypeAlias = LightState | ClimateState | AudioState | ScentState

STATE_OF_KIND: dict[str, type[LightState] | type[ClimateState] | type[AudioState] | type[ScentState]] = {
    "light": LightState,
    "thermostat": ClimateState,
    "speaker": AudioState,
    "scent": ScentState,
}


def set_fields(state: DeviceState) -> dict[str, Any]:
    """The fields that are not None, by name. Reads `__slots__` (these are slotted dataclasses), not
    `dataclasses.fields()`: every report and every command goes through here."""
    return {name: value for name in state.__slots__ if (value := getattr(state, name)) is not None}
