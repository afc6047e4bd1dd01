"""Fault injection against the real Mosquitto: lost commands, late reports, power cuts, people at the switch.

What each test checks is what a plain MQTT client sees (a separate paho subscriber), never the simulator's own
view alone. Every wait is bounded; the outages and delays are fractions of a second.
"""

from __future__ import annotations

import os
import re
import signal
import subprocess
import sys
import threading
import time
import uuid
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

from controller.cli.broker import MosquittoBroker
from firmware_sim import FaultPlan, SimulatedVenue
from testkit.mqtt_clients import Observer

pytestmark = pytest.mark.integration

ROOT = Path(__file__).resolve().parents[2]
WAIT_S = 5.0

DEVICES: list[dict[str, Any]] = [
    {"id": "lamp", "kind": "light", "driver": "mqtt", "topic": "lamp"},
    {"id": "hvac", "kind": "thermostat", "driver": "mqtt", "topic": "hvac"},
    {"id": "speaker", "kind": "speaker", "driver": "mqtt", "topic": "speaker"},
    {"id": "diffuser", "kind": "scent", "driver": "mqtt", "topic": "diffuser"},
]


def has(fields: dict[str, Any]) -> Callable[[Any], bool]:
    """A check that a state message carries these fields with these values."""
    return lambda payload: all(payload.get(key) == value for key, value in fields.items())


def online(payload: Any) -> bool:
    return bool(payload == {"state": "online"})


def offline(payload: Any) -> bool:
    return bool(payload == {"state": "offline"})


@pytest.fixture
def base() -> str:
    return f"faults-{uuid.uuid4().hex[:10]}"


@pytest.fixture
def watch(mosquitto: MosquittoBroker, base: str) -> Iterator[Callable[[], Observer]]:
    """Observers of this test's base topic (the topics they take are relative to it), closed at the end."""
    made: list[Observer] = []

    def make() -> Observer:
        made.append(Observer(mosquitto.url, [f"{base}/#"], base=base))
        return made[-1]

    yield make
    for watcher in made:
        watcher.close()


@pytest.fixture
def start_venue(mosquitto: MosquittoBroker, base: str) -> Iterator[Callable[..., SimulatedVenue]]:
    """Start a venue of `DEVICES` with the given options; stopped at the end of the test."""
    venues: list[SimulatedVenue] = []

    def start(**options: Any) -> SimulatedVenue:
        venue = SimulatedVenue(options.pop("devices", DEVICES), mosquitto.url, base, tick_s=0.1, **options)
        venues.append(venue)
        venue.start()
        assert venue.wait_connected(WAIT_S), "simulated devices did not connect"
        return venue

    yield start
    for venue in venues:
        venue.stop()


# -- dropped commands --------------------------------------------------------------------------------------


def test_a_dropped_command_leaves_the_state_unchanged_and_is_counted(
    start_venue: Callable[..., SimulatedVenue], watch: Callable[[], Observer]
) -> None:
    venue = start_venue(faults=FaultPlan(drop_share=1.0), seed=1)
    watcher = watch()
    watcher.wait_for("lamp", lambda p: p["state"] == "OFF")
    seen = len(watcher.on("lamp"))
    watcher.publish("lamp/set", {"state": "ON", "brightness": 42})
    assert venue.fault_stats.wait_for("dropped", timeout=WAIT_S)
    assert venue.devices["lamp"].state["state"] == "OFF"
    assert [(e.device_id, e.kind, e.detail) for e in venue.fault_stats.events("dropped")] == [
        ("lamp", "dropped", {"payload": '{"state": "ON", "brightness": 42}'})
    ]
    venue.inject(FaultPlan())  # faults off: the same device obeys the same command
    watcher.publish("lamp/set", {"state": "ON", "brightness": 42})
    watcher.wait_for("lamp", has({"state": "ON", "brightness": 42}), after=seen)
    assert len(watcher.on("lamp")) == seen + 1  # nothing was published for the dropped one
    assert venue.fault_stats.commands_dropped == 1


def test_drop_next_loses_exactly_one_command_of_one_device(
    start_venue: Callable[..., SimulatedVenue], watch: Callable[[], Observer]
) -> None:
    venue = start_venue()
    watcher = watch()
    venue.devices["speaker"].drop_next(1)
    watcher.publish("speaker/set", {"volume": 61})
    watcher.publish("speaker/set", {"volume": 62})
    watcher.publish("diffuser/set", {"intensity": 63})
    watcher.wait_for("speaker", lambda p: p["volume"] == 62)
    watcher.wait_for("diffuser", lambda p: p["intensity"] == 63)
    assert [p["volume"] for p in watcher.on("speaker")] == [20, 62]
    assert venue.fault_stats.commands_dropped == 1


# -- late reports ------------------------------------------------------------------------------------------


