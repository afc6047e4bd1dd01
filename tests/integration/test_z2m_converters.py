"""Our Zigbee2MQTT payloads against the converters Zigbee2MQTT itself runs (zigbee-herdsman-converters 26.112.0,
installed by scripts/bootstrap.sh --test into .cache/zhc), not against our own idea of them.

- The copies of real definitions (tests/fixtures/z2m_definitions.json, firmware_sim/definitions.json) are what the
  installed converters define.
- For each of those devices, the venue core plans the example communities' rooms (the capabilities learned from
  `bridge/devices` as Zigbee2MQTT would publish them), and every key of every `/set` it produces must have a
  converter in the definition and a value inside what the definition exposes (scripts/z2m_check.mjs). The same
  devices planned without their capabilities (what the venue did before) fail, so the check can fail.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest

from controller.core import messages as msg
from controller.core.outputs import Drive
from controller.core.state import VenueState
from controller.core.venue import step
from devices.z2m_driver import Z2MDriver
from profiles.loader import load_profile, load_venue
from profiles.venue import DeviceConfig
from testkit.z2m import bridge_devices, definitions

pytestmark = pytest.mark.integration

ROOT = Path(__file__).resolve().parents[2]
ZHC = ROOT / ".cache" / "zhc"
SIM_DEFINITIONS = ROOT / "firmware_sim" / "definitions.json"
DEFINITIONS: dict[str, Any] = definitions()
COMMUNITIES = ("house", "book-club", "spicy-tech-gossip")
T0 = datetime(2026, 12, 8, 19, 0, tzinfo=UTC)


def node(script: str, *args: str, stdin: str | None = None) -> str:
    if shutil.which("node") is None or not (ZHC / "node_modules" / "zigbee-herdsman-converters").is_dir():
        reason = "node and zigbee-herdsman-converters in .cache/zhc (scripts/bootstrap.sh --test installs them)"
        if os.environ.get("CI"):
            pytest.fail(f"missing: {reason}")
        pytest.skip(f"missing: {reason}")
    done = subprocess.run(
        ["node", str(ROOT / "scripts" / script), *args],
        input=stdin,
        capture_output=True,
        text=True,
        env={**os.environ, "ZHC_DIR": str(ZHC)},
        timeout=120,
        check=False,
    )
    assert done.returncode == 0, done.stderr
    return done.stdout


def test_our_copies_of_the_definitions_are_the_installed_converters_own() -> None:
    current = json.loads(node("z2m_definitions.mjs", *DEFINITIONS))
    assert current == DEFINITIONS, "tests/fixtures/z2m_definitions.json: run scripts/z2m_definitions.mjs again"
    sim = json.loads(SIM_DEFINITIONS.read_text())
    assert {m: current[m] for m in sim} == sim, "firmware_sim/definitions.json differs from the converters"


def _kind(model: str) -> str | None:
    types = {e["type"] for e in DEFINITIONS[model]["exposes"]}
    return "light" if "light" in types else "thermostat" if "climate" in types else None


def planned_payloads(learned: bool) -> list[dict[str, Any]]:
    """Every `/set` the venue core plans for one device of each model per zone, for each example community."""
    venue = load_venue(ROOT / "examples" / "venue.yaml")
    devices = []
    model_of: dict[str, str] = {}
    for model in DEFINITIONS:
        kind = _kind(model)
        zones = ("bar", "lounge") if kind == "light" else ("*",) if kind == "thermostat" else ()
        for zone in zones:
            name = f"{model.replace('/', '_')}_{zone.strip('*') or 'all'}"
            devices.append(DeviceConfig(id=name.lower(), kind=kind, zone=zone, driver="mqtt", topic=name))
            model_of[name] = model
    venue = venue.model_copy(update={"devices": devices})
    profiles = {p.community_id: p for p in map(load_profile, sorted((ROOT / "examples" / "profiles").glob("*")))}
    cases: list[dict[str, Any]] = []
    for community in COMMUNITIES:
        wire: list[tuple[str, str]] = []
        driver = Z2MDriver(venue, lambda topic, payload, sent=wire: sent.append((topic, payload)), lambda: True)
        state = VenueState.initial(venue, profiles=profiles, forced=None if community == "house" else community)
        if learned:
            seen = driver.observe(f"{venue.mqtt.base_topic}/bridge/devices", bridge_devices(model_of), retain=True)
            state = step(state, msg.Observed(tuple(seen or ()), 0.0), T0).state
        result = step(state, msg.Tick(plan_all=True), T0)
        for command in result.commands:
            if isinstance(command, Drive):
                driver.send(command.commands)
        for topic, payload in wire:
            name = topic.split("/")[-2]
            cases.append({"model": model_of[name], "community": community, "payload": json.loads(payload)})
    return cases


def check(cases: list[dict[str, Any]]) -> list[dict[str, Any]]:
    verdicts: list[dict[str, Any]] = json.loads(node("z2m_check.mjs", stdin=json.dumps(cases)))
    return verdicts


def test_every_key_the_venue_sends_has_a_real_converter_and_a_value_the_device_takes(
    capsys: pytest.CaptureFixture[str],
) -> None:
    verdicts = check(planned_payloads(learned=True))
    table = sorted({(v["model"], v["key"], v["verdict"]) for v in verdicts})
    with capsys.disabled():
        print("\nconverter check (model, key, verdict):")
        for row in table:
            print("  " + " | ".join(str(c) for c in row))
    assert {m for m, _, _ in table} >= {m for m in DEFINITIONS if _kind(m)}, "a device was never sent anything"
    bad = [v for v in verdicts if v["verdict"] != "ok"]
    assert not bad, bad


def test_without_their_capabilities_the_same_devices_are_sent_what_they_cannot_take() -> None:
    """What the venue sent before capabilities were learned: the check must see it."""
    verdicts = check(planned_payloads(learned=False))
    bad = {(v["model"], v["key"], v["verdict"].split(":")[0]) for v in verdicts if v["verdict"] != "ok"}
    assert ("TV02-Zigbee", "occupied_heating_setpoint", "no converter") in bad
    assert ("LED1545G12", "color", "no converter") in bad
    assert ("014G2461", "system_mode", "out of range") in bad
