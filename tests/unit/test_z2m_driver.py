"""The Zigbee2MQTT driver on its own: what it learns from the bridge's retained lists, and what it sends."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from devices.driver import Capabilities, Command
from devices.states import ClimateState, LightState
from devices.z2m_driver import Z2MDriver
from profiles.loader import load_venue
from testkit.z2m import bridge_devices, ieee

ROOT = Path(__file__).resolve().parents[2]
VENUE = load_venue(ROOT / "examples" / "venue.yaml")


def driver() -> tuple[Z2MDriver, list[tuple[str, Any]]]:
    wire: list[tuple[str, Any]] = []
    return Z2MDriver(VENUE, lambda topic, payload: wire.append((topic, json.loads(payload))), lambda: True), wire


def groups_payload(**groups: list[int]) -> bytes:
    listed = [
        {"id": n, "friendly_name": name, "members": [{"ieee_address": ieee(i), "endpoint": 1} for i in members]}
        for n, (name, members) in enumerate(groups.items(), start=1)
    ]
    return json.dumps(listed).encode()


def test_bridge_devices_gives_each_known_device_its_capabilities_and_ignores_the_rest() -> None:
    z2m, _ = driver()
    seen = z2m.observe(
        "zigbee2mqtt/bridge/devices", bridge_devices(dict(hvac="TV02-Zigbee", stranger="LED1545G12")), retain=True
    )
    assert seen is not None and [type(s) for s in seen] == [Capabilities]
    assert isinstance(seen[0], Capabilities) and seen[0].device_id == "hvac"
    assert seen[0].capabilities.setpoint_key == "current_heating_setpoint"
    assert z2m.observe("zigbee2mqtt/bridge/devices", b"not json", retain=True) == []


def test_a_valve_is_sent_the_setpoint_key_it_exposes() -> None:
    z2m, wire = driver()
    z2m.send([Command("hvac", ClimateState(target_c=21.0, mode="heat"))])
    assert wire == [("zigbee2mqtt/hvac/set", {"occupied_heating_setpoint": 21.0, "system_mode": "heat"})]
    z2m.observe("zigbee2mqtt/bridge/devices", bridge_devices(dict(hvac="TV02-Zigbee")), retain=True)
    wire.clear()
    z2m.send([Command("hvac", ClimateState(target_c=21.0, mode="heat"))])
    assert wire == [("zigbee2mqtt/hvac/set", {"current_heating_setpoint": 21.0, "system_mode": "heat"})]


def test_lights_that_want_one_payload_go_as_their_group_and_a_group_with_a_stranger_is_never_used() -> None:
    z2m, wire = driver()
    names = {"lounge_lamp_1": None, "lounge_lamp_2": None, "bar_pendant": None, "bar_strip": None, "other": None}
    z2m.observe("zigbee2mqtt/bridge/devices", bridge_devices(names), retain=True)
    z2m.observe("zigbee2mqtt/bridge/groups", groups_payload(lounge=[0, 1], bar_and_more=[2, 3, 4]), retain=True)
    warm = LightState(on=True, brightness=80.0, color_temp_k=2700)
    ids = ("lounge-lamp-1", "lounge-lamp-2", "bar-pendant", "bar-strip")
    sent = z2m.send([Command(d, warm, 3) for d in ids])
    assert [t for t, _ in wire] == [
        "zigbee2mqtt/lounge/set",
        "zigbee2mqtt/bar_pendant/set",
        "zigbee2mqtt/bar_strip/set",
    ]
    assert {s.device_id: s.group for s in sent} == {
        "lounge-lamp-1": "lounge",
        "lounge-lamp-2": "lounge",
        "bar-pendant": None,
        "bar-strip": None,
    }


def test_a_valve_that_reports_both_setpoints_is_read_by_the_one_it_is_commanded_with() -> None:
    z2m, _ = driver()
    report = json.dumps({"occupied_heating_setpoint": 17, "current_heating_setpoint": 21.5}).encode()
    seen = z2m.observe("zigbee2mqtt/hvac", report, retain=False)
    assert seen is not None and seen[0].state == ClimateState(target_c=17.0)  # type: ignore[union-attr]
    z2m.observe("zigbee2mqtt/bridge/devices", bridge_devices(dict(hvac="TV02-Zigbee")), retain=True)
    seen = z2m.observe("zigbee2mqtt/hvac", report, retain=False)
    assert seen is not None and seen[0].state == ClimateState(target_c=21.5)  # type: ignore[union-attr]
