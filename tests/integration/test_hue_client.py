"""The Hue client and the `ambience hue` commands against the Hue bridge emulator on loopback (no mocks of ours).

The emulator is written from the v1 protocol, so a body our converters get wrong is refused or misapplied here.
"""

from __future__ import annotations

import io
import socket
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from controller.cli.hue_cli import lights, pair
from devices.compare import differences
from devices.hue import from_hue, light_mireds, to_hue
from devices.hue_client import (
    HueApiError,
    HueClient,
    HueLinkButtonNotPressed,
    HueUnauthorized,
    HueUnreachable,
    register,
)
from devices.states import LightState
from firmware_sim.hue_bridge import HueBridgeEmulator

pytestmark = pytest.mark.integration

LIGHTS: dict[str, dict[str, Any]] = {
    "1": {"name": "Lounge lamp"},
    "2": {"name": "Sofa strip", "type": "Color temperature light", "ct_min": 153, "ct_max": 454},
    "3": {"name": "Hall", "type": "Dimmable light", "state": {"on": False}},
}
GROUPS = {"1": {"name": "Lounge", "lights": ["1", "2"], "type": "Room"}, "2": {"name": "Empty", "lights": []}}


@pytest.fixture
def hue() -> Iterator[HueBridgeEmulator]:
    with HueBridgeEmulator(lights=LIGHTS, groups=GROUPS) as emulator:
        yield emulator


@pytest.fixture
def client(hue: HueBridgeEmulator) -> HueClient:
    return HueClient(hue.address, hue.username, timeout_s=2.0)


def closed_port() -> str:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return f"127.0.0.1:{sock.getsockname()[1]}"


# ---- reading ------------------------------------------------------------------------------------------------


def test_lights_are_raw_v1_objects_by_id(client: HueClient) -> None:
    found = client.lights()
    assert sorted(found) == ["1", "2", "3"]
    assert found["1"]["name"] == "Lounge lamp"
    assert found["3"]["type"] == "Dimmable light"
    assert from_hue(found["3"]) == (LightState(on=False, brightness=100.0), True)
    assert light_mireds(found["2"]) == (153, 454)


def test_groups_are_light_sets_by_id_without_group_zero(client: HueClient) -> None:
    assert client.groups() == {"1": frozenset({"1", "2"}), "2": frozenset()}


def test_unreachable_light_reads_as_unreachable(hue: HueBridgeEmulator, client: HueClient) -> None:
    hue.set_reachable(2, False)
    assert from_hue(client.lights()["2"])[1] is False


# ---- commands -----------------------------------------------------------------------------------------------


def test_a_desired_state_sent_and_read_back_compares_equal(hue: HueBridgeEmulator, client: HueClient) -> None:
    for light_id, desired in {
        "1": LightState(on=True, brightness=42, color_xy=(0.5, 0.4)),
        "2": LightState(on=True, brightness=0, color_temp_k=2000),  # 500 mired: clamped to the strip's 454
        "3": LightState(on=True, brightness=75),
    }.items():
        mireds = light_mireds(client.lights()[light_id])
        client.set_light(light_id, to_hue(desired, 0.4, mireds))
        reported, reachable = from_hue(client.lights()[light_id])
        assert reachable
        assert differences(desired, reported, mired_range=mireds) is None, (light_id, reported)
    assert hue.commands[-1].body == {"on": True, "bri": 190, "transitiontime": 4}


def test_a_group_command_reaches_every_member(hue: HueBridgeEmulator, client: HueClient) -> None:
    client.set_group("1", to_hue(LightState(on=True, brightness=10, color_temp_k=2700)))
    assert [(hue.state(i)["bri"], hue.state(i)["ct"]) for i in ("1", "2")] == [(25, 370), (25, 370)]
    assert [c.kind for c in hue.commands] == ["group"]


def test_an_error_object_in_a_200_answer_raises_with_the_bridges_facts(client: HueClient) -> None:
    with pytest.raises(HueApiError) as caught:
        client.set_light("3", {"bri": 100})  # light 3 is off: 201, parameter not modifiable
    assert caught.value.type == 201
    assert caught.value.address == "/lights/3/state/bri"
    assert "Device is set to off" in caught.value.description
    assert "Device is set to off" in str(caught.value)
    with pytest.raises(HueApiError) as missing:
        client.set_light("9", {"on": True})
    assert missing.value.type == 3


