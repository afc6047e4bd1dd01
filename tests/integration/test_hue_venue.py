"""Hue lights in a working venue: the real phue library (through devices.hue_client) against the bridge emulator
over HTTP on loopback, beside the simulated MQTT devices, driven by kiosk check-ins."""

from __future__ import annotations

import asyncio
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from controller.cli.broker import MosquittoBroker
from controller.core.views import devices_view
from devices.compare import differences
from devices.hue import from_hue
from devices.states import LightState
from firmware_sim.hue_bridge import HueBridgeEmulator
from profiles.venue import DeviceConfig, HueBridge, VenueConfig
from testkit.waiting import wait_until
from tests.integration.harness import Venue, example_venue, run, running_venue

pytestmark = pytest.mark.integration

ENV = "HUE_TEST_USERNAME"
HUE_LIGHTS = {"lounge-hue-1": 1, "lounge-hue-2": 2, "bar-hue": 3}


@pytest.fixture
def bridge() -> Iterator[HueBridgeEmulator]:
    emulator = HueBridgeEmulator(
        lights={"1": {"name": "Lounge left"}, "2": {"name": "Lounge right"}, "3": {"name": "Bar"}},
        groups={"1": {"name": "Lounge", "lights": ["1", "2"], "type": "Room"}},
        enforce_rate_limit=True,
    )
    with emulator:
        yield emulator


def hue_venue(
    broker: MosquittoBroker,
    tmp_path: Path,
    emulator: HueBridgeEmulator,
    lights: dict[str, int] = HUE_LIGHTS,
    **updates: Any,
) -> VenueConfig:
    base = example_venue(broker.url, tmp_path)
    hue = [
        DeviceConfig(id=device_id, kind="light", zone=device_id.split("-")[0], driver="hue", bridge="main", light=n)
        for device_id, n in lights.items()
    ]
    return base.model_copy(
        update={
            "hue_bridges": {"main": HueBridge(host=emulator.address, username_env=ENV, poll_interval_s=0.2)},
            "devices": [*base.devices, *hue],
            **updates,
        }
    )


def hue_options(emulator: HueBridgeEmulator) -> dict[str, Any]:
    return {"env": {ENV: emulator.username}}


def desired(v: Venue, device_id: str) -> LightState:
    view = next(d for d in devices_view(v.service.state) if d["id"] == device_id)
    assert view["desired"] is not None
    zones = v.service.state.resolution.zones if v.service.state.resolution else {}
    zone = zones.get(view["zone"]) or zones["*"]
    assert zone.light is not None
    return zone.light


def leader(v: Venue) -> str | None:
    return v.service.state.resolution.leader if v.service.state.resolution is not None else None


def bridge_matches(v: Venue, emulator: HueBridgeEmulator, device_id: str, lights: dict[str, int] = HUE_LIGHTS) -> bool:
    """The light on the bridge (read from the emulator, not through the service) is in the desired state."""
    state, reachable = from_hue(emulator.light(str(lights[device_id])))
    return reachable and differences(desired(v, device_id), state) is None


def settled(v: Venue, emulator: HueBridgeEmulator, lights: dict[str, int] = HUE_LIGHTS) -> bool:
    """Every Hue light is in the desired state, and the service has seen it confirm what it sent."""
    return all(bridge_matches(v, emulator, d, lights) and v.service.state.shadows[d].pending is None for d in lights)


