"""The venue core's state: one immutable value that a step replaces, and the scratch a step builds it in.

`Site` is what the venue's config fixes (its devices and topics); `VenueState` is everything that changes. A step
starts a `Work` from the state, the rules (`people`, `observing`, `room`) change it and append events and
commands, and `Work.done` freezes it again. Device maps are `immutables.Map`, so one report costs O(log n) and
not a copy of every device's shadow.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

import immutables

from controller.core.events import EventBody
from controller.core.outputs import Emit, Mutation, Output, Step
from controller.core.presence import Presence
from controller.core.resolve import Resolution
from controller.core.shadow import Shadow
from controller.core.topics import Topics
from devices.capabilities import DeviceCapabilities
from devices.capabilities import of_device as capabilities_of
from devices.states import DeviceState
from devices.units import DEFAULT_MIRED_RANGE, MiredRange
from profiles.profile import Profile
from profiles.venue import DeviceConfig, VenueConfig

__all__ = ["Site", "VenueState", "Work", "capabilities_of", "mireds_of"]


@dataclass(frozen=True, slots=True)
class Site:
    """The venue as configured: the devices the controller can drive (by id) and its topics."""

    venue: VenueConfig
    devices: Mapping[str, DeviceConfig]
    topics: Topics
    learned: frozenset[str] = frozenset()
    """Devices planned only once their driver has said what they can take (Hue lights, from the first poll)."""

    @staticmethod
    def of(venue: VenueConfig) -> Site:
        """Devices with a way to reach them: an MQTT topic, or a Hue bridge and light."""
        drivable = {
            d.id: d
            for d in venue.devices
            if (d.driver == "hue" and d.bridge is not None and d.light is not None)
            or (d.driver != "hue" and d.topic is not None)
        }
        hue = frozenset(d for d, device in drivable.items() if device.driver == "hue")
        return Site(venue, drivable, Topics.of(venue.venue.id), hue)


@dataclass(frozen=True, slots=True)
class VenueState:
    site: Site
    presence: Presence = field(default_factory=Presence)
    profiles: Mapping[str, Profile] = field(default_factory=dict)
    activations: Mapping[str, datetime] = field(default_factory=dict)
    forced: str | None = None
    resolution: Resolution | None = None
    shadows: immutables.Map[str, Shadow] = field(default_factory=immutables.Map)
    capabilities: immutables.Map[str, DeviceCapabilities] = field(default_factory=immutables.Map)
    """What each device can take, as its driver learned it (`devices.capabilities`); the config narrows it."""
    adapted: immutables.Map[str, tuple[str, ...]] = field(default_factory=immutables.Map)
    """How each device's wanted state was adapted to it, as last recorded (`device_adapted`)."""
    recorded: immutables.Map[str, tuple[DeviceState, float]] = field(default_factory=immutables.Map)
    """Each device's last state written to the record, and the monotonic time it was."""
    dirty: frozenset[str] = frozenset()
    """Devices with news since the last plan: only they are planned unless the ambience changed."""
    plan_all: bool = True
    state_json: str | None = None
    """The retained state topic's payload as last published."""
    discovery: Mapping[str, str] = field(default_factory=dict)
    """Home Assistant config topic -> payload last published."""

    @staticmethod
    def initial(
        venue: VenueConfig,
        *,
        presence: Presence | None = None,
        profiles: Mapping[str, Profile] | None = None,
        activations: Mapping[str, datetime] | None = None,
        forced: str | None = None,
        overrides: Mapping[str, datetime] | None = None,
    ) -> VenueState:
        """The state at start, from what the record and the profile store kept."""
        site = Site.of(venue)
        until = overrides or {}
        shadows = immutables.Map({d: Shadow(override_until=until[d]) if d in until else Shadow() for d in site.devices})
        return VenueState(
            site,
            presence=presence or Presence(),
            profiles=dict(profiles or {}),
            activations=dict(activations or {}),
            forced=forced,
            shadows=shadows,
        )

    def capabilities_of(self, device: DeviceConfig) -> DeviceCapabilities:
        return capabilities_of(device, self.capabilities)

    def mireds_for(self, device: DeviceConfig) -> MiredRange:
        return mireds_of(device, self.capabilities)


def mireds_of(device: DeviceConfig, learned: Mapping[str, DeviceCapabilities]) -> MiredRange:
    return capabilities_of(device, learned).mireds or DEFAULT_MIRED_RANGE


class Work:
    """A step in progress: the state's fields as attributes to change, and what the step emits and commands.

    Each field is copied by name, not by a loop over `dataclasses.fields`: a step is the venue's hot path (every
    message takes one), and the loop cost half of it (tests/unit/test_venue_core.py checks that none is missed)."""

    __slots__ = (
        "activations",
        "adapted",
        "capabilities",
        "commands",
        "dirty",
        "discovery",
        "events",
        "forced",
        "now",
        "plan_all",
        "presence",
        "profiles",
        "recorded",
        "resolution",
        "shadows",
        "site",
        "state_json",
    )

    site: Site
    presence: Presence
    profiles: Mapping[str, Profile]
    activations: Mapping[str, datetime]
    forced: str | None
    resolution: Resolution | None
    shadows: immutables.Map[str, Shadow]
    capabilities: immutables.Map[str, DeviceCapabilities]
    adapted: immutables.Map[str, tuple[str, ...]]
    recorded: immutables.Map[str, tuple[DeviceState, float]]
    dirty: frozenset[str]
    plan_all: bool
    state_json: str | None
    discovery: Mapping[str, str]

    def __init__(self, state: VenueState, now: datetime) -> None:
        self.site = state.site
        self.presence = state.presence
        self.profiles = state.profiles
        self.activations = state.activations
        self.forced = state.forced
        self.resolution = state.resolution
        self.shadows = state.shadows
        self.capabilities = state.capabilities
        self.adapted = state.adapted
        self.recorded = state.recorded
        self.dirty = state.dirty
        self.plan_all = state.plan_all
        self.state_json = state.state_json
        self.discovery = state.discovery
        self.events: list[Emit] = []
        self.commands: list[Output] = []
        self.now = now

    @property
    def venue(self) -> VenueConfig:
        return self.site.venue

    @property
    def topics(self) -> Topics:
        return self.site.topics

    def emit(self, event: EventBody, *mutations: Mutation, durable: bool = False) -> None:
        self.events.append(Emit(event, mutations, durable))

    def command(self, output: Output) -> None:
        self.commands.append(output)

    def touch(self, device_id: str) -> None:
        if device_id not in self.dirty:  # a chatty device reports often: no new set for a repeat
            self.dirty = self.dirty | {device_id}

    def done(self, reply: Any = None) -> Step:
        state = VenueState(
            site=self.site,
            presence=self.presence,
            profiles=self.profiles,
            activations=self.activations,
            forced=self.forced,
            resolution=self.resolution,
            shadows=self.shadows,
            capabilities=self.capabilities,
            adapted=self.adapted,
            recorded=self.recorded,
            dirty=self.dirty,
            plan_all=self.plan_all,
            state_json=self.state_json,
            discovery=self.discovery,
        )
        return Step(state, tuple(self.events), tuple(self.commands), reply)
