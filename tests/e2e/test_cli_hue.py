"""`ambience hue pair` and `ambience hue lights` as an operator runs them, against the emulated bridge on loopback."""

from __future__ import annotations

import subprocess
import sys
import threading
from pathlib import Path

import pytest

from firmware_sim.hue_bridge import HueBridgeEmulator
from tests.e2e.cli import cli_env

pytestmark = pytest.mark.integration


def run_cli(*args: str, env: dict[str, str] | None = None, timeout: float = 20) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "controller", *args],
        env={**cli_env(), **(env or {})},
        stdin=subprocess.DEVNULL,
        capture_output=True,
        text=True,
        timeout=timeout,
        check=False,
    )


def test_pair_waits_for_the_link_button_and_prints_an_export_line_then_lights_lists_them(tmp_path: Path) -> None:
    with HueBridgeEmulator(lights={"1": {"name": "Lounge left"}, "2": {"name": "Lounge right"}}) as bridge:
        # The operator presses the button a moment after starting `pair`, as the prompt asks.
        timer = threading.Timer(1.5, bridge.press_link_button)
        timer.start()
        paired = run_cli("hue", "pair", "--host", bridge.address, "--wait", "10", "--env", "HUE_MAIN")
        timer.cancel()
        assert paired.returncode == 0, paired.stderr
        assert "press the link button" in paired.stderr
        export = [line for line in paired.stdout.splitlines() if line.startswith("export HUE_MAIN=")]
        assert len(export) == 1, paired.stdout
        username = export[0].split("=", 1)[1]
        assert username in bridge.usernames

        config = tmp_path / "venue.yaml"
        config.write_text(
            f"""
venue: {{id: cli-hue, name: CLI Hue}}
zones: [lounge]
hue_bridges:
  main: {{host: "{bridge.address}", username_env: HUE_MAIN}}
devices:
  - {{id: lounge-hue-1, kind: light, zone: lounge, driver: hue, bridge: main, light: 1}}
"""
        )
        listed = run_cli("hue", "lights", "--config", str(config), env={"HUE_MAIN": username})
        assert listed.returncode == 0, listed.stderr
        rows = [line.split() for line in listed.stdout.splitlines()]
        assert rows[1][:3] == ["main", "1", "Lounge"] and rows[1][-1] == "lounge-hue-1"
        assert rows[2][:3] == ["main", "2", "Lounge"] and rows[2][-1] == "-"  # not mapped to a zone yet

        missing = run_cli("hue", "lights", "--config", str(config), env={"HUE_MAIN": ""})
        assert missing.returncode == 1
        assert "HUE_MAIN" in missing.stderr and "Traceback" not in missing.stderr


def test_pair_with_nobody_at_the_bridge_gives_up_with_one_line() -> None:
    with HueBridgeEmulator(lights=1) as bridge:
        result = run_cli("hue", "pair", "--host", bridge.address, "--wait", "1")
    assert result.returncode == 1
    assert result.stdout == ""
    assert result.stderr.strip().splitlines()[-1].startswith("error: the link button")