def test_reports_arrive_after_the_delay_in_order_and_the_retained_state_is_the_newest(
    mosquitto: MosquittoBroker, base: str, start_venue: Callable[..., SimulatedVenue], watch: Callable[[], Observer]
) -> None:
    delay = 0.4
    early = watch()  # before the devices start: sees availability at once and the first state late
    venue = start_venue(faults=FaultPlan(report_delay_s=delay), seed=2)
    online_at = early.wait_for_message("speaker/availability", online).at
    first_state_at = early.wait_for_message("speaker", lambda p: True).at
    assert first_state_at - online_at >= delay - 0.05  # availability is never delayed

    seen = len(early.on("speaker"))
    sent_at = time.monotonic()
    for volume in (30, 40, 50):
        early.publish("speaker/set", {"volume": volume})
    last_at = early.wait_for_message("speaker", lambda p: p["volume"] == 50, after=seen).at
    fresh = early.arrivals("speaker")[seen:]
    assert [m.json()["volume"] for m in fresh] == [30, 40, 50]
    assert fresh[0].at - sent_at >= delay
    assert last_at - sent_at < delay + 2.0
    assert venue.fault_stats.count("delayed", "speaker") >= 4

    late = watch()  # retained: the newest state, not an older one published after it
    late.wait_for("speaker", lambda p: True)
    assert [p["volume"] for p in late.on("speaker")] == [50]
    assert venue.devices["speaker"].state["volume"] == 50


# -- power cuts --------------------------------------------------------------------------------------------


def test_a_power_cut_fires_the_last_will_and_the_device_comes_back_as_it_is_now(
    start_venue: Callable[..., SimulatedVenue], watch: Callable[[], Observer]
) -> None:
    venue = start_venue()
    watcher = watch()
    speaker = venue.devices["speaker"]
    watcher.wait_for("speaker/availability", online)
    seen = len(watcher.on("speaker/availability"))

    assert speaker.go_offline()
    assert speaker.offline and not speaker.connected
    watcher.wait_for("speaker/availability", offline, after=seen)  # the broker's will: the device sent nothing
    assert not speaker.go_offline()  # already off
    late = watch()  # the will is retained, like the device's own `offline` on a clean stop
    late.wait_for("speaker/availability", offline)

    watcher.publish("speaker/set", {"volume": 77})  # lost: nobody is there, and no session keeps it
    speaker.manual_change({"volume": 55})  # a person at the device while it has no network
    assert speaker.state["volume"] == 55

    assert speaker.come_back()
    watcher.wait_for("speaker/availability", online, after=seen + 1)
    watcher.wait_for("speaker", has({"volume": 55}))  # its state as it is now
    assert speaker.wait_connected(WAIT_S)
    watcher.publish("speaker/set", {"volume": 33})  # it obeys again; a queued 77 would have come first
    watcher.wait_for("speaker", has({"volume": 33}))
    assert [p["volume"] for p in watcher.on("speaker")] == [20, 55, 33]
    assert venue.fault_stats.outages == 1
    assert [e.kind for e in venue.fault_stats.events(device_id="speaker")] == ["outage", "back"]


def test_an_outage_with_a_length_ends_by_itself(
    start_venue: Callable[..., SimulatedVenue], watch: Callable[[], Observer]
) -> None:
    venue = start_venue()
    watcher = watch()
    watcher.wait_for("hvac/availability", online)
    assert venue.inject_outage("hvac", for_s=0.3) == "hvac"
    off_at = watcher.wait_for_message("hvac/availability", offline).at
    back_at = watcher.wait_for_message("hvac/availability", online, after=2).at
    assert back_at - off_at >= 0.25
    assert venue.devices["hvac"].wait_connected(WAIT_S) and not venue.devices["hvac"].offline


# -- manual changes ----------------------------------------------------------------------------------------


def test_a_manual_change_is_published_and_recorded_with_its_fields(
    start_venue: Callable[..., SimulatedVenue], watch: Callable[[], Observer]
) -> None:
    venue = start_venue(seed=3)
    watcher = watch()
    for device_id in ("lamp", "hvac", "speaker", "diffuser"):
        event = venue.inject_manual_change(device_id)
        assert event is not None and event.device_id == device_id and event.kind == "manual"
        watcher.wait_for(device_id, has(dict(event.detail)))
    assert venue.fault_stats.manual_changes == 4


