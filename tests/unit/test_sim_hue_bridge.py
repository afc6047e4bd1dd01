"""The Hue bridge emulator, driven by the real phue library over HTTP on loopback.

phue is blocking; here that is fine (each request is a fresh loopback connection, ~1 ms). Its config file goes to
tmp_path, never to ~. Time-dependent behaviour (link button window, rate limit) runs on an injected clock.
"""

from __future__ import annotations

import http.client
import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import phue
import pytest

from firmware_sim.hue_bridge import Command, HueBridgeEmulator, peak_count

# phue 1.1 logs with the deprecated Logger.warn
pytestmark = pytest.mark.filterwarnings("ignore:The 'warn' method is deprecated:DeprecationWarning")

LIGHTS = {"1": {"name": "Lounge lamp"}, "2": {"name": "Bar lamp"}, "3": {"name": "Porch", "state": {"on": False}}}
GROUPS = {"1": {"name": "lounge", "lights": ["1", "2"], "type": "Room"}}


class FakeClock:
    """Monotonic seconds that move only when the test says so."""

    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


@pytest.fixture
def hue() -> Iterator[HueBridgeEmulator]:
    with HueBridgeEmulator(LIGHTS, GROUPS) as emulator:
        yield emulator


@pytest.fixture
def bridge(hue: HueBridgeEmulator, tmp_path: Path) -> phue.Bridge:
    return phue.Bridge(hue.address, username=hue.username, config_file_path=str(tmp_path / "phue.json"))


def raw(hue: HueBridgeEmulator, method: str, path: str, body: bytes | None = None) -> tuple[int, Any]:
    """A request phue cannot make (invalid JSON): plain http.client, like phue, no Content-Type."""
    conn = http.client.HTTPConnection(hue.address, timeout=5)
    try:
        conn.request(method, path, body)
        response = conn.getresponse()
        return response.status, json.loads(response.read())
    finally:
        conn.close()


# -- registration ---------------------------------------------------------------------------------------------------


def test_registration_without_the_link_button_raises_phue_registration_error(tmp_path: Path) -> None:
    with HueBridgeEmulator(1) as hue:
        with pytest.raises(phue.PhueRegistrationException) as caught:
            phue.Bridge(hue.address, config_file_path=str(tmp_path / "phue.json"))
        assert caught.value.id == 101
        assert raw(hue, "POST", "/api", b'{"devicetype": "x"}') == (
            200,
            [{"error": {"type": 101, "address": "", "description": "link button not pressed"}}],
        )
        assert not (tmp_path / "phue.json").exists()


def test_registration_after_the_link_button_writes_phue_config(tmp_path: Path) -> None:
    with HueBridgeEmulator(2) as hue:
        hue.press_link_button()
        config = tmp_path / "phue.json"
        bridge = phue.Bridge(hue.address, config_file_path=str(config))
        assert bridge.username in hue.usernames and bridge.username != hue.username
        assert json.loads(config.read_text()) == {hue.address: {"username": bridge.username}}
        assert sorted(bridge.get_light_objects("id")) == [1, 2]
        whitelist = bridge.get_api()["config"]["whitelist"]
        assert whitelist[bridge.username]["name"] == "python_hue"


def test_link_button_window_is_30_seconds_and_auto_link_needs_none(tmp_path: Path) -> None:
    clock = FakeClock()
    with HueBridgeEmulator(1, clock=clock) as hue:
        hue.press_link_button()
        clock.now += 30.5
        with pytest.raises(phue.PhueRegistrationException):
            phue.Bridge(hue.address, config_file_path=str(tmp_path / "a.json"))
    with HueBridgeEmulator(1, auto_link=True) as hue:
        status, answer = raw(hue, "POST", "/api/", b'{"devicetype": "ambience#pi", "generateclientkey": true}')
        assert status == 200 and set(answer[0]["success"]) == {"username", "clientkey"}
        assert raw(hue, "POST", "/api", b"{}")[1][0]["error"]["type"] == 5


def test_unknown_username_is_unauthorized_but_public_config_is_open(hue: HueBridgeEmulator, tmp_path: Path) -> None:
    stranger = phue.Bridge(hue.address, username="nobody", config_file_path=str(tmp_path / "phue.json"))
    assert stranger.get_api() == [{"error": {"type": 1, "address": "/", "description": "unauthorized user"}}]
    assert stranger.request("GET", "/api/nobody/lights/")[0]["error"]["address"] == "/lights"
    assert stranger.request("GET", "/api/nobody/config")["modelid"] == "BSB002"
    assert "whitelist" not in stranger.request("GET", "/api/config")


# -- reading --------------------------------------------------------------------------------------------------------


