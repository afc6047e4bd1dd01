"""`ambience demo` as a user runs it with its output piped (no TTY): it narrates, stops by itself, leaves nothing.

The demo starts its own broker (Mosquitto when installed, else the embedded amqtt one) and the simulated devices
as a child process; after it exits, neither may remain.
"""

from __future__ import annotations

import contextlib
import os
import re
import signal
import threading
import time
import uuid
from pathlib import Path

import paho.mqtt.client as mqtt
import pytest
from paho.mqtt.enums import CallbackAPIVersion

from controller.cli.broker import find_mosquitto, free_port
from testkit.mqtt_clients import Kiosk
from testkit.waiting import wait_until_sync
from tests.e2e.cli import Proc, cli_env, lines, processes_mentioning, started

pytestmark = pytest.mark.integration

FIRST_LINE = re.compile(
    r"^ambience demo: venue (?P<venue>\S+) with 7/7 simulated MQTT devices up on (?P<broker>mosquitto|embedded amqtt) "
    r"at (?P<url>mqtt://127\.0\.0\.1:(?P<port>\d+))"
    r"(?: and 2 Hue lights on an emulated bridge at (?P<hue>127\.0\.0\.1:\d+))?; "
    r"record in (?P<data>\S+) \(removed on exit\); "
    r"venue time x(?P<speed>[\d.]+)\."
)
EVENING_STORY = [  # the steps that fall inside 20 s at 120 venue minutes per second (minute m at m/2 s)
    "[  1 min] two book-club members arrive",
    "[  5 min] one spicy-tech-gossip member arrives",
    "[  7 min] a kiosk scans a card for a community this venue does not know",
    "[  9 min] two more spicy-tech-gossip members",
    "[ 15 min] their organiser turns the volume to 85",
    "[ 20 min] the gossip draws a crowd",
]


def require_mosquitto() -> None:
    if find_mosquitto() is None:
        if os.environ.get("CI"):
            pytest.fail("mosquitto is not installed; scripts/bootstrap.sh --test installs it")
        pytest.skip("mosquitto is not installed (scripts/bootstrap.sh --test installs it)")


def wait_for_first_line(demo: Proc) -> re.Match[str]:
    wait_until_sync(lambda: "\n" in demo.stdout, 15, "the demo's first line", demo)
    first = demo.stdout.splitlines()[0]
    match = FIRST_LINE.match(first)
    assert match, first
    return match


def wait_for_house(demo: Proc) -> None:
    """The service is up and subscribed once it has applied the default profile."""
    wait_until_sync(
        lambda: '  profile_activated: {"community_id":"house"' in demo.stdout, 10, "the house profile", demo
    )


def assert_nothing_left(demo: Proc, url: str, data_dir: str, hue: str | None = None) -> None:
    assert demo.leftovers() == []
    assert processes_mentioning("firmware_sim", url) == []  # the simulator the demo started
    if hue is not None:
        assert processes_mentioning("firmware_sim.hue_cli", hue.rsplit(":", 1)[1]) == []  # its Hue bridge
    assert processes_mentioning(data_dir) == []  # anything using its folder: the broker, when Mosquitto


