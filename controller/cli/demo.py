"""`ambience demo`: a whole simulated venue on one machine, live in the terminal.

It starts a broker (Mosquitto when installed, else the embedded amqtt broker), the venue's simulated devices as
their own process (`python -m firmware_sim`: the other side of the wire shares no code with us), and the service
in this process. The evening scenario then plays kiosk check-ins over MQTT exactly as a real kiosk would.

Venue time runs `speed` times faster than real time (60 by default for the scripted evening: a minute a second),
so phases and expiry happen while you watch; the event record carries venue time.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import logging
import os
import secrets
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import paho.mqtt.client as mqtt
from paho.mqtt.enums import CallbackAPIVersion

from controller.cli.broker import EmbeddedBroker, MosquittoBroker, die_with_parent, find_mosquitto, free_port
from controller.cli.demo_view import render
from controller.cli.http_plugin import HttpServer, http_server, port_problem
from controller.cli.logs import set_venue
from controller.shell.bus import BrokerAddress
from controller.shell.service import Service
from profiles.loader import load_profile, load_venue
from profiles.venue import DeviceConfig, HueBridge, VenueConfig

EXAMPLES = Path(__file__).resolve().parents[2] / "examples"
DEMO_HUE_ENV = "AMBIENCE_DEMO_HUE_USERNAME"


class VenueClock:
    """Venue time: starts now and runs `speed` times faster than the wall clock."""

    def __init__(self, speed: float) -> None:
        self.speed = speed
        self._t0 = time.monotonic()
        self._start = datetime.now(UTC)

    def __call__(self) -> datetime:
        return self._start + timedelta(seconds=(time.monotonic() - self._t0) * self.speed)

    def real_seconds(self, venue_minutes: float) -> float:
        return venue_minutes * 60.0 / self.speed


@dataclass(frozen=True)
class Step:
    minute: float  # venue minutes after the doors open
    say: str
    topic: str  # "checkin", "checkout" or "profile"
    payloads: tuple[dict[str, Any], ...]


def evening(venue_id: str) -> list[Step]:
    """Two communities arrive, one grows past the other, an organiser turns it up, a phase begins, all leave."""
    bc = "book-club"
    stg = "spicy-tech-gossip"
    spicy = load_profile(EXAMPLES / "profiles" / f"{stg}.yaml").model_dump(mode="json", exclude_none=True)
    louder = {**spicy, "audio": {**spicy.get("audio", {}), "volume": 85}}

    def members(community: str, *ids: str) -> tuple[dict[str, Any], ...]:
        return tuple({"member_id": i, "community_id": community} for i in ids)

    return [
        Step(
            1,
            "two book-club members arrive: quorum reached, the room turns to reading light",
            "checkin",
            members(bc, "ana", "ben"),
        ),
        Step(
            5,
            "one spicy-tech-gossip member arrives: below their quorum of 2, nothing changes",
            "checkin",
            members(stg, "sam"),
        ),
        Step(
            7,
            "a kiosk scans a card for a community this venue does not know: rejected",
            "checkin",
            ({"member_id": "zed", "community_id": "chess-club"},),
        ),
        Step(
            9,
            "two more spicy-tech-gossip members: 3 > 2, they take over the room",
            "checkin",
            members(stg, "sia", "raj"),
        ),
        Step(
            15,
            "their organiser turns the volume to 85 from the hub: the venue caps it at 70",
            "profile",
            (louder,),
        ),
        Step(
            20,
            "the gossip draws a crowd: 6 more arrive, occupancy rules adjust volume and heat",
            "checkin",
            members(stg, "lu", "mo", "kim", "tao", "eve", "ira"),
        ),
        Step(55, "45 minutes in: the spicy-tech-gossip 'wind-down' phase dims the room", "checkin", ()),
        Step(
            70,
            "closing time: everyone checks out, the house profile returns",
            "checkout",
            tuple(
                {"member_id": m} for m in ("ana", "ben", "sam", "sia", "raj", "lu", "mo", "kim", "tao", "eve", "ira")
            ),
        ),
    ]


class Kiosk:
    """A kiosk as venues have them: its own MQTT client publishing check-ins with QoS 1."""

    def __init__(self, url: str, venue_id: str) -> None:
        address = BrokerAddress.parse(url)
        self.venue_id = venue_id
        self.client = mqtt.Client(
            CallbackAPIVersion.VERSION2, client_id=f"demo-kiosk-{venue_id}", protocol=mqtt.MQTTv311
        )
        self.client.connect(address.host, address.port)
        self.client.loop_start()

    def publish(self, step: Step) -> None:
        for payload in step.payloads:
            if step.topic == "profile":
                topic = f"ambience/profiles/{payload['community_id']}"
                self.client.publish(topic, json.dumps(payload), qos=1, retain=True)
            else:
                self.client.publish(f"ambience/{self.venue_id}/{step.topic}", json.dumps(payload), qos=1)

    def close(self) -> None:
        self.client.disconnect()
        self.client.loop_stop()


def _wait_for_devices(url: str, venue: VenueConfig, timeout_s: float, abort: threading.Event) -> int:
    """Block until every simulated device has said `online` (or the timeout); returns how many did.

    The service then starts in a room that is there, and on the embedded broker no subscribe races the devices'
    connects (amqtt 0.12 can fail a session when a subscribe and a connect interleave).
    """
    address = BrokerAddress.parse(url)
    base = venue.mqtt.base_topic
    wanted = {f"{base}/{d.topic}/availability" for d in venue.devices if d.driver == "mqtt" and d.topic}
    seen: set[str] = set()
    done = threading.Event()

    def on_message(_c: Any, _u: Any, msg: mqtt.MQTTMessage) -> None:
        if b"online" in msg.payload:
            seen.add(msg.topic)
        if wanted <= seen:
            done.set()

    client = mqtt.Client(CallbackAPIVersion.VERSION2, client_id=f"demo-wait-{venue.venue.id}", protocol=mqtt.MQTTv311)
    client.on_message = on_message
    client.on_connect = lambda c, *a: c.subscribe([(t, 0) for t in sorted(wanted)])
    client.connect(address.host, address.port)
    client.loop_start()
    deadline = time.monotonic() + timeout_s
    try:
        while not done.wait(0.1) and not abort.is_set() and time.monotonic() < deadline:
            pass
    finally:
        client.disconnect()
        client.loop_stop()
    return len(seen & wanted)


def _demo_venue(config: Path, broker_url: str, data_dir: Path, hue: DemoHue | None = None) -> VenueConfig:
    venue = load_venue(config)
    update: dict[str, Any] = {
        "mqtt": venue.mqtt.model_copy(update={"url": broker_url}),
        "store": venue.store.model_copy(update={"path": str(data_dir / "ambience.db")}),
    }
    if hue is not None:
        update["hue_bridges"] = {"demo-hue": HueBridge(host=hue.address, username_env=DEMO_HUE_ENV, poll_interval_s=1)}
        update["devices"] = [
            *venue.devices,
            *(
                DeviceConfig(
                    id=f"lounge-hue-{n}", kind="light", zone="lounge", driver="hue", bridge="demo-hue", light=n
                )
                for n in (1, 2)
            ),
        ]
    return venue.model_copy(update=update)


@dataclass
class DemoHue:
    """An emulated Hue bridge with two lounge lights, in its own process like the MQTT devices."""

    process: subprocess.Popen[bytes]
    address: str
    username: str

    @classmethod
    def start(cls) -> DemoHue:
        port, username = free_port(), secrets.token_hex(20)
        process = subprocess.Popen(
            [
                sys.executable,
                "-m",
                "firmware_sim.hue_cli",
                "--port",
                str(port),
                "--lights",
                "2",
                "--group",
                "Lounge=1,2",
                "--username",
                username,
                "--enforce-rate-limit",
                "--log-level",
                "error",
            ],
            stdout=subprocess.DEVNULL,
            start_new_session=True,
            preexec_fn=die_with_parent,  # noqa: PLW1509 - one prctl call; a killed demo leaves no emulator
        )
        return cls(process, f"127.0.0.1:{port}", username)

    def wait_listening(self, timeout_s: float) -> bool:
        host, port = self.address.rsplit(":", 1)
        deadline = time.monotonic() + timeout_s
        while time.monotonic() < deadline and self.process.poll() is None:
            with contextlib.suppress(OSError), socket.create_connection((host, int(port)), timeout=0.5):
                return True
            time.sleep(0.05)
        return False

    def stop(self) -> None:
        if self.process.poll() is None:
            self.process.send_signal(signal.SIGTERM)
            try:
                self.process.wait(5)
            except subprocess.TimeoutExpired:
                self.process.kill()


async def _play(steps: list[Step], clock: VenueClock, kiosk: Kiosk, narrate: Callable[[str], None]) -> None:
    t0 = time.monotonic()
    for step in steps:
        delay = t0 + clock.real_seconds(step.minute) - time.monotonic()
        if delay > 0:
            await asyncio.sleep(delay)
        narrate(f"[{step.minute:>3.0f} min] {step.say}")
        kiosk.publish(step)
    narrate("the scripted evening is over; the venue keeps running (Ctrl-C to stop)")


async def _demo(args: argparse.Namespace) -> int:
    config = args.config or EXAMPLES / "venue.yaml"
    load_venue(config)  # a bad config is reported (exit 1) before anything starts
    speed = args.speed or (60.0 if args.scenario == "evening" else 1.0)
    server = http_server()
    if problem := port_problem("127.0.0.1", args.port):
        print(f"error: --port: {problem}", file=sys.stderr)
        return 1
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGINT, signal.SIGTERM):  # first: Ctrl-C at any moment from here stops everything cleanly
        loop.add_signal_handler(sig, stop.set)
    if args.duration:
        loop.call_later(args.duration, stop.set)
    data_dir = Path(tempfile.mkdtemp(prefix="ambience-demo-"))
    broker: MosquittoBroker | EmbeddedBroker | None = None
    sim: subprocess.Popen[bytes] | None = None
    hue: DemoHue | None = None
    try:
        if find_mosquitto() and not args.no_mosquitto:
            broker = MosquittoBroker(data_dir / "mosquitto")
            broker.start()
        else:
            broker = EmbeddedBroker()
            await broker.start()
        if not load_venue(config).hue_bridges:  # the example venue: show the Hue driver beside MQTT
            hue = DemoHue.start()
            if not await asyncio.to_thread(hue.wait_listening, 10.0):
                print("warning: the emulated Hue bridge did not start; the demo goes on without it", file=sys.stderr)
                hue.stop()
                hue = None
        venue = _demo_venue(config, broker.url, data_dir, hue)
        set_venue(venue.venue.id)
        sim = subprocess.Popen(  # noqa: ASYNC220 - started once, before the loop has anything to do
            [
                sys.executable,
                "-m",
                "firmware_sim",
                "--config",
                str(config),
                "--url",
                broker.url,
                "--log-level",
                "error",
                "--zone-groups",  # a Zigbee2MQTT group per zone: its lights get one command, not one each
            ],
            stdout=subprocess.DEVNULL,
            start_new_session=True,
            preexec_fn=die_with_parent,  # noqa: PLW1509 - one prctl call; a killed demo leaves no simulator
        )
        abort = threading.Event()
        online = asyncio.create_task(asyncio.to_thread(_wait_for_devices, broker.url, venue, 15.0, abort))
        stopping = asyncio.create_task(stop.wait())
        await asyncio.wait({online, stopping}, return_when=asyncio.FIRST_COMPLETED)
        stopping.cancel()
        abort.set()
        if stop.is_set():
            return 0
        env = {**os.environ, DEMO_HUE_ENV: hue.username} if hue is not None else None
        await _show(args, venue, broker, online.result(), speed, data_dir, server, stop, env)
    finally:
        if hue is not None:
            await asyncio.to_thread(hue.stop)
        if sim is not None and sim.poll() is None:
            sim.send_signal(signal.SIGTERM)
            try:
                await asyncio.to_thread(sim.wait, 10)
            except subprocess.TimeoutExpired:
                sim.kill()
        if isinstance(broker, MosquittoBroker):
            broker.stop()
        elif broker is not None:
            await broker.stop()
        shutil.rmtree(data_dir, ignore_errors=True)
        print("\nambience demo stopped: broker, devices and service are down.", flush=True)
    return 0


async def _show(
    args: argparse.Namespace,
    venue: VenueConfig,
    broker: MosquittoBroker | EmbeddedBroker,
    online: int,
    speed: float,
    data_dir: Path,
    server: HttpServer,
    stop: asyncio.Event,
    env: dict[str, str] | None = None,
) -> None:
    """The service, the API, the scenario and the live view, until `stop`."""
    tty = sys.stdout.isatty()
    if tty:  # log lines would tear the live view; what they say (rejections, ...) is in the record it shows
        logging.getLogger().setLevel(logging.ERROR)
    narration: list[str] = []

    def narrate(line: str) -> None:
        narration.append(line)
        if not tty:
            print(line, flush=True)

    broker_name = "mosquitto" if isinstance(broker, MosquittoBroker) else "embedded amqtt"
    mqtt_count = sum(1 for d in venue.devices if d.driver == "mqtt")
    hue_count = len(venue.devices) - mqtt_count
    bridges = ", ".join(b.host for b in venue.hue_bridges.values())
    hue_note = f" and {hue_count} Hue lights on an emulated bridge at {bridges}" if hue_count else ""
    print(
        f"ambience demo: venue {venue.venue.id} with {online}/{mqtt_count} simulated MQTT devices up on "
        f"{broker_name} at {broker.url}{hue_note}; record in {data_dir} (removed on exit); venue time x{speed:g}. "
        "Ctrl-C stops everything.",
        flush=True,
    )
    token = secrets.token_urlsafe(16)
    print(f"dashboard: http://127.0.0.1:{args.port}/   admin token: {token}", flush=True)
    print(
        "kiosk check-in from another terminal: mosquitto_pub -p "
        f"{broker.url.rsplit(':', 1)[1]} -t ambience/{venue.venue.id}/checkin -q 1 "
        '-m \'{"member_id":"you","community_id":"book-club"}\'',
        flush=True,
    )
    clock = VenueClock(speed)
    service = Service(venue, clock=clock, env=env)
    kiosk: Kiosk | None = None
    async with service:
        halt = asyncio.Event()  # Ctrl-C, --duration, or the service failing
        watcher = asyncio.create_task(service.wait(stop))
        watcher.add_done_callback(lambda _: halt.set())
        tasks: list[asyncio.Task[None]] = []
        api = asyncio.create_task(server(service, "127.0.0.1", args.port, token, halt))
        kiosk = await asyncio.to_thread(Kiosk, broker.url, venue.venue.id)
        try:
            if args.scenario == "evening":
                tasks.append(asyncio.create_task(_play(evening(venue.venue.id), clock, kiosk, narrate)))
            last_event = 0
            while True:
                if tty:
                    sys.stdout.write(render(service, clock(), speed, narration[-3:]))
                    sys.stdout.flush()
                else:
                    last_event = await _print_events(service, last_event)
                if halt.is_set():
                    break
                with contextlib.suppress(TimeoutError):
                    async with asyncio.timeout(0.5):  # not wait_for: on 3.11 it can lose a cancel
                        await halt.wait()
        finally:
            for task in tasks:
                task.cancel()
            await asyncio.gather(*tasks, return_exceptions=True)
            halt.set()
            await api  # it stops by itself once `halt` is set: open dashboards are closed in order
            watcher.cancel()
            kiosk.close()
    if service.failure is not None:
        print(f"error: {service.failure}", file=sys.stderr)


async def _print_events(service: Service, since: int) -> int:
    """Non-terminal output: every event but the chatty ones, one line each; returns the last id printed."""
    if service.record is None:
        return since
    await asyncio.to_thread(service.record.flush, 2.0)
    for event in service.record.read(since, None, 1000):
        since = event.id
        if event.type not in ("device_state", "command_sent"):
            print(f"  {event.type}: {json.dumps(event.payload, separators=(',', ':'))}", flush=True)
    return since


def run_demo(args: argparse.Namespace) -> int:
    try:
        return asyncio.run(_demo(args))
    except KeyboardInterrupt:
        return 0
