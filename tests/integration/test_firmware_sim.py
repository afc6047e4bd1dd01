"""The simulated firmware against the real Mosquitto: topics, retained availability, last will, commands, CLI.

Every test uses its own base topic, so tests share the session's broker without seeing each other. Waits are
bounded polls on what a plain MQTT client observes, never fixed sleeps.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
import uuid
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

from controller.cli.broker import MosquittoBroker
from firmware_sim import SimLight, SimulatedVenue, ThermalParams
from testkit.mqtt_clients import Observer

pytestmark = pytest.mark.integration

ROOT = Path(__file__).resolve().parents[2]
WAIT_S = 5.0


@pytest.fixture
def base() -> str:
    return f"sim-{uuid.uuid4().hex[:10]}"


@pytest.fixture
def observe(mosquitto: MosquittoBroker, base: str) -> Iterator[Callable[[], Observer]]:
    """Observers of this test's base topic, closed at the end."""
    made: list[Observer] = []

    def make() -> Observer:
        made.append(Observer(mosquitto.url, [f"{base}/#"]))
        return made[-1]

    yield make
    for observer in made:
        observer.close()


def online(payload: Any) -> bool:
    return bool(payload == {"state": "online"})


def offline(payload: Any) -> bool:
    return bool(payload == {"state": "offline"})


DEVICES: list[dict[str, Any]] = [
    {"id": "bar-pendant", "kind": "light", "zone": "bar", "driver": "mqtt", "topic": "bar_pendant"},
    {"id": "lamp", "kind": "light", "zone": "bar", "driver": "mqtt", "topic": "lamp", "color_temp_range": [250, 454]},
    {"id": "lounge-hue-1", "kind": "light", "zone": "lounge", "driver": "hue", "bridge": "main", "light": 1},
    {"id": "hvac", "kind": "thermostat", "zone": "*", "driver": "mqtt", "topic": "hvac"},
    {"id": "lounge-speaker", "kind": "speaker", "zone": "lounge", "driver": "mqtt", "topic": "lounge_speaker"},
    {"id": "diffuser", "kind": "scent", "zone": "lounge", "driver": "mqtt", "topic": "diffuser"},
]


@pytest.fixture
def venue(mosquitto: MosquittoBroker, base: str) -> Iterator[SimulatedVenue]:
    sim = SimulatedVenue(
        DEVICES,
        mosquitto.url,
        base,
        thermal=ThermalParams(ambient_c=18.0, tau_s=2.0, report_interval_s=0.2),
        tick_s=0.1,
        reconnect_delay_s=(1, 1),
    )
    sim.start()
    assert sim.wait_connected(WAIT_S), "simulated devices did not connect"
    yield sim
    sim.stop()


def test_availability_and_state_are_retained_then_offline_after_stop(
    mosquitto: MosquittoBroker, base: str, observe: Callable[[], Observer]
) -> None:
    sim = SimulatedVenue(DEVICES, mosquitto.url, base)
    assert set(sim.devices) == {"bar-pendant", "lamp", "hvac", "lounge-speaker", "diffuser"}
    with sim:
        assert sim.wait_connected(WAIT_S)
        late = observe()  # subscribes after the devices announced themselves: sees only retained messages
        late.wait_for(f"{base}/bar_pendant/availability", online)
        state = late.wait_for(f"{base}/bar_pendant", lambda p: "state" in p)
        assert state == sim.devices["bar-pendant"].state
        assert state["state"] == "OFF" and state["brightness"] == 254 and state["color_mode"] == "color_temp"
        late.wait_for(f"{base}/diffuser/availability", online)
        assert late.retained(f"{base}/bar_pendant/availability")
        assert late.retained(f"{base}/bar_pendant")
    after = observe()
    for topic in ("bar_pendant", "lamp", "hvac", "lounge_speaker", "diffuser"):
        after.wait_for(f"{base}/{topic}/availability", offline)
        assert after.retained(f"{base}/{topic}/availability")


def test_last_will_says_offline_when_the_connection_drops(
    venue: SimulatedVenue, base: str, observe: Callable[[], Observer]
) -> None:
    watcher = observe()
    topic = f"{base}/lounge_speaker/availability"
    watcher.wait_for(topic, online)
    seen = len(watcher.on(topic))
    venue.devices["lounge-speaker"].drop_connection()
    watcher.wait_for(topic, offline, after=seen)
    watcher.wait_for(topic, online, after=seen + 1)  # paho reconnects after its back-off
    assert venue.devices["lounge-speaker"].wait_connected(WAIT_S)


def test_light_brightness_and_hex_colour_report_xy(
    venue: SimulatedVenue, base: str, observe: Callable[[], Observer]
) -> None:
    watcher = observe()
    watcher.publish(f"{base}/bar_pendant/set", {"state": "ON", "brightness": 120, "color": {"hex": "#ff0000"}})
    state = watcher.wait_for(f"{base}/bar_pendant", lambda p: p["color_mode"] == "xy")
    assert state["state"] == "ON"
    assert state["brightness"] == 120
    assert state["color"]["x"] == pytest.approx(0.7006, abs=1e-3)
    assert state["color"]["y"] == pytest.approx(0.2993, abs=1e-3)
    assert venue.devices["bar-pendant"].state == state


