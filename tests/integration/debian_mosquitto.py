"""Mosquitto as Debian runs it, for tests of deploy/mosquitto: Debian's own main config (/etc/mosquitto/mosquitto.conf,
which sets persistence_location /var/lib/mosquitto/ and includes conf.d/) with deploy/mosquitto/ambience.conf in
conf.d/, and no `user root`. Started as root, Mosquitto drops to its `mosquitto` user, as on a Pi; so the data and
log folders are made the way Debian's package makes /var/lib/mosquitto and /var/log/mosquitto: owned by that user.

Only the paths and the port are substituted, each by one exact replacement that is checked. `data="private"` makes
the trap instead: a 0700 data folder of root's, which that user cannot write.
"""

from __future__ import annotations

import os
import pwd
import shutil
import signal
import subprocess
import tempfile
from pathlib import Path
from typing import Literal

import pytest

from controller.cli.broker import find_mosquitto, wait_for_port

ROOT = Path(__file__).resolve().parents[2]
MOSQUITTO_CONF = ROOT / "deploy" / "mosquitto" / "ambience.conf"
DEBIAN_MAIN_CONF = Path("/etc/mosquitto/mosquitto.conf")
DEBIAN_DATA_DIR = "/var/lib/mosquitto/"
SHIPPED_LISTENER = "\nlistener 1883 127.0.0.1\n"
# Debian bookworm's /etc/mosquitto/mosquitto.conf (mosquitto 2.0.11), for machines without the package.
DEBIAN_MAIN_TEXT = """\
pid_file /run/mosquitto/mosquitto.pid

persistence true
persistence_location /var/lib/mosquitto/

log_dest file /var/log/mosquitto/mosquitto.log

include_dir /etc/mosquitto/conf.d
"""


def replace_once(text: str, old: str, new: str) -> str:
    assert text.count(old) == 1, f"expected exactly one {old!r} in the shipped file"
    return text.replace(old, new)


def debian_main_text() -> str:
    """The machine's Debian main config if the package is installed (as in CI), else a copy of bookworm's."""
    return DEBIAN_MAIN_CONF.read_text() if DEBIAN_MAIN_CONF.exists() else DEBIAN_MAIN_TEXT


def broker_user() -> str | None:
    """The user Mosquitto drops to when started as root (None: not root, it stays who started it)."""
    if os.geteuid() != 0:
        return None
    try:
        pwd.getpwnam("mosquitto")
    except KeyError:
        pytest.fail("the mosquitto user does not exist (Debian's mosquitto package creates it)")
    return "mosquitto"


class DebianMosquitto:
    """`mosquitto -c main.conf`, main.conf being Debian's with its folders moved into fresh ones of the test."""

    def __init__(
        self,
        workdir: Path,
        port: int,
        conf: str | None = None,
        *,
        data: Literal["debian", "private"] = "debian",
    ) -> None:
        binary = find_mosquitto()
        if binary is None:
            pytest.fail("mosquitto is not installed; scripts/bootstrap.sh --test installs it")
        self.binary, self.port = binary, port
        (workdir / "conf.d").mkdir(parents=True)
        # Outside the test's tmp_path: pytest makes that 0700, and the mosquitto user could not even enter it.
        self.state = Path(tempfile.mkdtemp(prefix="ambience-mosquitto-"))
        os.chmod(self.state, 0o755)
        self.data = self.state / "lib"
        self.log_dir = self.state / "log"
        self.data.mkdir()
        self.log_dir.mkdir()
        user = broker_user()
        for folder in (self.data, self.log_dir):
            if user is not None:
                shutil.chown(folder, user, user)
        if data == "private":  # the trap: the broker's user cannot write its persistence folder
            shutil.chown(self.data, os.geteuid(), os.getegid())
            os.chmod(self.data, 0o700)
        self.log = self.log_dir / "mosquitto.log"
        self.conf_d = workdir / "conf.d"
        if conf is None:
            conf = replace_once(MOSQUITTO_CONF.read_text(), SHIPPED_LISTENER, f"\nlistener {port} 127.0.0.1\n")
        self.write_conf(conf)
        main = debian_main_text()
        main = replace_once(main, "/run/mosquitto/mosquitto.pid", str(self.log_dir / "mosquitto.pid"))
        main = replace_once(main, f"persistence_location {DEBIAN_DATA_DIR}", f"persistence_location {self.data}/")
        main = replace_once(main, "/var/log/mosquitto/mosquitto.log", str(self.log))
        main = replace_once(main, "include_dir /etc/mosquitto/conf.d", f"include_dir {workdir / 'conf.d'}")
        assert "\nuser " not in main, "the layout under test has no `user` line"
        self.main_conf = workdir / "mosquitto.conf"
        self.main_conf.write_text(main)
        self.proc: subprocess.Popen[bytes] | None = None

    def write_conf(self, conf: str) -> None:
        """conf.d/ambience.conf (before `start`)."""
        assert "\nuser " not in f"\n{conf}", "the layout under test has no `user` line"
        (self.conf_d / "ambience.conf").write_text(conf)

    def own(self, path: Path) -> Path:
        """Give a file of the broker's to its user, as `chown mosquitto:` does on the Pi (docs in ambience.conf)."""
        if (user := broker_user()) is not None:
            shutil.chown(path, user, user)
        return path

    @property
    def url(self) -> str:
        return f"mqtt://127.0.0.1:{self.port}"

    def start(self, host: str = "127.0.0.1") -> None:
        self.proc = subprocess.Popen(
            [self.binary, "-c", str(self.main_conf)],
            stdin=subprocess.DEVNULL,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        if not wait_for_port(host, self.port, 5.0):
            self.kill()
            pytest.fail(f"mosquitto did not start with deploy/mosquitto/ambience.conf:\n{self.log_text()}")

    def log_text(self) -> str:
        return self.log.read_text() if self.log.exists() else "(no log)"

    def stop(self) -> None:
        """SIGTERM: Mosquitto saves its database on the way out (if it can)."""
        if self.proc is not None and self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            self.proc.wait(5)

    def kill(self) -> None:
        if self.proc is not None and self.proc.poll() is None:
            self.proc.send_signal(signal.SIGKILL)
            self.proc.wait(5)

    def close(self) -> None:
        self.kill()
        shutil.rmtree(self.state, ignore_errors=True)