def test_a_checkin_turns_the_hue_lights_to_the_profile_with_one_group_command_for_the_lounge(
    mosquitto: MosquittoBroker, tmp_path: Path, bridge: HueBridgeEmulator
) -> None:
    config = hue_venue(mosquitto, tmp_path, bridge)

    async def scenario() -> None:
        async with running_venue(config, **hue_options(bridge)) as v:
            await wait_until(lambda: settled(v, bridge), 10, "the house profile")
            bridge.reset_measurements()
            v.kiosk.checkin("ana", "spicy-tech-gossip")
            v.kiosk.checkin("ben", "spicy-tech-gossip")
            await wait_until(lambda: leader(v) == "spicy-tech-gossip", 10)
            await wait_until(lambda: all(bridge_matches(v, bridge, d) for d in HUE_LIGHTS), 10, "the profile")
            bar = from_hue(bridge.light("3"))[0]
            assert bar.color_xy is not None, "the bar zone's colour reached the Hue light in xy"
            # Both lounge lights wanted the same: one group command for them, a light command for the bar.
            assert bridge.command_times("group"), "the lounge group was not used"
            sent = [e.payload for e in v.events("command_sent") if e.payload.get("bridge") == "main"]
            assert {p["device_id"] for p in sent if p.get("group") == "1"} >= {"lounge-hue-1", "lounge-hue-2"}
            assert all(d["online"] for d in devices_view(v.service.state) if d["id"] in HUE_LIGHTS)

    run(scenario)


