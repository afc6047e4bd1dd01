"""Real devices as they are: the example venue's Tuya TV02 valve and IKEA white-spectrum bulbs (the simulator plays
their real Zigbee2MQTT definitions and publishes them on bridge/devices), with Hue white bulbs beside them, reach a
steady room in which nothing is sent again: before, the valve was asked `occupied_heating_setpoint` for ever and a
white bulb in a colour zone was re-planned every tick."""

from __future__ import annotations

import asyncio
import json
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from controller.cli.broker import MosquittoBroker
from controller.core.views import devices_view
from firmware_sim.hue_bridge import HueBridgeEmulator
from firmware_sim.venue import zone_groups
from profiles.venue import DeviceConfig, HueBridge, VenueConfig
from testkit.mqtt_clients import Observer
from testkit.waiting import wait_until
from tests.integration.harness import Venue, example_venue, run, running_venue

pytestmark = pytest.mark.integration

ENV = "HUE_TEST_USERNAME"
STEADY_S = 60.0
"""How long the room must stay quiet: longer than the shadow's first retries (5 s, 10 s, 20 s)."""


@pytest.fixture
def bridge() -> Iterator[HueBridgeEmulator]:
    lights = {
        "1": {"name": "Bar white", "type": "Dimmable light"},
        "2": {"name": "Lounge ambiance", "type": "Color temperature light", "ct_min": 153, "ct_max": 454},
    }
    with HueBridgeEmulator(lights=lights, enforce_rate_limit=True) as emulator:
        yield emulator


def venue(broker: MosquittoBroker, tmp_path: Path, emulator: HueBridgeEmulator) -> VenueConfig:
    base = example_venue(broker.url, tmp_path)
    hue = [
        DeviceConfig(id="bar-hue-white", kind="light", zone="bar", driver="hue", bridge="main", light=1),
        DeviceConfig(id="lounge-hue-ambiance", kind="light", zone="lounge", driver="hue", bridge="main", light=2),
    ]
    return base.model_copy(
        update={
            "hue_bridges": {"main": HueBridge(host=emulator.address, username_env=ENV, poll_interval_s=0.2)},
            "devices": [*base.devices, *hue],
        }
    )


def steady(v: Venue) -> bool:
    """Every device confirmed what it was asked and reports it (by the server's own judgement)."""
    views = devices_view(v.service.state)
    return all(d["in_sync"] and d["pending"] is None for d in views if d["desired"] is not None)


def test_a_venue_of_real_devices_settles_and_sends_nothing_again(
    mosquitto: MosquittoBroker, tmp_path: Path, bridge: HueBridgeEmulator
) -> None:
    config = venue(mosquitto, tmp_path, bridge)

    async def scenario() -> None:
        async with running_venue(config, env={ENV: bridge.username}) as v:
            v.kiosk.checkin("ana", "spicy-tech-gossip")  # the bar wants #ff6a00: a colour two of its bulbs lack
            v.kiosk.checkin("ben", "spicy-tech-gossip")
            await wait_until(lambda: steady(v), 20, "every device in its (adapted) state")
            hvac = v.device("hvac")
            assert (hvac["current_heating_setpoint"], hvac["system_mode"]) == (21.5, "heat")
            assert "color" not in v.device("bar-strip") and v.device("bar-strip")["color_temp"] <= 454
            views = {d["id"]: d for d in devices_view(v.service.state)}
            assert views["hvac"]["adapted"] == [  # spicy's 21.5 °C less 0.1 °C for two people (occupancy)
                "target_c: 21.4 °C becomes 21.5 °C (the valve's step and range)",
                "mode: auto becomes heat (the device has off, heat)",
            ]
            assert views["hvac"]["capabilities"]["setpoint"]["key"] == "current_heating_setpoint"
            assert views["bar-strip"]["adapted"] and views["bar-hue-white"]["adapted"]
            adapted_before = len(v.events("device_adapted"))

            watch = await asyncio.to_thread(Observer, config.mqtt.url, [f"{config.mqtt.base_topic}/+/set"])
            try:
                bridge.reset_measurements()
                started = time.monotonic()
                await asyncio.sleep(STEADY_S)
                sets = [(m.topic, json.loads(m.payload)) for m in watch.history if m.at >= started]
            finally:
                watch.close()
            puts = [(c.target, c.body) for c in bridge.commands]
            assert sets == [], f"sent again in a steady minute: {sets}"
            assert puts == [], f"Hue commands in a steady minute: {puts}"
            assert len(v.events("device_adapted")) == adapted_before, "an adaptation was recorded again"

    run(scenario)


