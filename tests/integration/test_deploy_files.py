"""The files in deploy/ work as shipped: Mosquitto starts with deploy/mosquitto/ambience.conf in Debian's layout
(included from a main config that sets persistence_location and the log file) and keeps a queued QoS 1 check-in
across a SIGKILL; systemd accepts deploy/systemd/ambience.service.

Only what cannot run here is substituted: the port (a free one), the folders (a temp dir) and the ExecStart binary
(this checkout's venv), each by one exact replacement that the test checks happened.
"""

from __future__ import annotations

import os
import queue
import shutil
import signal
import subprocess
import sys
import time
import uuid
from collections.abc import Iterator
from pathlib import Path

import paho.mqtt.client as mqtt
import pytest

from controller.broker import find_mosquitto, free_port, wait_for_port

ROOT = Path(__file__).resolve().parents[2]
MOSQUITTO_CONF = ROOT / "deploy" / "mosquitto" / "ambience.conf"
SYSTEMD_UNIT = ROOT / "deploy" / "systemd" / "ambience.service"
SHIPPED_LISTENER = "\nlistener 1883 127.0.0.1\n"
LAN_ADDRESS = "192.168.1.10"
NOT_AUTHORISED = 135

pytestmark = pytest.mark.integration


def replace_once(text: str, old: str, new: str) -> str:
    assert text.count(old) == 1, f"expected exactly one {old!r} in the shipped file"
    return text.replace(old, new)


class DebianMosquitto:
    """mosquitto -c main.conf, where main.conf is Debian's (persistence, log file, include_dir conf.d/)."""

    def __init__(self, workdir: Path, port: int, conf: str | None = None) -> None:
        binary = find_mosquitto()
        if binary is None:
            pytest.fail("mosquitto is not installed; scripts/bootstrap.sh --test installs it")
        self.binary, self.port = binary, port
        (workdir / "conf.d").mkdir(parents=True)
        (workdir / "data").mkdir()
        self.log = workdir / "mosquitto.log"
        if conf is None:
            conf = replace_once(MOSQUITTO_CONF.read_text(), SHIPPED_LISTENER, f"\nlistener {port} 127.0.0.1\n")
        (workdir / "conf.d" / "ambience.conf").write_text(conf)
        main = [
            "persistence true",
            f"persistence_location {workdir / 'data'}/",
            f"log_dest file {self.log}",
            f"include_dir {workdir / 'conf.d'}",
        ]
        if os.geteuid() == 0:  # as root it would drop to the `mosquitto` user, who cannot write into our temp dir
            main.insert(0, "user root")
        self.main_conf = workdir / "mosquitto.conf"
        self.main_conf.write_text("\n".join(main) + "\n")
        self.proc: subprocess.Popen[bytes] | None = None

    def start(self, host: str = "127.0.0.1") -> None:
        self.proc = subprocess.Popen(
            [self.binary, "-c", str(self.main_conf)], stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL
        )
        if not wait_for_port(host, self.port, 5.0):
            self.kill()
            pytest.fail(f"mosquitto did not start with deploy/mosquitto/ambience.conf:\n{self.log_text()}")

    def log_text(self) -> str:
        return self.log.read_text() if self.log.exists() else "(no log)"

    def kill(self) -> None:
        if self.proc is not None and self.proc.poll() is None:
            self.proc.send_signal(signal.SIGKILL)
            self.proc.wait(5)


@pytest.fixture
def broker(tmp_path: Path) -> Iterator[DebianMosquitto]:
    mosquitto = DebianMosquitto(tmp_path / "mosquitto", free_port())
    mosquitto.start()
    yield mosquitto
    mosquitto.kill()


def connect_rc(host: str, port: int, username: str | None = None, password: str | None = None) -> int:
    """The broker's CONNACK code for a fresh client (0: accepted, 135: not authorised; paho numbers 3.1.1's 5 so)."""
    c = mqtt.Client(mqtt.CallbackAPIVersion.VERSION2, protocol=mqtt.MQTTv311)
    if username is not None:
        c.username_pw_set(username, password)
    codes: queue.Queue[int] = queue.Queue()
    c.on_connect = lambda _c, _u, _f, reason, _p: codes.put(reason.value)
    c.connect(host, port)
    c.loop_start()
    try:
        return codes.get(timeout=5)
    finally:
        c.loop_stop()
        c.disconnect()


