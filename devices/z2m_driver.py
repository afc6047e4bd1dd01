"""The Zigbee2MQTT driver: each device's state, availability and `/set` topics under the venue's base topic.

It owns those subscriptions, turns what arrives into observations (`devices.driver`) and planned commands into
`/set` payloads (`devices.z2m`). The broker connection is the shell's; the driver is handed a `publish` and asked
`connected`, so it holds no socket and is tested without one.
"""

from __future__ import annotations

import json
import logging
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

from devices.capabilities import DeviceCapabilities, from_exposes, of_device
from devices.driver import Availability, Capabilities, Command, Observation, Report, Sent
from devices.groups import choose_groups
from devices.states import LightState
from devices.units import DEFAULT_MIRED_RANGE
from devices.z2m import Payload, decode_json_object, from_z2m, parse_availability, to_z2m
from profiles.venue import DeviceConfig, VenueConfig

__all__ = ["Z2MDriver"]

log = logging.getLogger(__name__)

Publish = Callable[[str, str], None]


@dataclass(frozen=True, slots=True)
class _Topics:
    config: DeviceConfig
    state: str
    set: str
    availability: str


class Z2MDriver:
    name = "mqtt"

    def __init__(self, venue: VenueConfig, publish: Publish, connected: Callable[[], bool]) -> None:
        base = venue.mqtt.base_topic
        self.base = base
        self.devices_topic = f"{base}/bridge/devices"
        self.groups_topic = f"{base}/bridge/groups"
        self._publish = publish
        self._names: dict[str, str] = {}  # ieee address -> friendly name, from bridge/devices
        self._group_ieees: dict[str, frozenset[str]] = {}  # group friendly name -> members' ieee, bridge/groups
        self._groups: dict[str, frozenset[str]] = {}  # group friendly name -> members' friendly names
        self._caps: dict[str, DeviceCapabilities] = {}
        self._connected = connected
        self._devices: dict[str, _Topics] = {}
        self._by_state: dict[str, _Topics] = {}
        self._by_availability: dict[str, _Topics] = {}
        self._by_name: dict[str, _Topics] = {}
        for device in venue.devices:
            if device.driver == "hue" or device.topic is None:
                continue
            topics = _Topics(
                device, f"{base}/{device.topic}", f"{base}/{device.topic}/set", f"{base}/{device.topic}/availability"
            )
            self._devices[device.id] = topics
            self._by_state[topics.state] = topics
            self._by_availability[topics.availability] = topics
            self._by_name[device.topic] = topics

    def subscriptions(self) -> list[tuple[str, int]]:
        """Each device's state and availability topic, QoS 0 (a lost report is superseded by the next one), and
        the bridge's retained device and group lists: what each device can take, and which groups exist."""
        topics = [(topic, 0) for t in self._devices.values() for topic in (t.state, t.availability)]
        return [*topics, (self.devices_topic, 0), (self.groups_topic, 0)] if self._devices else topics

    def owns(self, device: DeviceConfig) -> bool:
        return device.id in self._devices

    def ready(self) -> bool:
        return self._connected()

    def observe(self, topic: str, payload: bytes, *, retain: bool) -> list[Observation] | None:
        """What a message on one of our topics says (nothing, for one we cannot read); None if not ours.

        A retained state is an old report (not live): it tells the state, not that the device is there."""
        if topic == self.devices_topic:
            return self._bridge_devices(payload)
        if topic == self.groups_topic:
            self._bridge_groups(payload)
            return []
        if (topics := self._by_state.get(topic)) is not None:
            data = decode_json_object(payload)
            if data is None:
                log.debug("device %s: ignored a state message that is not a JSON object", topics.config.id)
                return []
            key = of_device(topics.config, self._caps).setpoint_key
            state = from_z2m(topics.config.kind, data, setpoint_key=key)
            return [Report(topics.config.id, state, live=not retain)]
        if (topics := self._by_availability.get(topic)) is not None:
            online = parse_availability(payload)
            if online is None:
                log.debug("device %s: unreadable availability %r", topics.config.id, payload[:40])
                return []
            return [Availability(topics.config.id, online, "availability")]
        return None

    def _bridge_devices(self, payload: bytes) -> list[Observation]:
        """`bridge/devices`: each of our devices' definition (`friendly_name` is its topic) and what its exposes
        say it can take. A device without a definition (not yet interviewed) keeps the defaults."""
        seen: list[Observation] = []
        for entry in _listed(payload, self.devices_topic, "capabilities"):
            name = entry.get("friendly_name") if isinstance(entry, dict) else None
            if isinstance(name, str) and isinstance(ieee := entry.get("ieee_address"), str):
                self._names[ieee] = name
            if not isinstance(name, str) or (topics := self._by_name.get(name)) is None:
                continue
            definition = entry.get("definition")
            exposes = definition.get("exposes") if isinstance(definition, dict) else None
            caps = from_exposes(topics.config.kind, exposes)
            if caps is not None:
                self._caps[topics.config.id] = caps
                seen.append(Capabilities(topics.config.id, caps))
        self._regroup()
        return seen

    def _bridge_groups(self, payload: bytes) -> None:
        """`bridge/groups`: each group's friendly name and its members (by ieee address)."""
        groups: dict[str, frozenset[str]] = {}
        for entry in _listed(payload, self.groups_topic, "groups"):
            name = entry.get("friendly_name") if isinstance(entry, dict) else None
            members = entry.get("members") if isinstance(entry, dict) else None
            if isinstance(name, str) and isinstance(members, list):
                ieees = {m.get("ieee_address") for m in members if isinstance(m, dict)}
                groups[name] = frozenset(i for i in ieees if isinstance(i, str))
        self._group_ieees = groups
        self._regroup()

    def _regroup(self) -> None:
        """Groups by their members' friendly names, once per list that arrives (not per command); a member the
        bridge did not list keeps its address, so a group with a light that is not ours is never used (it would
        change that light too)."""
        names = self._names
        self._groups = {name: frozenset(names.get(i, i) for i in ieees) for name, ieees in self._group_ieees.items()}

    def send(self, commands: Sequence[Command]) -> list[Sent]:
        """One planning round: lights that want the very same payload go as one group command where Zigbee2MQTT
        has a group of exactly those lights (its own advice for many lights), the rest one by one."""
        payloads: dict[str, tuple[Command, Payload]] = {}
        for command in commands:
            topics = self._devices[command.device_id]
            caps = of_device(topics.config, self._caps)
            mireds = caps.mireds or DEFAULT_MIRED_RANGE
            payload = to_z2m(
                command.change, transition_s=command.transition_s, mired_range=mireds, setpoint_key=caps.setpoint_key
            )
            if command.on_time_s is not None and payload.get("state") == "ON":
                payload["on_time"] = command.on_time_s  # a plug that switches itself off (docs/contract.md §7)
            payloads[str(topics.config.topic)] = (command, payload)
        lights = {name: payload for name, (c, payload) in payloads.items() if isinstance(c.change, LightState)}
        via: dict[str, str] = {}  # friendly name -> the group whose command reaches it
        if self._groups:
            for gid, body in choose_groups(lights, self._groups, max_groups=None).groups.items():
                self._publish(f"{self.base}/{gid}/set", json.dumps(body, separators=(",", ":")))
                via.update(dict.fromkeys(self._groups[gid], gid))
        sent: list[Sent] = []
        for name, (command, payload) in payloads.items():
            group = via.get(name)
            if group is None:
                topic = self._devices[command.device_id].set
                self._publish(topic, json.dumps(payload, separators=(",", ":")))
            else:
                topic = f"{self.base}/{group}/set"
            sent.append(Sent(command.device_id, command.change, payload, topic=topic, group=group))
        return sent


def _listed(payload: bytes, topic: str, what: str) -> list[Any]:
    """One of the bridge's retained lists; [] (and a warning: `what` stays as it is) for one that is not a list."""
    try:
        listed = json.loads(payload)
    except (UnicodeDecodeError, ValueError, RecursionError):
        listed = None
    if not isinstance(listed, list):
        log.warning("%s: not a JSON list; %s stay as they are", topic, what)
        return []
    return listed