def test_a_zone_whose_lights_want_one_state_gets_one_group_command(mosquitto: MosquittoBroker, tmp_path: Path) -> None:
    """Zigbee2MQTT has a group of each zone's lights (`bridge/groups`): one `<group>/set` instead of one per light,
    and the members' own reports confirm it (nothing is sent again)."""
    config = example_venue(mosquitto.url, tmp_path)
    base = config.mqtt.base_topic
    groups = zone_groups([d.model_dump() for d in config.devices])
    assert groups == {"bar_lights": ["bar-pendant", "bar-strip"], "lounge_lights": ["lounge-lamp-1", "lounge-lamp-2"]}

    async def scenario() -> None:
        async with running_venue(config, groups=groups) as v:
            await wait_until(lambda: steady(v), 20, "the house profile")
            watch = await asyncio.to_thread(Observer, config.mqtt.url, [f"{base}/+/set"])
            try:
                v.kiosk.checkin("ana", "book-club")
                v.kiosk.checkin("ben", "book-club")
                await wait_until(lambda: v.device("lounge-lamp-2")["color_temp"] == 370, 10, "book-club's lounge")
                await wait_until(lambda: steady(v), 20, "book-club's room confirmed")
                topics = [m.topic for m in watch.history]
            finally:
                watch.close()
            assert topics.count(f"{base}/lounge_lights/set") == 1, topics
            assert f"{base}/lounge_lamp_1/set" not in topics and f"{base}/lounge_lamp_2/set" not in topics
            sent = [e.payload for e in v.events("command_sent") if e.payload.get("group") == "lounge_lights"]
            assert {p["device_id"] for p in sent} == {"lounge-lamp-1", "lounge-lamp-2"}

    run(scenario)


def test_a_diffuser_on_a_plug_runs_its_duty_cycle_with_the_plugs_own_off_timer(
    mosquitto: MosquittoBroker, tmp_path: Path
) -> None:
    """book-club's scent at 40 % of a 10 s cycle: 4 s on, 6 s off, each on-command with `on_time` so the plug
    switches itself off if the controller is gone; the plug's reports are never taken for a person's change."""
    base = example_venue(mosquitto.url, tmp_path)
    devices = [
        d.model_copy(update={"plug": True, "cycle_s": 10.0, "model": "E160x/E170x/E190x"}) if d.id == "diffuser" else d
        for d in base.devices
    ]
    config = base.model_copy(update={"devices": devices})
    set_topic = f"{config.mqtt.base_topic}/diffuser/set"

    async def scenario() -> None:
        async with running_venue(config) as v:
            watch = await asyncio.to_thread(Observer, config.mqtt.url, [set_topic])
            try:
                v.kiosk.checkin("ana", "book-club")
                v.kiosk.checkin("ben", "book-club")
                for expected in ("ON", "OFF", "ON", "OFF"):
                    await wait_until(lambda e=expected: v.device("diffuser")["state"] == e, 12, f"the plug {expected}")
                commands = [m.json() for m in watch.history]
            finally:
                watch.close()
            ons = [c for c in commands if c.get("state") == "ON"]
            assert ons and all(0 < c["on_time"] <= 4 + 5 for c in ons), commands
            assert not [e for e in v.events("manual_override") if e.payload["device_id"] == "diffuser"]

    run(scenario)