def test_one_error_among_successes_still_raises(hue: HueBridgeEmulator, client: HueClient) -> None:
    with pytest.raises(HueApiError) as caught:
        client.set_light("3", {"on": True, "ct": 300})  # a dimmable light has no ct: 6, but it does switch on
    assert caught.value.type == 6
    assert hue.state(3)["on"] is True


def test_a_failing_bridge_raises_its_error(hue: HueBridgeEmulator, client: HueClient) -> None:
    hue.fail_next(1)
    with pytest.raises(HueApiError) as caught:
        client.lights()
    assert (caught.value.type, caught.value.description) == (901, "Internal error, 503")
    assert sorted(client.lights()) == ["1", "2", "3"]  # and the next call is fine


def test_an_unknown_username_is_unauthorized(hue: HueBridgeEmulator) -> None:
    with pytest.raises(HueUnauthorized) as caught:
        HueClient(hue.address, "nobody").lights()
    assert caught.value.type == 1
    assert "nobody" not in str(caught.value)


def test_a_closed_port_is_unreachable_at_once(hue: HueBridgeEmulator, client: HueClient) -> None:
    hue.stop()
    started = time.monotonic()
    with pytest.raises(HueUnreachable, match="connection refused"):
        client.lights()
    assert time.monotonic() - started < 1.0
    hue.start()
    assert sorted(client.lights()) == ["1", "2", "3"]


def test_a_bridge_that_never_answers_times_out_quickly() -> None:
    with socket.socket() as silent:  # accepts connections (the kernel's backlog), never answers
        silent.bind(("127.0.0.1", 0))
        silent.listen(1)
        client = HueClient(f"127.0.0.1:{silent.getsockname()[1]}", "u", timeout_s=0.3)
        started = time.monotonic()
        with pytest.raises(HueUnreachable, match="timed out"):
            client.set_light("1", {"on": True})
        assert time.monotonic() - started < 2.0


# ---- registration -------------------------------------------------------------------------------------------


def test_register_needs_the_link_button(hue: HueBridgeEmulator) -> None:
    with pytest.raises(HueLinkButtonNotPressed, match="link button"):
        register(hue.address, "ambience#test")
    hue.press_link_button()
    username = register(hue.address, "ambience#test")
    assert username in hue.usernames
    assert sorted(HueClient(hue.address, username).lights()) == ["1", "2", "3"]


def test_register_at_a_closed_port_is_unreachable() -> None:
    with pytest.raises(HueUnreachable):
        register(closed_port())


# ---- ambience hue pair --------------------------------------------------------------------------------------


class FakeClock:
    """Time that passes only when the command sleeps, so waiting 30 s takes no time."""

    def __init__(self) -> None:
        self.now = 0.0

    def __call__(self) -> float:
        return self.now

    def sleep(self, seconds: float) -> None:
        self.now += seconds


def test_pair_prompts_waits_for_the_button_and_prints_the_export(hue: HueBridgeEmulator) -> None:
    clock, out, err = FakeClock(), io.StringIO(), io.StringIO()

    def sleep(seconds: float) -> None:
        clock.sleep(seconds)
        if clock.now >= 3:
            hue.press_link_button()

    assert pair(hue.address, out=out, err=err, sleep=sleep, clock=clock) == 0
    assert f"press the link button on the bridge at {hue.address}" in err.getvalue()
    username = next(name for name in hue.usernames if name != hue.username)
    assert out.getvalue() == f"# Hue bridge {hue.address}: username {username}\nexport HUE_USERNAME={username}\n"


def test_pair_with_the_button_already_pressed_needs_no_prompt_and_takes_the_env_name(hue: HueBridgeEmulator) -> None:
    hue.auto_link = True
    out, err = io.StringIO(), io.StringIO()
    assert pair(hue.address, env="HUE_MAIN", out=out, err=err) == 0
    assert err.getvalue() == ""
    assert out.getvalue().splitlines()[-1].startswith("export HUE_MAIN=")