def test_color_temp_is_clamped_to_the_configured_range(
    venue: SimulatedVenue, base: str, observe: Callable[[], Observer]
) -> None:
    watcher = observe()
    watcher.publish(f"{base}/lamp/set", {"color_temp": 153})
    low = watcher.wait_for(f"{base}/lamp", lambda p: p["color_temp"] != 370)
    assert low["color_temp"] == 250
    watcher.publish(f"{base}/lamp/set", {"color_temp": 500})
    assert watcher.wait_for(f"{base}/lamp", lambda p: p["color_temp"] not in (370, 250))["color_temp"] == 454


def test_transition_reports_the_target_once_and_fades_in_process(
    venue: SimulatedVenue, base: str, observe: Callable[[], Observer]
) -> None:
    watcher = observe()
    topic = f"{base}/bar_pendant"
    watcher.wait_for(topic, lambda p: "state" in p)
    seen = len(watcher.on(topic))
    watcher.publish(f"{topic}/set", {"state": "ON", "brightness": 200, "transition": 30})
    state = watcher.wait_for(topic, lambda p: p["state"] == "ON", after=seen)
    assert state["brightness"] == 200
    assert state["fade"]["from_brightness"] == 0 and state["fade"]["duration_s"] == 30
    light = venue.devices["bar-pendant"]
    assert isinstance(light, SimLight)
    assert 0 <= light.output().level < 200
    assert len(watcher.on(topic)) == seen + 1  # one state message, no stream of intermediate ones


def test_thermostat_obeys_the_setpoint_and_the_room_warms(
    venue: SimulatedVenue, base: str, observe: Callable[[], Observer]
) -> None:
    watcher = observe()
    topic = f"{base}/hvac"
    watcher.publish(f"{topic}/set", {"occupied_heating_setpoint": 23.3, "system_mode": "heat"})
    state = watcher.wait_for(topic, lambda p: p["occupied_heating_setpoint"] == 23.5)
    assert state["system_mode"] == "heat"
    assert state["running_state"] == "heat"
    warmer = watcher.wait_for(topic, lambda p: p["local_temperature"] >= 20.0)  # tau is 2 s in this venue
    assert warmer["occupied_heating_setpoint"] == 23.5
    watcher.publish(f"{topic}/set", {"system_mode": "off"})
    assert watcher.wait_for(topic, lambda p: p["system_mode"] == "off")["running_state"] == "idle"


def test_speaker_and_scent(venue: SimulatedVenue, base: str, observe: Callable[[], Observer]) -> None:
    watcher = observe()
    watcher.publish(f"{base}/lounge_speaker/set", {"state": "PLAY", "volume": 35, "playlist": "lofi-gossip"})
    watcher.publish(f"{base}/diffuser/set", {"state": "ON", "intensity": 30, "scent": "cedar"})
    speaker = watcher.wait_for(f"{base}/lounge_speaker", lambda p: p["state"] == "PLAY")
    assert speaker == {"state": "PLAY", "volume": 35, "playlist": "lofi-gossip"}
    scent = watcher.wait_for(f"{base}/diffuser", lambda p: p["state"] == "ON")
    assert scent == {"state": "ON", "intensity": 30, "scent": "cedar"}
    watcher.publish(f"{base}/lounge_speaker/set", {"volume": 10})
    assert watcher.wait_for(f"{base}/lounge_speaker", lambda p: p["volume"] == 10)["playlist"] == "lofi-gossip"


def test_malformed_commands_are_ignored_and_the_next_good_one_works(
    venue: SimulatedVenue, base: str, observe: Callable[[], Observer], caplog: pytest.LogCaptureFixture
) -> None:
    watcher = observe()
    topic = f"{base}/bar_pendant"
    watcher.wait_for(topic, lambda p: "state" in p)
    seen = len(watcher.on(topic))
    for bad in (b"{not json", b"[1, 2]", b"\xff\xfe", b'{"brightness": "lots"}', b'{"brightness": 999}', b"{}"):
        watcher.publish(f"{topic}/set", bad)
    watcher.publish(f"{topic}/set", {"brightness": 42})
    state = watcher.wait_for(topic, lambda p: True, after=seen)
    assert state["brightness"] == 42  # the first state message after the bad ones is the good one's
    assert venue.devices["bar-pendant"].connected
    assert "not JSON" in caplog.text and "brightness" in caplog.text


def test_manual_change_is_published_like_a_person_did_it(
    venue: SimulatedVenue, base: str, observe: Callable[[], Observer]
) -> None:
    watcher = observe()
    venue.devices["diffuser"].manual_change({"state": "ON", "intensity": 80})
    assert watcher.wait_for(f"{base}/diffuser", lambda p: p["state"] == "ON")["intensity"] == 80


