"""The files in deploy/ work as shipped: Mosquitto starts with deploy/mosquitto/ambience.conf in Debian's layout
(included from Debian's own main config, which sets persistence_location /var/lib/mosquitto/ and the log file, and
run as a Pi runs it: started as root, it drops to the `mosquitto` user, which owns the data folder as it owns
/var/lib/mosquitto) and keeps a queued QoS 1 check-in across a SIGKILL; the folder Debian's config names is the one
the mosquitto user owns; systemd accepts deploy/systemd/ambience.service.

Only what cannot run here is substituted: the port (a free one), the folders (fresh ones, owned as Debian owns its
own) and the ExecStart binary (this checkout's venv), each by one exact replacement that the test checks happened.
"""

from __future__ import annotations

import os
import pwd
import queue
import shutil
import subprocess
import sys
import time
import uuid
from collections.abc import Iterator
from pathlib import Path

import paho.mqtt.client as mqtt
import pytest

from api.limits import MAX_CONNECTIONS
from controller.cli.broker import free_port, wait_for_port
from tests.integration.debian_mosquitto import (
    DEBIAN_DATA_DIR,
    DEBIAN_MAIN_CONF,
    MOSQUITTO_CONF,
    SHIPPED_LISTENER,
    DebianMosquitto,
    broker_user,
    debian_main_text,
    replace_once,
)

ROOT = Path(__file__).resolve().parents[2]
SYSTEMD_UNIT = ROOT / "deploy" / "systemd" / "ambience.service"
LAN_ADDRESS = "192.168.1.10"
NOT_AUTHORISED = 135

pytestmark = pytest.mark.integration


@pytest.fixture
def broker(tmp_path: Path) -> Iterator[DebianMosquitto]:
    mosquitto = DebianMosquitto(tmp_path / "mosquitto", free_port())
    mosquitto.start()
    yield mosquitto
    mosquitto.close()


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
    assert (broker.data / "mosquitto.db").is_file(), "the database is written where persistence_location says"
    if broker_user() is not None:  # run as root: the broker really ran as its own user, as on a Pi
        assert (broker.data / "mosquitto.db").stat().st_uid == pwd.getpwnam("mosquitto").pw_uid


def test_the_persistence_folder_is_debians_and_the_mosquitto_user_owns_it() -> None:
    """ambience.conf sets no persistence_location (Mosquitto refuses a second one): Debian's main config must name a
    folder the broker's user can write, or persistence fails with one `Permission denied` in the log."""
    shipped = [line.split() for line in MOSQUITTO_CONF.read_text().splitlines() if line and not line.startswith("#")]
    assert ["persistence", "true"] in shipped
    assert not any(words[0] in ("persistence_location", "user") for words in shipped)
    main = [line.split() for line in debian_main_text().splitlines() if line and not line.startswith("#")]
    assert ["persistence_location", DEBIAN_DATA_DIR] in main
    assert not any(words[0] == "user" for words in main)  # so Mosquitto drops to `mosquitto` when started as root
    if not DEBIAN_MAIN_CONF.exists():
        if os.environ.get("CI"):
            pytest.fail("Debian's mosquitto package is not installed (scripts/bootstrap.sh --test installs it)")
        pytest.skip("Debian's mosquitto package is not installed: its folder cannot be checked")
    folder = Path(DEBIAN_DATA_DIR)
    assert folder.is_dir(), f"{folder} is missing: the mosquitto package creates it"
    assert folder.stat().st_uid == pwd.getpwnam("mosquitto").pw_uid, f"{folder} must be owned by mosquitto"


def test_the_documented_lan_listener_asks_for_a_password_and_loopback_does_not(tmp_path: Path) -> None:
    """The commented variant for Zigbee2MQTT on another host, uncommented as the operator would, on 127.0.0.2."""
    passwd_tool = shutil.which("mosquitto_passwd")
    if passwd_tool is None:
        pytest.skip("mosquitto_passwd (mosquitto-clients) is not installed")
    port = free_port()
    mosquitto = DebianMosquitto(tmp_path / "mosquitto", port)
    try:
        passwd = mosquitto.state / "passwd"  # /etc/mosquitto/passwd, `chown mosquitto:` as the file's comment says
        subprocess.run([passwd_tool, "-c", "-b", str(passwd), "zigbee2mqtt", "s3cret"], check=True, timeout=30)
        mosquitto.own(passwd)
        conf = replace_once(MOSQUITTO_CONF.read_text(), SHIPPED_LISTENER + "allow_anonymous true\n", "\n")
        variant = conf[
            conf.index("#   per_listener_settings") : conf.index("/etc/mosquitto/passwd\n", conf.index("#   per"))
        ]
        uncommented = variant.replace("#   ", "") + str(passwd) + "\n"
        uncommented = replace_once(uncommented, f"listener 1883 {LAN_ADDRESS}", f"listener {port} 127.0.0.2")
        uncommented = replace_once(uncommented, "listener 1883 127.0.0.1", f"listener {port} 127.0.0.1")
        mosquitto.write_conf(conf + uncommented)
        mosquitto.start("127.0.0.2")
        assert wait_for_port("127.0.0.1", port, 5.0), mosquitto.log_text()
        assert connect_rc("127.0.0.1", port) == 0, "the controller connects on loopback without a password"
        assert connect_rc("127.0.0.2", port) == NOT_AUTHORISED, "anonymous clients from the LAN are refused"
        assert connect_rc("127.0.0.2", port, "zigbee2mqtt", "s3cret") == 0, mosquitto.log_text()
    finally:
        mosquitto.close()


def test_systemd_accepts_the_unit(tmp_path: Path) -> None:
    unit_text = SYSTEMD_UNIT.read_text()
    for line in ("Restart=on-failure", "User=ambience", "NoNewPrivileges=true", "ProtectSystem=strict"):
        assert line in unit_text.splitlines(), line
    nofile = [int(line.split("=", 1)[1]) for line in unit_text.splitlines() if line.startswith("LimitNOFILE=")]
    assert nofile and nofile[0] >= 4 * MAX_CONNECTIONS, "LimitNOFILE= must leave room above the API's connections"
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