def test_pair_gives_up_when_the_button_is_never_pressed(hue: HueBridgeEmulator) -> None:
    clock, out, err = FakeClock(), io.StringIO(), io.StringIO()
    assert pair(hue.address, out=out, err=err, sleep=clock.sleep, clock=clock) == 1
    assert out.getvalue() == ""
    assert err.getvalue().splitlines()[-1] == (
        f"error: the link button on the Hue bridge at {hue.address} was not pressed within 30 s"
    )
    assert 30 <= clock.now <= 32


def test_pair_with_an_unreachable_host_is_one_error_line() -> None:
    out, err = io.StringIO(), io.StringIO()
    host = closed_port()
    assert pair(host, out=out, err=err) == 1
    assert out.getvalue() == ""
    lines = err.getvalue().splitlines()
    assert len(lines) == 1
    assert lines[0].startswith(f"error: Hue bridge {host}:")


def test_pair_really_waits_in_time(hue: HueBridgeEmulator) -> None:
    """The default clock and sleep: the button pressed from another thread half a second in."""
    timer = threading.Timer(0.5, hue.press_link_button)
    timer.start()
    try:
        assert pair(hue.address, poll_s=0.1, wait_s=5, out=io.StringIO(), err=io.StringIO()) == 0
    finally:
        timer.cancel()


# ---- ambience hue lights ------------------------------------------------------------------------------------


def venue_file(tmp_path: Path, host: str) -> Path:
    path = tmp_path / "venue.yaml"
    path.write_text(
        f"""
venue: {{id: hue-test, name: Hue test}}
zones: [lounge]
store: {{path: ./ambience.db}}
hue_bridges:
  main: {{host: "{host}", username_env: HUE_TEST_USERNAME}}
devices:
  - {{id: lounge-lamp, kind: light, zone: lounge, driver: hue, bridge: main, light: 1}}
  - {{id: hall, kind: light, zone: lounge, driver: hue, bridge: main, light: 3}}
  - {{id: ghost, kind: light, zone: lounge, driver: hue, bridge: main, light: 7}}
"""
    )
    return path


def test_lights_prints_a_table_with_the_devices_that_use_each_light(
    hue: HueBridgeEmulator, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("HUE_TEST_USERNAME", hue.username)
    hue.set_reachable(2, False)
    out, err = io.StringIO(), io.StringIO()
    assert lights(venue_file(tmp_path, hue.address), out=out, err=err) == 0
    rows = [line.split() for line in out.getvalue().splitlines()]
    assert rows == [
        ["BRIDGE", "LIGHT", "NAME", "TYPE", "REACHABLE", "DEVICE"],
        ["main", "1", "Lounge", "lamp", "Extended", "color", "light", "yes", "lounge-lamp"],
        ["main", "2", "Sofa", "strip", "Color", "temperature", "light", "no", "-"],
        ["main", "3", "Hall", "Dimmable", "light", "yes", "hall"],
    ]
    assert err.getvalue() == "warning: device ghost uses light 7 of bridge main, which it does not have\n"


def test_lights_without_the_username_variable_names_it(
    hue: HueBridgeEmulator, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv("HUE_TEST_USERNAME", raising=False)
    out, err = io.StringIO(), io.StringIO()
    assert lights(venue_file(tmp_path, hue.address), out=out, err=err) == 1
    assert out.getvalue() == ""
    assert err.getvalue() == (
        "error: hue_bridges.main: environment variable HUE_TEST_USERNAME is not set "
        f"(run `ambience hue pair --host {hue.address}`)\n"
    )


def test_lights_with_an_unreachable_bridge_or_a_bad_config_exits_1(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("HUE_TEST_USERNAME", "u")
    err = io.StringIO()
    assert lights(venue_file(tmp_path, closed_port()), out=io.StringIO(), err=err, timeout_s=0.5) == 1
    assert err.getvalue().startswith("error: hue_bridges.main: Hue bridge 127.0.0.1:")
    bad = tmp_path / "bad.yaml"
    bad.write_text("venue: {id: x, name: x}\nzones: []\ndevices: []\n")
    err = io.StringIO()
    assert lights(bad, out=io.StringIO(), err=err) == 1
    assert err.getvalue().startswith(f"error: {bad}: zones")
