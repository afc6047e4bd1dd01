"""The seam between the venue and its devices: what a driver observes, what it is asked to do, and what it did.

A driver (Zigbee2MQTT over MQTT in `devices.z2m_driver`, Philips Hue bridges in `devices.hue_driver`) owns its
devices' subscriptions and wire formats. It turns what arrives into observations in our own units, and planned
commands into its protocol's messages, answering with what it really sent. The venue's pure core reads the
observations and the `Sent` records; it never sees a topic, a light id or a payload format of its own making.

    wire -> driver.observe(...) -> [Report | Availability | Capabilities | DriverFailure] -> venue core
    venue core -> [Command] -> dispatcher -> driver.send(commands) -> [Sent] -> venue core
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any, Protocol, TypeAlias

from devices.capabilities import DeviceCapabilities
from devices.states import DeviceState
from profiles.venue import DeviceConfig

__all__ = [
    "Availability",
    "Capabilities",
    "Command",
    "Driver",
    "DriverFailure",
    "Observation",
    "Report",
    "Sent",
]


@dataclass(frozen=True, slots=True)
class Command:
    """A change the venue wants a device to make: only the attributes that differ from what it expects."""

    device_id: str
    change: DeviceState
    transition_s: float | None = None
    on_time_s: float | None = None
    """Switch itself off after this long (Zigbee2MQTT's `on_time`): a diffuser plug's on-phase."""


@dataclass(frozen=True, slots=True)
class Report:
    """What a device says it is. `live` is False for a retained replay (an old report, not a person at a switch)."""

    device_id: str
    state: DeviceState
    live: bool


@dataclass(frozen=True, slots=True)
class Availability:
    """A device is reachable or not; `via` names how we know ("availability", "state", "hue")."""

    device_id: str
    online: bool
    via: str


@dataclass(frozen=True, slots=True)
class Capabilities:
    """What a device can take, as its driver learned it (Zigbee2MQTT's `bridge/devices`, a Hue poll)."""

    device_id: str
    capabilities: DeviceCapabilities


@dataclass(frozen=True, slots=True)
class DriverFailure:
    """A driver's link failed (a bridge away, refusing us, or answering with an error), with its own words."""

    link: str
    context: str
    message: str
    error_type: int | None = None
    address: str | None = None
    description: str | None = None


Observation: TypeAlias = Report | Availability | Capabilities | DriverFailure


@dataclass(frozen=True, slots=True)
class Sent:
    """A command as it went out: the device, the change, the payload on the wire, and where it went."""

    device_id: str
    change: DeviceState
    payload: Mapping[str, Any]
    topic: str | None = None
    bridge: str | None = None
    light: str | None = None
    group: str | None = None


class Driver(Protocol):
    """One way of reaching devices. `send` is called on the event loop and must not block."""

    name: str

    def owns(self, device: DeviceConfig) -> bool:
        """Whether this driver drives `device` (the venue's config says how each device is reached)."""
        ...

    def ready(self) -> bool:
        """Whether commands can go out now (a broker connection, for example); if not, they are planned later."""
        ...

    def send(self, commands: Sequence[Command]) -> list[Sent]:
        """Send one planning round's commands for this driver's devices; what was sent, in order."""
        ...