def test_demo_evening_narrates_the_evening_and_stops_by_itself(tmp_path: Path) -> None:
    require_mosquitto()
    args = ["demo", "--port", str(free_port()), "--scenario", "evening", "--duration", "20", "--speed", "120"]
    with started("controller", args, tmp_path, "demo", env=cli_env(tmpdir=tmp_path)) as demo:
        first = wait_for_first_line(demo)
        assert first["broker"] == "mosquitto"
        assert first["speed"] == "120"
        assert Path(first["data"]).is_relative_to(tmp_path)
        children = demo.children()
        cmdlines = [" ".join(p.cmdline()) for p in children]
        assert any("firmware_sim" in c and first["url"] in c for c in cmdlines), cmdlines
        assert any("mosquitto" in c and first["data"] in c for c in cmdlines), cmdlines
        assert processes_mentioning("firmware_sim", first["url"]), "the leftover check below would see it"
        assert processes_mentioning(first["data"]), "the leftover check below would see the broker"
        assert first["hue"], "the example venue's demo includes an emulated Hue bridge"
        assert any("firmware_sim.hue_cli" in c for c in cmdlines), cmdlines

        code = demo.wait(45)
        out, err = demo.stdout, demo.stderr

    assert code == 0, demo.describe()
    assert "Traceback" not in err, err
    assert "\x1b[" not in out, "no terminal control codes when stdout is not a terminal"
    story = [line for line in lines(out) if line.startswith("[")]
    assert len(story) == len(EVENING_STORY), story
    for line, expected in zip(story, EVENING_STORY, strict=True):
        assert line.startswith(expected), (line, expected)
    events = lines(out)
    activated = [line for line in events if line.startswith("  profile_activated: ")]
    assert any('"community_id":"book-club"' in line for line in activated), activated
    assert any('"community_id":"spicy-tech-gossip"' in line for line in activated), activated
    clamped = [line for line in events if line.startswith("  limit_clamped: ")]
    assert any('"field":"audio.volume"' in line and '"applied":70' in line for line in clamped), clamped
    assert any(line.startswith("  input_rejected: ") and "chess-club" in line for line in events)
    # The Hue lights are part of the room: online through the bridge, with no bridge errors.
    assert any(line.startswith('  device_online: {"device_id":"lounge-hue-1","via":"hue"}') for line in events)
    assert not [line for line in events if line.startswith("  bridge_error: ")]
    assert events[-1] == "ambience demo stopped: broker, devices and service are down."
    assert_nothing_left(demo, first["url"], first["data"], first["hue"])


def test_demo_with_the_embedded_broker_takes_checkins_from_outside(tmp_path: Path) -> None:
    args = ["demo", "--port", str(free_port()), "--no-mosquitto", "--scenario", "none", "--duration", "5"]
    with started("controller", args, tmp_path, "demo", env=cli_env(tmpdir=tmp_path)) as demo:
        first = wait_for_first_line(demo)
        assert first["broker"] == "embedded amqtt"
        assert first["speed"] == "1"
        children = demo.children()
        assert [p for p in children if "mosquitto" in p.name()] == []
        assert any("firmware_sim" in " ".join(p.cmdline()) for p in children)

        wait_for_house(demo)
        # A kiosk as venues run it: connected for good. (One that disconnects right after its PUBACKs can lose
        # check-ins on this broker: see the xfail below.)
        kiosk = Kiosk(first["url"], first["venue"])
        try:
            kiosk.checkin(f"e2e-{uuid.uuid4().hex[:6]}", "book-club")
            kiosk.checkin(f"e2e-{uuid.uuid4().hex[:6]}", "book-club")
            wait_until_sync(lambda: demo.stdout.count("  checkin: ") == 2, 3, "both check-ins in the output", demo)
        finally:
            kiosk.close()

        code = demo.wait(20)
        out = demo.stdout

    assert code == 0, demo.describe()
    assert [line for line in lines(out) if line.startswith("[")] == [], "no scripted story with --scenario none"
    assert sum(line.startswith("  checkin: ") for line in lines(out)) == 2, out
    assert any(
        line.startswith("  profile_activated: ") and '"community_id":"book-club"' in line for line in lines(out)
    ), out
    assert lines(out)[-1] == "ambience demo stopped: broker, devices and service are down."
    assert_nothing_left(demo, first["url"], first["data"])


