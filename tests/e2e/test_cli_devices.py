"""`ambience devices` as an installer runs it: what each device can take, read from the simulated Zigbee2MQTT's
bridge/devices (real definitions) on a real Mosquitto."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest
import yaml

from controller.cli.broker import MosquittoBroker
from firmware_sim import SimulatedVenue
from tests.e2e.cli import cli_env

pytestmark = pytest.mark.integration

ROOT = Path(__file__).resolve().parents[2]


def test_devices_lists_each_device_with_what_zigbee2mqtt_says_it_can_take(
    mosquitto: MosquittoBroker, tmp_path: Path
) -> None:
    doc = yaml.safe_load((ROOT / "examples" / "venue.yaml").read_text())
    doc["mqtt"] = {**doc["mqtt"], "url": mosquitto.url, "base_topic": "cli-devices"}
    doc["store"] = {**doc["store"], "path": str(tmp_path / "ambience.db")}
    doc["profiles_dir"] = str(ROOT / "examples" / "profiles")
    config = tmp_path / "venue.yaml"
    config.write_text(yaml.safe_dump(doc))
    with SimulatedVenue(doc["devices"], mosquitto.url, "cli-devices") as sim:
        assert sim.wait_connected(10)
        done = subprocess.run(
            [sys.executable, "-m", "controller", "devices", "--config", str(config), "--json"],
            env=cli_env(tmp_path),
            capture_output=True,
            text=True,
            timeout=30,
            check=False,
        )
    assert done.returncode == 0, done.stderr
    rows = {row["id"]: row for row in map(json.loads, done.stdout.splitlines())}
    assert rows["hvac"]["model"] == "TV02-Zigbee" and rows["hvac"]["source"] == "bridge/devices"
    assert rows["hvac"]["setpoint"] == {"key": "current_heating_setpoint", "min": 5.0, "max": 30.0, "step": 0.5}
    assert rows["hvac"]["modes"] == ["off", "heat"]
    assert rows["lounge-lamp-2"]["fields"] == ["brightness", "color_temp_k", "on"]
    assert rows["lounge-lamp-2"]["color_temp_k"] == [2203, 4000]
    assert rows["lounge-speaker"]["source"] == "default"  # no Zigbee definition describes a speaker


def test_devices_without_a_broker_is_one_line_and_exit_1(tmp_path: Path) -> None:
    doc = yaml.safe_load((ROOT / "examples" / "venue.yaml").read_text())
    doc["mqtt"] = {**doc["mqtt"], "url": "mqtt://127.0.0.1:9"}
    doc["store"] = {**doc["store"], "path": str(tmp_path / "ambience.db")}
    doc["profiles_dir"] = str(ROOT / "examples" / "profiles")
    config = tmp_path / "venue.yaml"
    config.write_text(yaml.safe_dump(doc))
    done = subprocess.run(
        [sys.executable, "-m", "controller", "devices", "--config", str(config)],
        env=cli_env(tmp_path),
        capture_output=True,
        text=True,
        timeout=30,
        check=False,
    )
    assert done.returncode == 1 and done.stderr.startswith("error: cannot reach the broker"), done.stderr
    assert len(done.stderr.strip().splitlines()) == 1