def test_light_objects_and_full_state(bridge: phue.Bridge, hue: HueBridgeEmulator) -> None:
    lights = bridge.get_light_objects("name")
    assert sorted(lights) == ["Bar lamp", "Lounge lamp", "Porch"]
    assert lights["Porch"].on is False and lights["Lounge lamp"].on is True
    api = bridge.get_api()
    assert set(api) >= {"lights", "groups", "config", "scenes", "sensors", "schedules"}
    lamp = api["lights"]["1"]
    assert lamp["type"] == "Extended color light" and {"modelid", "uniqueid", "swversion"} <= set(lamp)
    assert set(lamp["state"]) >= {"on", "bri", "ct", "xy", "colormode", "reachable", "alert", "effect"}
    assert api["groups"] == {"1": hue.group(1)}  # group 0 answers by id but is not listed
    assert bridge.request("GET", f"/api/{hue.username}/lights") == bridge.request("GET", f"/api/{hue.username}/lights/")
    assert bridge.get_group(0, "lights") == ["1", "2", "3"]


# -- commanding lights ----------------------------------------------------------------------------------------------


def test_set_light_answers_one_success_per_parameter_and_changes_state(
    bridge: phue.Bridge, hue: HueBridgeEmulator
) -> None:
    answer = bridge.set_light(1, {"bri": 200, "ct": 250}, transitiontime=5)
    assert answer == [
        [
            {"success": {"/lights/1/state/bri": 200}},
            {"success": {"/lights/1/state/ct": 250}},
            {"success": {"/lights/1/state/transitiontime": 5}},
        ]
    ]
    state = hue.state(1)
    assert (state["bri"], state["ct"], state["colormode"]) == (200, 250, "ct")
    assert hue.commands[-1] == Command(
        hue.command_times("light")[-1], "light", "1", {"bri": 200, "ct": 250, "transitiontime": 5}, "answered"
    )
    bridge.set_light(1, "xy", [0.4, 0.35])
    assert hue.state(1)["xy"] == [0.4, 0.35] and hue.state(1)["colormode"] == "xy"
    light = bridge[1]
    assert (light.brightness, light.xy, light.colormode) == (200, [0.4, 0.35], "xy")


def test_ct_is_clamped_to_the_light_range(bridge: phue.Bridge, hue: HueBridgeEmulator) -> None:
    assert bridge.set_light(2, "ct", 600) == [[{"success": {"/lights/2/state/ct": 500}}]]
    assert bridge.set_light(2, "ct", 100)[0][0]["success"]["/lights/2/state/ct"] == 153
    assert hue.state(2)["ct"] == 153


def test_an_off_light_refuses_bri_unless_the_same_put_switches_it_on(
    bridge: phue.Bridge, hue: HueBridgeEmulator
) -> None:
    refused = bridge.set_light(3, "bri", 100)
    assert refused == [
        [
            {
                "error": {
                    "type": 201,
                    "address": "/lights/3/state/bri",
                    "description": "parameter, bri, is not modifiable. Device is set to off.",
                }
            }
        ]
    ]
    assert hue.state(3)["bri"] == 254 and hue.state(3)["on"] is False
    assert bridge.set_light(3, {"on": True, "bri": 100}) == [
        [{"success": {"/lights/3/state/on": True}}, {"success": {"/lights/3/state/bri": 100}}]
    ]
    assert hue.state(3)["on"] is True and hue.state(3)["bri"] == 100


def test_invalid_values_unknown_parameters_and_unknown_lights(bridge: phue.Bridge, hue: HueBridgeEmulator) -> None:
    answer = bridge.set_light(1, {"on": True, "bri": 255, "colour": 3})[0]
    assert answer[0] == {"success": {"/lights/1/state/on": True}}
    assert answer[1]["error"] == {
        "type": 7,
        "address": "/lights/1/state/bri",
        "description": "invalid value, 255 , for parameter, bri",
    }
    assert answer[2]["error"]["type"] == 6
    assert bridge.set_light(1, "bri", 0)[0][0]["error"]["type"] == 7
    assert bridge.set_light(9, "on", True) == [
        [
            {
                "error": {
                    "type": 3,
                    "address": "/lights/9/state",
                    "description": "resource, /lights/9/state, not available",
                }
            }
        ]
    ]
    assert bridge.request("GET", f"/api/{hue.username}/lights/9") == [
        {"error": {"type": 3, "address": "/lights/9", "description": "resource, /lights/9, not available"}}
    ]


def test_invalid_json_is_error_2(hue: HueBridgeEmulator) -> None:
    status, answer = raw(hue, "PUT", f"/api/{hue.username}/lights/1/state", b"{bri: 3")
    assert status == 200 and answer[0]["error"]["type"] == 2
    assert answer[0]["error"]["description"] == "body contains invalid JSON"