def test_a_burst_of_checkins_never_exceeds_the_bridge_limits(
    mosquitto: MosquittoBroker, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """Twelve Hue lights and a burst of check-ins that hand the room back and forth between two communities: each light
    wants a new state several times a second, more than the bridge takes. Coalesced and paced; none refused."""
    lights = {f"{'bar' if n % 2 else 'lounge'}-hue-{n}": n for n in range(1, 13)}
    emulator = HueBridgeEmulator(
        lights={str(n): {"name": f"Hue {n}"} for n in lights.values()}, enforce_rate_limit=True
    ).start()
    config = hue_venue(mosquitto, tmp_path, emulator, lights)

    async def scenario() -> None:
        async with running_venue(config, **hue_options(emulator)) as v:
            await wait_until(lambda: settled(v, emulator, lights), 15, "the house profile")
            v.kiosk.checkin("s1", "spicy-tech-gossip")
            v.kiosk.checkin("s2", "spicy-tech-gossip")
            v.kiosk.checkin("b1", "book-club")
            await wait_until(lambda: leader(v) == "spicy-tech-gossip", 10)
            await wait_until(lambda: settled(v, emulator, lights), 15, "spicy-tech-gossip's room")
            emulator.reset_measurements()
            checkins = 3
            for i in range(1, 13):  # book-club takes the lead with two more, loses it when they leave: 12 flips
                for member in (f"x{i}", f"y{i}", f"z{i}", f"w{i}"):
                    v.kiosk.checkin(member, "book-club")
                    checkins += 1
                    await asyncio.sleep(0.01)
                for member in (f"x{i}", f"y{i}", f"z{i}", f"w{i}"):
                    v.kiosk.checkout(member)
                    await asyncio.sleep(0.01)
            await wait_until(lambda: len(v.events("checkin")) == checkins, 15, "every check-in recorded")
            await wait_until(lambda: settled(v, emulator, lights), 20, "the final state")
            light_peak, group_peak = emulator.peak_rate("light"), emulator.peak_rate("group")
            with capsys.disabled():
                print(
                    f"\nhue burst: {checkins - 3} check-ins, peak {light_peak} light commands/s and {group_peak} "
                    f"group commands/s at the bridge; {len(emulator.command_times('light'))} light commands in all"
                )
            assert light_peak <= 10
            assert group_peak <= 1
            assert emulator.rejected("light") == 0 and emulator.rejected("group") == 0
            assert light_peak >= 5, "the burst did not load the bridge: this test would not see a broken pacer"

    try:
        run(scenario)
    finally:
        emulator.stop()


def test_a_change_in_the_hue_app_is_an_override_and_is_respected(
    mosquitto: MosquittoBroker, tmp_path: Path, bridge: HueBridgeEmulator
) -> None:
    config = hue_venue(mosquitto, tmp_path, bridge)
    config = config.model_copy(update={"policy": config.policy.model_copy(update={"override_minutes": 0.05})})

    async def scenario() -> None:
        async with running_venue(config, **hue_options(bridge)) as v:
            await wait_until(lambda: settled(v, bridge), 10, "the house profile")
            bridge.set_from_app("3", on=False)
            overrides = await wait_until(lambda: v.events("manual_override"), 10, "the override")
            assert overrides[0].payload["device_id"] == "bar-hue"
            assert bridge.state("3")["on"] is False  # left alone while the override lasts (3 s)...
            await asyncio.sleep(1.0)
            assert bridge.state("3")["on"] is False
            await wait_until(lambda: bridge_matches(v, bridge, "bar-hue"), 10, "reasserted after the override")

    run(scenario)


def test_a_bridge_that_goes_away_takes_its_lights_offline_and_they_are_set_again_when_it_returns(
    mosquitto: MosquittoBroker, tmp_path: Path, bridge: HueBridgeEmulator
) -> None:
    config = hue_venue(mosquitto, tmp_path, bridge)

    async def scenario() -> None:
        async with running_venue(config, **hue_options(bridge)) as v:
            await wait_until(lambda: settled(v, bridge), 10, "the house profile")
            bridge.stop()
            errors = await wait_until(lambda: v.events("bridge_error"), 10, "a bridge_error event")
            assert errors[0].payload["bridge"] == "main"
            await wait_until(
                lambda: all(d["online"] is False for d in devices_view(v.service.state) if d["id"] in HUE_LIGHTS), 10
            )
            assert v.service.health()["hue"]["main"]["reachable"] is False
            # The room changes while the bridge is away; a light is also reset by a power cut meanwhile.
            v.kiosk.checkin("ana", "spicy-tech-gossip")
            v.kiosk.checkin("ben", "spicy-tech-gossip")
            await wait_until(lambda: leader(v) == "spicy-tech-gossip", 10)
            bridge.set_reachable("1", True, power_cycled=True)
            bridge.start()
            await wait_until(lambda: all(bridge_matches(v, bridge, d) for d in HUE_LIGHTS), 40, "the new profile")
            assert all(d["online"] for d in devices_view(v.service.state) if d["id"] in HUE_LIGHTS)

    run(scenario)


def test_an_error_object_from_the_bridge_is_recorded_with_its_message_and_retried(
    mosquitto: MosquittoBroker, tmp_path: Path, bridge: HueBridgeEmulator
) -> None:
    config = hue_venue(mosquitto, tmp_path, bridge)

    async def scenario() -> None:
        async with running_venue(config, **hue_options(bridge)) as v:
            await wait_until(lambda: settled(v, bridge), 10, "the house profile")
            bridge.fail_next(3, 901, "Internal error, 503")
            v.kiosk.checkin("ana", "spicy-tech-gossip")
            v.kiosk.checkin("ben", "spicy-tech-gossip")
            errors = await wait_until(lambda: v.events("bridge_error"), 10, "a bridge_error event")
            assert errors[0].payload["error_type"] == 901
            assert "Internal error" in errors[0].payload["description"]
            await wait_until(lambda: all(bridge_matches(v, bridge, d) for d in HUE_LIGHTS), 30, "retried")

    run(scenario)


def test_without_a_username_the_lights_are_offline_and_the_reason_is_recorded(
    mosquitto: MosquittoBroker, tmp_path: Path, bridge: HueBridgeEmulator
) -> None:
    config = hue_venue(mosquitto, tmp_path, bridge)

    async def scenario() -> None:
        async with running_venue(config, env={}) as v:
            errors = await wait_until(lambda: v.events("bridge_error"), 10, "a bridge_error event")
            assert ENV in errors[0].payload["error"] and "ambience hue pair" in errors[0].payload["error"]
            assert all(d["online"] is False for d in devices_view(v.service.state) if d["id"] in HUE_LIGHTS)
            v.kiosk.checkin("ana", "book-club")
            await wait_until(lambda: v.events("checkin"), 10)  # the MQTT side of the venue works on

    run(scenario)