@pytest.mark.xfail(
    strict=True,
    reason="BUG: the embedded broker (amqtt 0.12.1) iterates Broker._subscriptions across awaits while a client "
    "connects; a subscribe from another client meanwhile raises 'RuntimeError: dictionary changed size during "
    "iteration' and the demo prints that traceback (seen in about 1 of 4 plain `demo --no-mosquitto` runs)",
)
def test_demo_embedded_broker_survives_clients_subscribing_while_others_connect(tmp_path: Path) -> None:
    args = ["demo", "--port", str(free_port()), "--no-mosquitto", "--scenario", "none", "--duration", "30"]
    with started("controller", args, tmp_path, "demo", env=cli_env(tmpdir=tmp_path)) as demo:
        first = wait_for_first_line(demo)
        wait_for_house(demo)
        port = int(first["port"])
        tag = uuid.uuid4().hex[:6]
        clients: list[mqtt.Client] = []
        try:
            publisher = _client(port, f"pub-{tag}", clients)
            for i in range(200):  # retained messages make the broker await per topic while a client connects
                publisher.publish(f"e2e-{tag}/t/{i}", "x", qos=1, retain=True)
            time.sleep(0.5)
            subscriber = _client(port, f"sub-{tag}", clients)

            def subscribe_many() -> None:
                for i in range(200):
                    subscriber.subscribe(f"e2e-{tag}/t/{i}", 0)
                    time.sleep(0.002)

            thread = threading.Thread(target=subscribe_many)
            thread.start()
            for k in range(10):
                _client(port, f"c{k}-{tag}", clients)
                time.sleep(0.02)
            thread.join(10)
            time.sleep(0.5)
        finally:
            for client in clients:
                client.disconnect()
                client.loop_stop()
        code = demo.stop(signal.SIGINT, timeout=10)

    assert code == 0, demo.describe()
    assert "Traceback" not in demo.stderr, demo.stderr[-1500:]


LOSES_CHECKINS = pytest.mark.xfail(
    strict=True,
    reason="BUG: the embedded broker (amqtt 0.12.1) sends PUBACK when a QoS 1 publish is queued, and drops what "
    "is still queued when the client then disconnects: kiosks that publish and disconnect (as `mosquitto_pub -q 1`, "
    "which the demo suggests, does) lose acknowledged check-ins; Mosquitto loses none",
)


@pytest.mark.parametrize(
    "broker_args",
    [pytest.param([], id="mosquitto"), pytest.param(["--no-mosquitto"], id="embedded", marks=LOSES_CHECKINS)],
)
def test_demo_does_not_lose_acknowledged_checkins(tmp_path: Path, broker_args: list[str]) -> None:
    if not broker_args:
        require_mosquitto()
    args = ["demo", "--port", str(free_port()), *broker_args, "--scenario", "none", "--duration", "30"]
    with started("controller", args, tmp_path, "demo", env=cli_env(tmpdir=tmp_path)) as demo:
        first = wait_for_first_line(demo)
        wait_for_house(demo)
        sent: list[str] = []
        for k in range(20):  # like `mosquitto_pub -q 1` twice per kiosk: connect, publish, PUBACK, disconnect
            kiosk = Kiosk(first["url"], first["venue"])
            try:
                for n in range(2):
                    member = f"k{k}-{n}-{uuid.uuid4().hex[:4]}"
                    kiosk.checkin(member, "book-club")  # returns once the broker has acknowledged it
                    sent.append(member)
            finally:
                kiosk.close()

        def recorded() -> set[str]:
            return set(re.findall(r'^  checkin: \{"member_id":"([^"]+)"', demo.stdout, re.MULTILINE))

        with contextlib.suppress(AssertionError):
            wait_until_sync(lambda: set(sent) <= recorded(), 2, "every acknowledged check-in", demo)
        lost = [m for m in sent if m not in recorded()]
        assert demo.stop(signal.SIGINT, timeout=10) == 0, demo.describe()

    assert lost == [], f"{len(lost)} of {len(sent)} acknowledged check-ins never reached the service"


def _client(port: int, client_id: str, clients: list[mqtt.Client]) -> mqtt.Client:
    client = mqtt.Client(CallbackAPIVersion.VERSION2, client_id=client_id)
    client.connect("127.0.0.1", port)
    client.loop_start()
    clients.append(client)
    return client