def test_an_unreachable_light_answers_success_and_nothing_happens(bridge: phue.Bridge, hue: HueBridgeEmulator) -> None:
    hue.set_reachable(1, False)
    assert bridge.set_light(1, "bri", 10) == [[{"success": {"/lights/1/state/bri": 10}}]]
    assert hue.state(1)["bri"] == 254
    assert bridge[1].reachable is False
    hue.set_reachable(1, True)
    assert bridge[1].reachable is True


def test_a_light_can_be_renamed(bridge: phue.Bridge, hue: HueBridgeEmulator) -> None:
    assert bridge.set_light(2, "name", "Counter") == [[{"success": {"/lights/2/name": "Counter"}}]]
    assert hue.light(2)["name"] == "Counter"


def test_light_types_limit_parameters() -> None:
    with HueBridgeEmulator({"1": {"type": "Dimmable light"}}) as hue:
        status, answer = raw(hue, "PUT", f"/api/{hue.username}/lights/1/state", b'{"bri": 9, "ct": 300}')
        assert status == 200
        assert answer[0] == {"success": {"/lights/1/state/bri": 9}}
        assert answer[1]["error"]["type"] == 6
        assert "ct" not in hue.state(1) and "xy" not in hue.state(1)


# -- groups ---------------------------------------------------------------------------------------------------------


def test_group_action_applies_to_its_lights_only(bridge: phue.Bridge, hue: HueBridgeEmulator) -> None:
    answer = bridge.set_group(1, {"bri": 50, "ct": 400})
    assert answer == [[{"success": {"/groups/1/action/bri": 50}}, {"success": {"/groups/1/action/ct": 400}}]]
    assert [hue.state(i)["bri"] for i in (1, 2, 3)] == [50, 50, 254]
    assert bridge.get_group(1, "bri") == 50 and bridge.get_group("lounge", "name") == "lounge"
    assert hue.group(1)["class"] == "Living room"


def test_group_0_is_every_light_and_off_members_ignore_bri(bridge: phue.Bridge, hue: HueBridgeEmulator) -> None:
    assert bridge.set_group(0, "bri", 80) == [[{"success": {"/groups/0/action/bri": 80}}]]
    assert [hue.state(i)["bri"] for i in (1, 2, 3)] == [80, 80, 254]  # 3 is off: success, unchanged
    bridge.set_group(0, {"on": True, "bri": 20})
    assert all(hue.state(i)["on"] and hue.state(i)["bri"] == 20 for i in (1, 2, 3))
    assert hue.group(0)["state"] == {"all_on": True, "any_on": True}
    assert bridge.set_group(7, "on", True)[0][0]["error"]["type"] == 3


# -- measurement and the rate limit ---------------------------------------------------------------------------------


def test_peak_count_is_a_half_open_sliding_window() -> None:
    assert peak_count([], 1.0) == 0
    assert peak_count([0.1 * i for i in range(11)], 1.0) == 10  # 0.0 and 1.0 are not in one window
    assert peak_count([5.0, 0.0, 0.5, 0.99, 3.0], 1.0) == 3


def test_peak_rate_counts_commands_per_kind(tmp_path: Path) -> None:
    clock = FakeClock()
    with HueBridgeEmulator(2, {"1": {"lights": ["1", "2"]}}, clock=clock) as hue:
        bridge = phue.Bridge(hue.address, username=hue.username, config_file_path=str(tmp_path / "p.json"))
        for _ in range(4):
            bridge.set_light([1, 2], "bri", 100)  # two PUTs each
            clock.now += 0.3
        bridge.set_group(1, "on", True)
        bridge.get_api()  # reads are not commands
        assert hue.command_times("light") == pytest.approx(
            [1000.0, 1000.0, 1000.3, 1000.3, 1000.6, 1000.6, 1000.9, 1000.9]
        )
        assert hue.peak_rate("light") == 8 and hue.peak_rate("light", window_s=0.5) == 4
        assert hue.peak_rate("group") == 1 and hue.rejected("light") == 0


