"""`python -m firmware_sim.hue_bridge` as operators and `ambience demo` run it: one line out, phue works, SIGTERM stops.

Waits are bounded reads of the child's output and exit, never fixed sleeps.
"""

from __future__ import annotations

import os
import re
import selectors
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import phue
import pytest

pytestmark = [
    pytest.mark.integration,
    pytest.mark.filterwarnings("ignore:The 'warn' method is deprecated:DeprecationWarning"),
]

ROOT = Path(__file__).resolve().parents[2]
WAIT_S = 10.0
BANNER = re.compile(r"hue bridge emulator at (\S+) username=(\S+) lights=(\d+)")


@contextmanager
def emulator_process(*args: str) -> Iterator[subprocess.Popen[str]]:
    env = {**os.environ, "PYTHONUNBUFFERED": "1"}
    proc = subprocess.Popen(
        [sys.executable, "-m", "firmware_sim.hue_bridge", *args],
        cwd=ROOT,
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        yield proc
    finally:
        if proc.poll() is None:
            proc.kill()
        proc.communicate(timeout=WAIT_S)


def first_line(proc: subprocess.Popen[str], timeout: float = WAIT_S) -> str:
    assert proc.stdout is not None
    with selectors.DefaultSelector() as selector:
        selector.register(proc.stdout, selectors.EVENT_READ)
        if not selector.select(timeout):
            pytest.fail(f"no output from the emulator within {timeout} s")
    return proc.stdout.readline()


def test_cli_serves_phue_and_stops_cleanly_on_sigterm(tmp_path: Path) -> None:
    with emulator_process("--port", "0", "--lights", "2", "--username", "tester", "--group", "lounge=1,2") as proc:
        match = BANNER.search(first_line(proc))
        assert match, "banner line missing"
        address, username, lights = match.groups()
        assert address.startswith("127.0.0.1:") and username == "tester" and lights == "2"
        bridge = phue.Bridge(address, username="tester", config_file_path=str(tmp_path / "phue.json"))
        assert sorted(bridge.get_light_objects("id")) == [1, 2]
        assert bridge.set_group(1, "bri", 77) == [[{"success": {"/groups/1/action/bri": 77}}]]
        assert bridge.get_light(2, "bri") == 77
        started = time.monotonic()
        proc.send_signal(signal.SIGTERM)
        assert proc.wait(WAIT_S) == 0
        assert time.monotonic() - started < 3
        with pytest.raises(ConnectionRefusedError):
            bridge.get_api()


def test_cli_auto_link_lets_phue_register(tmp_path: Path) -> None:
    with emulator_process("--auto-link", "--lights", "1") as proc:
        match = BANNER.search(first_line(proc))
        assert match
        config = tmp_path / "phue.json"
        bridge = phue.Bridge(match.group(1), config_file_path=str(config))
        assert bridge.username != match.group(2) and config.exists()
        proc.send_signal(signal.SIGINT)
        assert proc.wait(WAIT_S) == 0


def test_cli_port_in_use_is_one_line_and_exit_1() -> None:
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        with emulator_process("--port", str(port)) as proc:
            assert proc.wait(WAIT_S) == 1
            assert proc.stderr is not None
            assert "cannot listen on 127.0.0.1" in proc.stderr.read()