def client(port: int, client_id: str, received: queue.Queue[bytes] | None = None) -> mqtt.Client:
    """A connected MQTT 3.1.1 client with a persistent session (clean_session false), as the controller uses."""
    c = mqtt.Client(mqtt.CallbackAPIVersion.VERSION2, client_id=client_id, clean_session=False)
    if received is not None:
        c.on_message = lambda _c, _u, msg: received.put(msg.payload)
    c.connect("127.0.0.1", port)
    c.loop_start()
    return c


def test_mosquitto_starts_with_the_deploy_config_and_a_crash_keeps_a_queued_checkin(broker: DebianMosquitto) -> None:
    topic = f"ambience/deploy-{uuid.uuid4().hex[:6]}/checkin"
    controller_id = f"controller-{uuid.uuid4().hex[:6]}"
    # The controller subscribes with a persistent session, then goes away (restarting, upgrading).
    controller = client(broker.port, controller_id)
    controller.subscribe(topic, qos=1)
    time.sleep(0.3)
    controller.loop_stop()
    controller.disconnect()

    kiosk = client(broker.port, f"kiosk-{uuid.uuid4().hex[:6]}")
    kiosk.publish(topic, b'{"member_id":"ana","community_id":"book-club"}', qos=1).wait_for_publish(5)
    kiosk.loop_stop()
    kiosk.disconnect()
    time.sleep(0.5)  # autosave_on_changes writes it on the broker's next loop

    broker.kill()  # a crash or power cut: no chance to save on the way out
    broker.start()

    received: queue.Queue[bytes] = queue.Queue()
    controller = client(broker.port, controller_id, received)
    try:
        assert received.get(timeout=5) == b'{"member_id":"ana","community_id":"book-club"}', broker.log_text()
    finally:
        controller.loop_stop()
        controller.disconnect()
    assert "Error" not in broker.log_text(), broker.log_text()


def test_the_documented_lan_listener_asks_for_a_password_and_loopback_does_not(tmp_path: Path) -> None:
    """The commented variant for Zigbee2MQTT on another host, uncommented as the operator would, on 127.0.0.2."""
    passwd_tool = shutil.which("mosquitto_passwd")
    if passwd_tool is None:
        pytest.skip("mosquitto_passwd (mosquitto-clients) is not installed")
    port = free_port()
    passwd = tmp_path / "passwd"
    subprocess.run([passwd_tool, "-c", "-b", str(passwd), "zigbee2mqtt", "s3cret"], check=True, timeout=30)
    conf = replace_once(MOSQUITTO_CONF.read_text(), SHIPPED_LISTENER + "allow_anonymous true\n", "\n")
    variant = conf[
        conf.index("#   per_listener_settings") : conf.index("/etc/mosquitto/passwd\n", conf.index("#   per"))
    ]
    uncommented = variant.replace("#   ", "") + str(passwd) + "\n"
    uncommented = replace_once(uncommented, f"listener 1883 {LAN_ADDRESS}", f"listener {port} 127.0.0.2")
    uncommented = replace_once(uncommented, "listener 1883 127.0.0.1", f"listener {port} 127.0.0.1")
    mosquitto = DebianMosquitto(tmp_path / "mosquitto", port, conf + uncommented)
    mosquitto.start("127.0.0.2")
    try:
        assert wait_for_port("127.0.0.1", port, 5.0), mosquitto.log_text()
        assert connect_rc("127.0.0.1", port) == 0, "the controller connects on loopback without a password"
        assert connect_rc("127.0.0.2", port) == NOT_AUTHORISED, "anonymous clients from the LAN are refused"
        assert connect_rc("127.0.0.2", port, "zigbee2mqtt", "s3cret") == 0, mosquitto.log_text()
    finally:
        mosquitto.kill()


def test_systemd_accepts_the_unit(tmp_path: Path) -> None:
    unit_text = SYSTEMD_UNIT.read_text()
    for line in ("Restart=on-failure", "User=ambience", "NoNewPrivileges=true", "ProtectSystem=strict"):
        assert line in unit_text.splitlines(), line
    if shutil.which("systemd-analyze") is None:
        pytest.skip("systemd-analyze is not installed (a lint only; the unit's content was checked above)")
    ambience = Path(sys.executable).parent / "ambience"  # ExecStart must exist for `verify`
    unit = tmp_path / "ambience.service"
    unit.write_text(replace_once(unit_text, "/opt/ambience/.venv/bin/ambience ", f"{ambience} "))

    result = subprocess.run(
        ["systemd-analyze", "verify", str(unit)], capture_output=True, text=True, timeout=60, check=False
    )

    # verify exits 0 after mere warnings ("Unknown key", "Failed to parse"): any output is a finding.
    assert result.returncode == 0 and not result.stderr.strip() and not result.stdout.strip(), (
        result.stdout + result.stderr
    )
