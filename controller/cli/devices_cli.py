"""`ambience devices --config FILE`: each configured device with what it can take and where that was learned.

It asks what the running service would ask: Zigbee2MQTT's retained `bridge/devices` on the venue's broker (waiting
up to `--wait` seconds for it), and each paired Hue bridge's lights. A device nobody describes is listed with the
defaults (`source: default`). Exit codes as in `controller.cli.commands`: 0, or 1 with a one-line error when the
broker cannot be reached.
"""

from __future__ import annotations

import json
import os
import sys
import threading
from collections.abc import Mapping
from typing import Any, TextIO

import paho.mqtt.client as mqtt

from controller.shell.bus import BrokerAddress, short_client
from devices.capabilities import DeviceCapabilities, of_device
from devices.driver import Capabilities
from devices.hue import device_capabilities
from devices.hue_client import HueClient, HueError
from devices.z2m_driver import Z2MDriver
from profiles.venue import VenueConfig

EXIT_OK, EXIT_INVALID = 0, 1


def _bridge_devices(venue: VenueConfig, env: Mapping[str, str], wait_s: float) -> bytes | None:
    """The retained `bridge/devices` payload, or None if none came within `wait_s`; raises OSError if the broker
    cannot be reached."""
    address = BrokerAddress.parse(venue.mqtt.url)
    got = threading.Event()
    payload: list[bytes] = []
    topic = f"{venue.mqtt.base_topic}/bridge/devices"
    password = env.get(venue.mqtt.password_env) if venue.mqtt.password_env else None
    client = short_client(address, f"ambience-devices-{os.getpid()}", venue.mqtt.username, password)
    client.on_connect = lambda c, *_: c.subscribe(topic, qos=0)

    def on_message(_c: Any, _u: Any, message: mqtt.MQTTMessage) -> None:
        payload.append(bytes(message.payload))
        got.set()

    client.on_message = on_message
    client.connect(address.host, address.port, keepalive=10)
    client.loop_start()
    try:
        got.wait(wait_s)
    finally:
        client.disconnect()
        client.loop_stop()
    return payload[0] if payload else None


def _hue(venue: VenueConfig, env: Mapping[str, str], err: TextIO) -> dict[str, DeviceCapabilities]:
    found: dict[str, DeviceCapabilities] = {}
    for name, bridge in venue.hue_bridges.items():
        username = env.get(bridge.username_env)
        if not username:
            print(f"hue bridge {name}: {bridge.username_env} is not set; its lights show the defaults", file=err)
            continue
        try:
            lights = HueClient(bridge.host, username).lights()
        except HueError as error:
            print(f"hue bridge {name}: {error}; its lights show the defaults", file=err)
            continue
        for device in venue.devices:
            light = lights.get(str(device.light)) if device.bridge == name else None
            if light is not None:
                found[device.id] = device_capabilities(light)
    return found


def devices(
    venue: VenueConfig,
    *,
    wait_s: float = 5.0,
    as_json: bool = False,
    env: Mapping[str, str] | None = None,
    out: TextIO = sys.stdout,
    err: TextIO = sys.stderr,
) -> int:
    env = os.environ if env is None else env
    learned: dict[str, DeviceCapabilities] = {}
    models: dict[str, str] = {}
    if any(d.driver == "mqtt" for d in venue.devices):
        try:
            listed = _bridge_devices(venue, env, wait_s)
        except OSError as error:
            print(f"error: cannot reach the broker at {venue.mqtt.url}: {error}", file=err)
            return EXIT_INVALID
        if listed is None:
            print(f"no {venue.mqtt.base_topic}/bridge/devices within {wait_s:g} s: is Zigbee2MQTT running?", file=err)
        else:
            driver = Z2MDriver(venue, lambda _t, _p: None, lambda: False)
            for seen in driver.observe(driver.devices_topic, listed, retain=True) or ():
                if isinstance(seen, Capabilities):
                    learned[seen.device_id] = seen.capabilities
            models = _models(listed)
    learned.update(_hue(venue, env, err))
    rows = []
    for device in venue.devices:
        caps = of_device(device, learned).describe()
        model = models.get(device.topic or "") or device.model
        rows.append({"id": device.id, "kind": device.kind, "driver": device.driver, "model": model, **caps})
    if as_json:
        for row in rows:
            print(json.dumps(row), file=out)
        return EXIT_OK
    for row in rows:
        described = ", ".join(f"{k} {_plain(v)}" for k, v in row.items() if k not in ("id", "kind", "driver", "model"))
        model = f" {row['model']}" if row["model"] else ""
        print(f"{row['id']:<20} {row['kind']:<10} {row['driver']}{model}: {described}", file=out)
    return EXIT_OK


def _models(listed: bytes) -> dict[str, str]:
    try:
        entries = json.loads(listed)
    except ValueError:
        return {}
    out: dict[str, str] = {}
    for entry in entries if isinstance(entries, list) else ():
        definition = entry.get("definition") if isinstance(entry, dict) else None
        if isinstance(definition, dict) and isinstance(definition.get("model"), str):
            out[str(entry.get("friendly_name"))] = definition["model"]
    return out


def _plain(value: Any) -> str:
    if isinstance(value, list):
        return "[" + ", ".join(map(str, value)) + "]"
    if isinstance(value, dict):
        return "{" + ", ".join(f"{k} {v}" for k, v in value.items()) + "}"
    return str(value)