def test_scheduled_faults_run_in_the_background_and_stop_promptly(
    start_venue: Callable[..., SimulatedVenue], watch: Callable[[], Observer]
) -> None:
    devices = [
        {"id": f"d{i:02d}", "kind": ("light", "thermostat", "speaker", "scent")[i % 4], "topic": f"d{i:02d}"}
        for i in range(50)
    ]
    plan = FaultPlan.parse("drop=0.2,delay=0.1,offline=0.3/0.3,manual=0.1")
    watcher = watch()  # from before the start: sees every message, not only the retained ones
    venue = start_venue(devices=devices, faults=plan, seed=11)
    stats = venue.fault_stats
    assert stats.wait_for("manual", 5, timeout=WAIT_S)
    assert stats.wait_for("outage", 2, timeout=WAIT_S)
    assert stats.wait_for("back", 1, timeout=WAIT_S)
    for event in stats.events("manual")[:3]:
        watcher.wait_for(event.device_id, has(dict(event.detail)))
    outage = stats.events("outage")[0]
    watcher.wait_for(f"{outage.device_id}/availability", offline)
    started = time.monotonic()
    venue.stop()
    assert time.monotonic() - started < 2.0
    assert not [t.name for t in threading.enumerate() if t.name in ("firmware-sim-faults", "firmware-sim-timeline")]


# -- the command line --------------------------------------------------------------------------------------


def write_venue(tmp_path: Path, broker: MosquittoBroker, base: str) -> Path:
    path = tmp_path / "venue.yaml"
    path.write_text(
        f'mqtt: {{url: "{broker.url}", base_topic: {base}}}\n'
        "devices:\n"
        "  - {id: lamp, kind: light, zone: bar, driver: mqtt, topic: lamp}\n"
        "  - {id: speaker, kind: speaker, zone: bar, driver: mqtt, topic: speaker}\n",
        encoding="utf-8",
    )
    return path


def run(module: str, *args: str) -> subprocess.Popen[str]:
    return subprocess.Popen(
        [sys.executable, "-m", module, *args],
        cwd=ROOT,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        env={**os.environ, "PYTHONUNBUFFERED": "1"},
    )


class Lines:
    """A pipe read line by line in a thread, so a test can wait for a line with a timeout."""

    def __init__(self, pipe: Any) -> None:
        self.lines: list[str] = []
        self._cond = threading.Condition()
        self._thread = threading.Thread(target=self._read, args=(pipe,), daemon=True)
        self._thread.start()

    def _read(self, pipe: Any) -> None:
        for line in pipe:
            with self._cond:
                self.lines.append(line.rstrip("\n"))
                self._cond.notify_all()

    def wait_for(self, fragment: str, timeout: float = WAIT_S) -> str:
        with self._cond:
            found = self._cond.wait_for(lambda: next((x for x in self.lines if fragment in x), None), timeout)
        assert found, f"no line with {fragment!r} in {timeout}s: {self.lines}"
        return found

    def close(self) -> list[str]:
        """Every line, once the process closed the pipe."""
        self._thread.join(WAIT_S)
        return self.lines


@pytest.mark.parametrize(
    ("command", "spec", "key"),
    [
        (("firmware_sim",), "drop=1.5", "drop"),
        (("firmware_sim",), "drop=0.1,offline=60", "offline"),
        (("firmware_sim",), "flap=1", "flap"),
        (("controller", "sim"), "delay=-1", "delay"),
    ],
)
def test_the_cli_rejects_a_bad_spec_with_one_line_naming_the_key(
    tmp_path: Path, mosquitto: MosquittoBroker, base: str, command: tuple[str, ...], spec: str, key: str
) -> None:
    proc = run(command[0], *command[1:], "--config", str(write_venue(tmp_path, mosquitto, base)), "--faults", spec)
    _, err = proc.communicate(timeout=20)
    assert proc.returncode == 1, err
    assert len(err.strip().splitlines()) == 1, err
    assert err.startswith(f"error: --faults {key}: "), err


def test_the_cli_runs_with_faults_and_prints_the_summary_on_sigterm(
    tmp_path: Path, mosquitto: MosquittoBroker, base: str, watch: Callable[[], Observer]
) -> None:
    watcher = watch()
    config = write_venue(tmp_path, mosquitto, base)
    proc = run("firmware_sim", "--config", str(config), "--faults", "drop=1,manual=0.2", "--seed", "4")
    out, err = Lines(proc.stdout), Lines(proc.stderr)
    try:
        assert "faults drop=1,manual=0.2, seed 4" in out.wait_for("firmware_sim: simulating 2 devices")
        watcher.wait_for("lamp/availability", online)
        watcher.wait_for("speaker/availability", online)
        watcher.publish("lamp/set", {"state": "ON"})
        err.wait_for("lamp: dropped /set")  # logged at info: the summary must count it
        err.wait_for("manual change (fault injection)")
        proc.send_signal(signal.SIGTERM)
        assert proc.wait(10) == 0, err.close()
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
    summary = out.close()[-1]
    assert re.fullmatch(r"faults: 1 command dropped, 0 reports delayed, 0 outages, \d+ manual changes?", summary)
    assert not any("Traceback" in line for line in err.close())
    watcher.wait_for("lamp/availability", offline)
