"""Brokers that ambience starts itself: for `ambience demo`, the tests and the benchmarks.

Production venues run their own Mosquitto; these exist so that a laptop with nothing installed can still run a
whole venue, and so that tests run against the real Mosquitto rather than a fake.

`MosquittoBroker` runs the `mosquitto` binary on a loopback port with a generated config (persistence on, saved
every second, or after every change for tests that SIGKILL it). `EmbeddedBroker` runs amqtt inside the caller's event
loop, for machines without Mosquitto; it speaks MQTT 3.1.1 only, which is what all our clients use.
"""

from __future__ import annotations

import contextlib
import ctypes
import ctypes.util
import logging
import os
import shutil
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from profiles.exceptions import AmbienceError

log = logging.getLogger(__name__)

PR_SET_PDEATHSIG = 1
MOSQUITTO_CANDIDATES = ("/usr/sbin/mosquitto", "/usr/local/sbin/mosquitto", "/opt/homebrew/sbin/mosquitto")


class BrokerError(AmbienceError, RuntimeError):
    """The broker could not be started."""


def find_mosquitto() -> str | None:
    """Debian installs mosquitto in /usr/sbin, which is not on a normal user's PATH, so look there too."""
    found = shutil.which("mosquitto")
    if found:
        return found
    for candidate in MOSQUITTO_CANDIDATES:
        if os.access(candidate, os.X_OK):
            return candidate
    return None


def free_port() -> int:
    """A loopback TCP port that was free a moment ago (callers retry if it is taken by then)."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def die_with_parent() -> None:
    """`preexec_fn` for children we start: on Linux, ask for SIGTERM when the parent dies.

    A test run or demo that is killed (SIGKILL, a CI timeout) must not leave brokers or simulators behind. Linux
    sends it when the *thread* that started the child ends, so start children from a long-lived thread.
    """
    if sys.platform.startswith("linux"):
        libc = ctypes.CDLL(ctypes.util.find_library("c") or "libc.so.6", use_errno=True)
        libc.prctl(PR_SET_PDEATHSIG, signal.SIGTERM)


def wait_for_port(host: str, port: int, timeout_s: float) -> bool:
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        with contextlib.suppress(OSError), socket.create_connection((host, port), timeout=0.2):
            return True
        time.sleep(0.01)
    return False


class MosquittoBroker:
    """A Mosquitto process on 127.0.0.1 with its own config, data and log in `workdir`.

    `stop()`/`start()` keep the port and the persistence file, so a test can restart "the same" broker and see
    retained messages and persistent sessions survive, as they would on a venue's Pi.
    """

    def __init__(
        self,
        workdir: Path,
        port: int | None = None,
        binary: str | None = None,
        *,
        save_every_change: bool = False,
        extra_config: Sequence[str] = (),
    ) -> None:
        """`save_every_change` makes retained messages survive a SIGKILL of the broker, at a price: Mosquitto then
        rewrites its whole database after every retained publish, which multiplies its CPU time and latency
        (bench/checkin_latency.py --broker shows it). Only tests that kill the broker want it.

        `extra_config` lines are appended to the generated config as they are, after everything else (where a
        bridge's `connection` section must go: every line after `connection NAME` belongs to that bridge)."""
        self.workdir = Path(workdir)
        self.workdir.mkdir(parents=True, exist_ok=True)
        found = binary or find_mosquitto()
        if found is None:
            raise BrokerError("mosquitto is not installed (Debian: apt-get install mosquitto)")
        self.binary = found
        self.host = "127.0.0.1"
        self.port = port or free_port()
        self.proc: subprocess.Popen[bytes] | None = None
        self.log_path = self.workdir / "mosquitto.log"
        self.save_every_change = save_every_change
        self.extra_config = tuple(extra_config)

    @property
    def url(self) -> str:
        return f"mqtt://{self.host}:{self.port}"

    def _write_config(self) -> Path:
        lines = [
            f"listener {self.port} {self.host}",
            "allow_anonymous true",
            "persistence true",
            f"persistence_location {self.workdir}/",
            "autosave_interval 1",  # seconds; with autosave_on_changes: after every change
            "max_queued_messages 100000",
            f"log_dest file {self.log_path}",
            "log_type error",
            "log_type warning",
            "log_type notice",
        ]
        if self.save_every_change:
            lines.append("autosave_on_changes true")
        if os.geteuid() == 0:
            # As root, mosquitto drops to the `mosquitto` user, which cannot write into a private temp dir.
            lines.append("user root")
        lines.extend(self.extra_config)
        conf = self.workdir / "mosquitto.conf"
        conf.write_text("\n".join(lines) + "\n")
        return conf

    def start(self, timeout_s: float = 5.0) -> None:
        conf = self._write_config()
        for attempt in range(3):
            self.proc = subprocess.Popen(
                [self.binary, "-c", str(conf)],
                stdin=subprocess.DEVNULL,
                stdout=subprocess.DEVNULL,
                stderr=subprocess.DEVNULL,
                start_new_session=True,
                preexec_fn=die_with_parent,  # noqa: PLW1509 - only async-signal-safe work: one prctl call
            )
            deadline = time.monotonic() + timeout_s
            while time.monotonic() < deadline:
                if self.proc.poll() is not None:
                    break
                if wait_for_port(self.host, self.port, 0.05):
                    log.info("mosquitto %s listening on %s", self.proc.pid, self.url)
                    return
            if self.proc.poll() is None:
                self.kill()
            if attempt < 2 and "Address already in use" in self._log_tail():
                self.port = free_port()
                conf = self._write_config()
                continue
            break
        raise BrokerError(f"mosquitto did not start on {self.url}: {self._log_tail()}")

    def _log_tail(self) -> str:
        try:
            return self.log_path.read_text()[-2000:]
        except OSError:
            return "(no log)"

    def stop(self, timeout_s: float = 5.0) -> None:
        """SIGTERM: mosquitto saves its persistence file and exits."""
        if self.proc is None or self.proc.poll() is not None:
            return
        self.proc.send_signal(signal.SIGTERM)
        try:
            self.proc.wait(timeout_s)
        except subprocess.TimeoutExpired:
            self.kill()

    def kill(self) -> None:
        if self.proc is not None and self.proc.poll() is None:
            self.proc.kill()
            self.proc.wait()

    def __enter__(self) -> MosquittoBroker:
        self.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop()


class EmbeddedBroker:
    """amqtt running in the current event loop on 127.0.0.1 (must be started from inside that loop)."""

    def __init__(self, port: int | None = None) -> None:
        self.host = "127.0.0.1"
        self.port = port or free_port()
        self._broker: Any = None

    @property
    def url(self) -> str:
        return f"mqtt://{self.host}:{self.port}"

    async def start(self) -> None:
        from amqtt.broker import Broker

        # amqtt logs every state transition of every session at INFO; a venue's chatter would drown the demo.
        for noisy in ("transitions", "amqtt"):
            logging.getLogger(noisy).setLevel(logging.WARNING)
        config = {
            "listeners": {"default": {"type": "tcp", "bind": f"{self.host}:{self.port}"}},
            "plugins": {"amqtt.plugins.authentication.AnonymousAuthPlugin": {"allow_anonymous": True}},
        }
        self._broker = Broker(config)
        await self._broker.start()
        log.info("embedded amqtt broker listening on %s", self.url)

    async def stop(self) -> None:
        if self._broker is not None:
            await self._broker.shutdown()
            self._broker = None
