"""Zigbee2MQTT's own retained topics, as a real bridge publishes them: `bridge/state` (online, with a last will
of offline) and `bridge/devices`, the list of every device with its definition and exposes. A consumer learns
from it what each device can take; a device with a `model` is listed with that real definition, one without as
Zigbee2MQTT lists a device it has no definition for (`supported: false`, `definition: null`)."""

from __future__ import annotations

import contextlib
import json
import logging
import uuid
from collections.abc import Callable, Iterable, Mapping, Sequence
from typing import Any

import paho.mqtt.client as mqtt
from paho.mqtt.enums import CallbackAPIVersion

from firmware_sim.config import BrokerAddress, DeviceSpec
from firmware_sim.definitions import bridge_entry

__all__ = ["SimBridge"]

log = logging.getLogger(__name__)


class SimBridge:
    """`groups`: group friendly name -> its members' topics; a `<base>/<group>/set` reaches each member, as a
    Zigbee groupcast does, and each member reports its own new state."""

    def __init__(
        self,
        specs: Iterable[DeviceSpec],
        broker: BrokerAddress,
        base_topic: str,
        groups: Mapping[str, Sequence[str]] | None = None,
        deliver: Callable[[str, bytes], object] | None = None,
    ) -> None:
        self.devices = [bridge_entry(spec.topic, spec.model) for spec in specs]
        ieee = {entry["friendly_name"]: entry["ieee_address"] for entry in self.devices}
        self.groups = [
            {
                "id": number,
                "friendly_name": name,
                "members": [{"ieee_address": ieee[topic], "endpoint": 1} for topic in members],
                "scenes": [],
            }
            for number, (name, members) in enumerate(sorted((groups or {}).items()), start=1)
        ]
        self._group_members = {f"{base_topic}/{name}/set": list(members) for name, members in (groups or {}).items()}
        self._deliver = deliver
        self.state_topic = f"{base_topic}/bridge/state"
        self.devices_topic = f"{base_topic}/bridge/devices"
        self.groups_topic = f"{base_topic}/bridge/groups"
        client = mqtt.Client(
            CallbackAPIVersion.VERSION2, client_id=f"fwsim-bridge-{uuid.uuid4().hex[:8]}", protocol=mqtt.MQTTv311
        )
        client.will_set(self.state_topic, json.dumps({"state": "offline"}), qos=1, retain=True)
        if broker.username is not None:
            client.username_pw_set(broker.username, broker.password)
        if broker.tls:
            client.tls_set()
        client.reconnect_delay_set(min_delay=1, max_delay=10)
        client.on_connect = self._on_connect
        client.on_message = self._on_group_set
        self._client = client
        self._broker = broker

    def _on_connect(self, client: mqtt.Client, *_: Any) -> None:
        client.publish(self.state_topic, json.dumps({"state": "online"}), qos=1, retain=True)
        client.publish(self.devices_topic, json.dumps(self.devices, separators=(",", ":")), qos=1, retain=True)
        client.publish(self.groups_topic, json.dumps(self.groups, separators=(",", ":")), qos=1, retain=True)
        if self._group_members:
            client.subscribe([(topic, 1) for topic in self._group_members])
        log.debug("bridge: published %d devices on %s", len(self.devices), self.devices_topic)

    def _on_group_set(self, _client: mqtt.Client, _userdata: Any, message: mqtt.MQTTMessage) -> None:
        if self._deliver is None:
            return
        for topic in self._group_members.get(message.topic, ()):
            self._deliver(topic, bytes(message.payload))

    def start(self) -> None:
        self._client.connect_async(self._broker.host, self._broker.port)
        self._client.loop_start()

    def stop(self) -> None:
        if self._client.is_connected():
            info = self._client.publish(self.state_topic, json.dumps({"state": "offline"}), qos=1, retain=True)
            with contextlib.suppress(RuntimeError, ValueError):
                info.wait_for_publish(2)
        self._client.disconnect()
        self._client.loop_stop()