def test_rate_limit_refuses_the_11th_light_command_in_a_second(tmp_path: Path) -> None:
    clock = FakeClock()
    with HueBridgeEmulator(1, {"1": {"lights": ["1"]}}, enforce_rate_limit=True, clock=clock) as hue:
        bridge = phue.Bridge(hue.address, username=hue.username, config_file_path=str(tmp_path / "p.json"))
        answers = []
        for bri in range(1, 12):
            answers.append(bridge.set_light(1, "bri", bri)[0][0])
            clock.now += 0.09
        assert all("success" in a for a in answers[:10])
        assert answers[10] == {
            "error": {"type": 901, "address": "/lights/1/state", "description": "Internal error, 503"}
        }
        assert hue.state(1)["bri"] == 10 and hue.rejected("light") == 1
        assert hue.commands[-1].outcome == "rate_limited" and hue.peak_rate("light") == 11
        clock.now += 0.2  # the first command has left the window
        assert "success" in bridge.set_light(1, "bri", 42)[0][0]
        assert "success" in bridge.set_group(1, "bri", 60)[0][0]
        assert "error" in bridge.set_group(1, "bri", 70)[0][0]  # a second group command within 1 s
        assert hue.state(1)["bri"] == 60 and hue.rejected("group") == 1


def test_rate_limit_status_can_be_429(tmp_path: Path) -> None:
    with HueBridgeEmulator(1, enforce_rate_limit=True, light_limit=1, rate_limit_status=429) as hue:
        path = f"/api/{hue.username}/lights/1/state"
        assert raw(hue, "PUT", path, b'{"on": true}')[0] == 200
        status, answer = raw(hue, "PUT", path, b'{"on": true}')
        assert status == 429 and answer[0]["error"]["type"] == 901


# -- test hooks -----------------------------------------------------------------------------------------------------


def test_set_from_app_is_visible_through_phue_and_is_not_a_command(bridge: phue.Bridge, hue: HueBridgeEmulator) -> None:
    hue.set_from_app(3, bri=42)  # a person may change an off light's brightness in the app
    hue.set_from_app("1", ct=300, bri=120)
    assert bridge.get_light(3, "bri") == 42 and bridge.get_light(3, "on") is False
    assert (bridge[1].colortemp, bridge[1].brightness, bridge[1].colormode) == (300, 120, "ct")
    assert hue.command_times("light") == []
    with pytest.raises(ValueError, match="bri"):
        hue.set_from_app(1, bri=999)
    with pytest.raises(KeyError):
        hue.set_from_app(9, on=True)


def test_power_cycled_light_returns_in_its_power_on_state(hue: HueBridgeEmulator) -> None:
    hue.set_from_app(1, bri=5, xy=[0.2, 0.2])
    hue.set_reachable(1, False)
    hue.set_reachable(1, True, power_cycled=True)
    state = hue.state(1)
    assert (state["on"], state["bri"], state["ct"], state["colormode"], state["reachable"]) == (
        True,
        254,
        366,
        "ct",
        True,
    )


def test_stop_refuses_connections_and_start_serves_the_same_port(bridge: phue.Bridge, hue: HueBridgeEmulator) -> None:
    port = hue.port
    keep_alive = http.client.HTTPConnection(hue.address, timeout=5)
    keep_alive.request("GET", f"/api/{hue.username}/lights")
    keep_alive.getresponse().read()
    hue.stop()
    assert not hue.running
    with pytest.raises(ConnectionRefusedError):
        bridge.get_api()
    with pytest.raises((OSError, http.client.HTTPException)):  # an open keep-alive connection is closed too
        keep_alive.request("GET", f"/api/{hue.username}/lights")
        keep_alive.getresponse().read()
    keep_alive.close()
    hue.start()
    assert hue.port == port and bridge.get_light(1, "name") == "Lounge lamp"


def test_fail_next_answers_error_objects_then_recovers(bridge: phue.Bridge, hue: HueBridgeEmulator) -> None:
    hue.fail_next(2, 901, "Internal error, 404")
    first = bridge.set_light(1, "bri", 11)
    assert first == [[{"error": {"type": 901, "address": "/lights/1/state", "description": "Internal error, 404"}}]]
    assert bridge.get_api() == [{"error": {"type": 901, "address": "/", "description": "Internal error, 404"}}]
    assert bridge.set_light(1, "bri", 12) == [[{"success": {"/lights/1/state/bri": 12}}]]
    assert hue.state(1)["bri"] == 12
    assert [c.outcome for c in hue.commands] == ["failed", "answered"]


def test_construction_rejects_mistakes() -> None:
    with pytest.raises(ValueError, match="unknown key"):
        HueBridgeEmulator({"1": {"nmae": "x"}})
    with pytest.raises(ValueError, match="no such light"):
        HueBridgeEmulator(1, {"1": {"lights": ["2"]}})
    with pytest.raises(ValueError, match="decimal"):
        HueBridgeEmulator({"lamp": {}})
    with pytest.raises(ValueError, match="bri"):
        HueBridgeEmulator({"1": {"state": {"bri": 0}}})
    with pytest.raises(RuntimeError):
        _ = HueBridgeEmulator(1).port