def test_two_hundred_devices_start_together(
    mosquitto: MosquittoBroker, base: str, observe: Callable[[], Observer]
) -> None:
    kinds = ("light", "thermostat", "speaker", "scent")
    devices = [{"id": f"d{i}", "kind": kinds[i % 4], "driver": "mqtt", "topic": f"d{i}"} for i in range(200)]
    watcher = observe()
    started = time.monotonic()
    with SimulatedVenue(devices, mosquitto.url, base) as sim:
        assert sim.wait_connected(15), "200 devices did not connect"
        elapsed = time.monotonic() - started
        watcher.wait_for(f"{base}/d199/availability", online)
    watcher.wait_for(f"{base}/d0/availability", offline)
    watcher.wait_for(f"{base}/d199/availability", offline)
    assert elapsed < 10, f"200 devices took {elapsed:.1f}s to connect"


# -- the command line --------------------------------------------------------------------------------------


def write_venue(tmp_path: Path, broker: MosquittoBroker, base: str) -> Path:
    lines = [
        "venue: {id: sim-test, name: Sim test}",
        f'mqtt: {{url: "{broker.url}", base_topic: {base}}}',
        "zones: [bar]",
        "devices:",
        "  - {id: bar-pendant, kind: light, zone: bar, driver: mqtt, topic: bar_pendant}",
        "  - {id: hue-1, kind: light, zone: bar, driver: hue, bridge: main, light: 1}",
        "  - {id: hvac, kind: thermostat, zone: '*', driver: mqtt, topic: hvac}",
    ]
    path = tmp_path / "venue.yaml"
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    return path


def run_cli(*args: str) -> subprocess.Popen[str]:
    return subprocess.Popen(
        [sys.executable, "-m", "firmware_sim", *args],
        cwd=ROOT,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        env={**os.environ, "PYTHONUNBUFFERED": "1"},
    )


def test_cli_runs_a_venue_and_stops_cleanly_on_sigterm(
    tmp_path: Path, mosquitto: MosquittoBroker, base: str, observe: Callable[[], Observer]
) -> None:
    watcher = observe()
    proc = run_cli("--config", str(write_venue(tmp_path, mosquitto, base)), "--log-level", "warning")
    try:
        assert proc.stdout is not None
        line = proc.stdout.readline()
        assert "2 devices" in line and mosquitto.url in line
        watcher.wait_for(f"{base}/bar_pendant/availability", online)
        watcher.wait_for(f"{base}/hvac/availability", online)
        proc.send_signal(signal.SIGTERM)
        assert proc.wait(10) == 0
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
    watcher.wait_for(f"{base}/bar_pendant/availability", offline)
    watcher.wait_for(f"{base}/hvac/availability", offline)
    assert proc.stderr is not None and "Traceback" not in proc.stderr.read()


def test_cli_killed_hard_leaves_offline_through_the_last_will(
    tmp_path: Path, mosquitto: MosquittoBroker, base: str, observe: Callable[[], Observer]
) -> None:
    watcher = observe()
    proc = run_cli("--config", str(write_venue(tmp_path, mosquitto, base)), "--log-level", "error")
    try:
        # Both connected (and so both wills registered with the broker) before the hard kill.
        watcher.wait_for(f"{base}/bar_pendant/availability", online)
        watcher.wait_for(f"{base}/hvac/availability", online)
        proc.kill()
        proc.wait(WAIT_S)
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
    watcher.wait_for(f"{base}/bar_pendant/availability", offline)
    watcher.wait_for(f"{base}/hvac/availability", offline)


@pytest.mark.parametrize("content", [None, "devices: [\n", "devices:\n  - {id: x, kind: fan, topic: x}\n"])
def test_cli_rejects_a_bad_config_with_one_line(tmp_path: Path, content: str | None) -> None:
    path = tmp_path / "venue.yaml"
    if content is not None:
        path.write_text(content, encoding="utf-8")
    proc = run_cli("--config", str(path))
    _, err = proc.communicate(timeout=20)
    assert proc.returncode == 1
    assert len(err.strip().splitlines()) == 1 and err.startswith("error:")
    assert "Traceback" not in err


def test_devices_reconnect_after_a_broker_restart_and_republish(private_mosquitto: MosquittoBroker, base: str) -> None:
    with SimulatedVenue(DEVICES, private_mosquitto.url, base, reconnect_delay_s=(1, 1)) as sim:
        assert sim.wait_connected(WAIT_S)
        speaker = sim.devices["lounge-speaker"]
        private_mosquitto.stop()
        deadline = time.monotonic() + WAIT_S
        while speaker.connected and time.monotonic() < deadline:
            time.sleep(0.05)
        assert not speaker.connected
        speaker.manual_change({"volume": 55})  # while the broker is away: published on reconnect
        private_mosquitto.start()
        assert sim.wait_connected(10), "devices did not come back after the broker restarted"
        watcher = Observer(private_mosquitto.url, [f"{base}/#"])
        try:
            watcher.wait_for(f"{base}/lounge_speaker/availability", online)
            assert watcher.wait_for(f"{base}/lounge_speaker", lambda p: p["volume"] == 55)["state"] == "STOP"
        finally:
            watcher.close()
