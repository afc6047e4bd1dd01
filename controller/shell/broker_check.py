"""Does the broker keep what it acknowledges? `ambience run` asks at every (re)connect and warns when it does not.

A broker without working persistence acknowledges QoS 1 check-ins and retained state, then loses them at its next
restart. The usual way there: Mosquitto started as root drops to its `mosquitto` user, cannot write a persistence
directory that user does not own, logs `Error: Permission denied.` and carries on.

No broker says so: Mosquitto's `$SYS` tree (mosquitto(8), "BROKER STATUS"; 2.0.11 publishes its version, uptime
and client, message, load, store and heap counters) has no persistence setting, and nothing a client sees during one
broker lifetime depends on it. What depends on it is what survives a restart, so that is what is checked. Each check
leaves a retained marker on `ambience/<venue>/broker-check` (when it was written, and the broker's uptime then) and
remembers, in a file next to the store, which broker it left it on. The next check reads the marker before it writes
a new one:

- the marker is there, and the broker has restarted since (its `$SYS/broker/uptime` is now lower than the marker's,
  or the marker is older than the broker's start): it survived a restart, persistence works (`KEPT`);
- it is gone, though this store left one on this broker: the broker lost a retained message, it keeps no
  persistence (`LOST`, the one warning);
- otherwise (the first check against this broker, or no restart proven since the last one): `UNKNOWN`.

Limits: a loss is seen after it happened, at the first check after the broker's restart, never on a broker's first
run (docs/raspberry-pi.md has the check to run once by hand); a broker replaced at the same address (reinstalled,
its database deleted) or someone clearing the marker reads as a loss; a broker without `$SYS` can say `LOST`, never
`KEPT`; and as `$SYS` is republished only every sys_interval (10 s by default), a restart soon after the marker
was written, on a broker that had been up for less than that, is not proven (`UNKNOWN`). The check never holds up
the service: it runs beside it, in a thread, for at most `PROBE_TIMEOUT_S`.
"""

from __future__ import annotations

import asyncio
import contextlib
import enum
import json
import logging
import os
import re
import ssl
import threading
import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import paho.mqtt.client as mqtt

from controller.core.topics import Topics
from controller.shell.bus import BrokerAddress, short_client
from profiles.venue import VenueConfig

log = logging.getLogger(__name__)

UPTIME_TOPIC = "$SYS/broker/uptime"
PROBE_TIMEOUT_S = 2.0
SYS_STALE_S = 15.0
"""How old a `$SYS/broker/uptime` can be when it arrives (Mosquitto republishes it every sys_interval, 10 s by
default), with a margin: a marker must be older than the broker's start by this much to prove a restart."""
POLL_S = 0.25
FIX = (
    "persistence true, with persistence_location a directory the broker's own user owns (Debian: /var/lib/mosquitto/, "
    "owned by mosquitto, as deploy/mosquitto/ambience.conf expects; docs/raspberry-pi.md, step 4)"
)
_UPTIME = re.compile(rb"\s*(\d+)\s*(?:seconds?)?\s*")


class Verdict(enum.Enum):
    KEPT = "kept"  # a retained message survived a restart of the broker
    LOST = "lost"  # the broker lost a retained message: no persistence
    UNKNOWN = "unknown"  # nothing proven either way yet


@dataclass(frozen=True, slots=True)
class Marker:
    """The retained marker: when it was written (wall clock, seconds) and the broker's uptime then, if known."""

    written_at: float
    uptime_s: float | None = None

    def payload(self) -> str:
        return json.dumps({"written_at": self.written_at, "uptime_s": self.uptime_s})


@dataclass(frozen=True, slots=True)
class Observation:
    """What one probe found, before it left its own marker."""

    marker: Marker | None  # the retained marker on the broker, None if there is none
    uptime_s: float | None  # `$SYS/broker/uptime`, None if the broker publishes none
    at: float  # when it looked (wall clock)


@dataclass(frozen=True, slots=True)
class Memory:
    """Which broker (host:port) the last check left its marker on, and when."""

    broker: str
    written_at: float


@dataclass(frozen=True, slots=True)
class ProbeResult:
    seen: Observation
    left_at: float | None  # when the new marker was written, None if the broker did not take it (an ACL)


def parse_uptime(payload: bytes) -> float | None:
    """Mosquitto's `12345 seconds` (or a bare number, as other brokers write it)."""
    match = _UPTIME.fullmatch(payload)
    return float(match.group(1)) if match else None


def _as_real(value: object) -> float | None:
    return float(value) if isinstance(value, int | float) and not isinstance(value, bool) else None


def parse_marker(payload: bytes) -> Marker | None:
    """The marker; None for anything else (an empty payload clears a retained message)."""
    try:
        data = json.loads(payload)
    except ValueError:
        return None
    if not isinstance(data, dict) or (written_at := _as_real(data.get("written_at"))) is None:
        return None
    return Marker(written_at, _as_real(data.get("uptime_s")))


def judge(seen: Observation, memory: Memory | None, broker: str) -> Verdict:
    """The verdict on one broker from what the probe saw and what the last check left there.

    Within one broker lifetime its reported uptime never goes down, and it started no later than `at - uptime`
    (the uptime read may be up to sys_interval old, hence the margin): either proves a restart since the marker."""
    found, uptime = seen.marker, seen.uptime_s
    if found is None:
        return Verdict.LOST if memory is not None and memory.broker == broker else Verdict.UNKNOWN
    if uptime is not None and (
        (found.uptime_s is not None and uptime < found.uptime_s) or found.written_at < seen.at - uptime - SYS_STALE_S
    ):
        return Verdict.KEPT
    return Verdict.UNKNOWN


def memory_path(venue: VenueConfig) -> Path:
    """Beside the store, like SQLite's own -wal file: the one folder `ambience run` is sure it may write."""
    store = Path(venue.store.path)
    return store.with_name(f"{store.name}.broker-check")


def read_memory(path: Path) -> Memory | None:
    try:
        data = json.loads(path.read_text())
        return Memory(str(data["broker"]), float(data["written_at"]))
    except (OSError, ValueError, TypeError, KeyError):
        return None


def write_memory(path: Path, memory: Memory) -> None:
    """Replaced whole, so a crash leaves the old memory or the new one, never half of one."""
    partial = path.with_name(f"{path.name}.tmp")
    partial.write_text(json.dumps({"broker": memory.broker, "written_at": memory.written_at}))
    os.replace(partial, path)


class _Probe:
    """One short MQTT 3.1.1 session, driven from the caller's thread: subscribe to the marker and the uptime, then to
    a topic nobody uses, then publish a new marker. The broker sends a subscription's retained messages before it
    reads our next packet, so the retained marker and uptime have arrived when the second SUBACK does, and our own
    marker comes back (live, without the retain flag) after them."""

    def __init__(self, address: BrokerAddress, topic: str, username: str | None, password: str | None) -> None:
        self.topic = topic
        self.failed = False
        self.previous: Marker | None = None
        self.uptime: float | None = None
        self.left_at: float | None = None
        self.echoed = False
        self.published = False
        self._barrier: int | None = None
        client = short_client(address, f"ambience-check-{uuid.uuid4().hex[:12]}", username, password)
        client.on_connect = self._connected
        client.on_subscribe = self._subscribed
        client.on_message = self._message
        client.on_publish = lambda *_: setattr(self, "published", True)
        client.on_disconnect = self._disconnected
        self.client = client

    def _connected(self, client: mqtt.Client, _u: Any, _f: Any, reason: Any, _p: Any) -> None:
        if reason.is_failure:
            self.failed = True
            return
        client.subscribe([(self.topic, 1), (UPTIME_TOPIC, 0)])
        self._barrier = client.subscribe(f"{self.topic}/none", 0)[1]

    def _subscribed(self, client: mqtt.Client, _u: Any, mid: int, *_: Any) -> None:
        if mid != self._barrier:
            return
        self.left_at = time.time()
        client.publish(self.topic, Marker(self.left_at, self.uptime).payload(), qos=1, retain=True)

    def _disconnected(self, *_: Any) -> None:
        if not self.done:  # dropped before it was done (our own disconnect comes after)
            self.failed = True

    def _message(self, _c: mqtt.Client, _u: Any, msg: mqtt.MQTTMessage) -> None:
        if msg.topic == UPTIME_TOPIC:
            self.uptime = parse_uptime(bytes(msg.payload))
        elif msg.topic == self.topic and msg.retain:
            self.previous = parse_marker(bytes(msg.payload))
        elif msg.topic == self.topic:
            self.echoed = True

    @property
    def done(self) -> bool:
        return self.failed or (self.published and self.echoed)


def probe(
    address: BrokerAddress,
    topic: str,
    *,
    username: str | None = None,
    password: str | None = None,
    timeout_s: float = PROBE_TIMEOUT_S,
    abandon: threading.Event | None = None,
) -> ProbeResult | None:
    """Ask the broker (blocking, at most `timeout_s`); None if it could not be asked."""
    deadline = time.monotonic() + timeout_s
    session = _Probe(address, topic, username, password)
    client = session.client
    client.connect_timeout = timeout_s
    at = time.time()
    try:
        client.connect(address.host, address.port, keepalive=max(5, round(timeout_s * 2)))
        while not session.done and time.monotonic() < deadline and not (abandon is not None and abandon.is_set()):
            client.loop(timeout=0.05)
    except (OSError, ssl.SSLError, ValueError) as exc:
        log.debug("broker check: %s:%s not reachable: %s", address.host, address.port, exc)
        return None
    finally:
        with contextlib.suppress(Exception):
            client.disconnect()
    if session.failed or not session.published:
        return None
    seen = Observation(session.previous, session.uptime, at)
    return ProbeResult(seen, session.left_at if session.echoed else None)


async def check(venue: VenueConfig, memory_file: Path, *, timeout_s: float = PROBE_TIMEOUT_S) -> Verdict | None:
    """Probe the venue's broker off the event loop, judge, remember, log; None if the broker could not be asked."""
    address = BrokerAddress.parse(venue.mqtt.url)
    broker = f"{address.host}:{address.port}"
    password = os.environ.get(venue.mqtt.password_env) if venue.mqtt.password_env else None
    abandon = threading.Event()
    try:
        result = await asyncio.to_thread(
            probe,
            address,
            Topics.of(venue.venue.id).broker_check,
            username=venue.mqtt.username,
            password=password,
            timeout_s=timeout_s,
            abandon=abandon,
        )
    except asyncio.CancelledError:
        abandon.set()  # the thread ends within one loop step
        raise
    if result is None:
        log.debug("broker check: could not ask %s", broker)
        return None
    memory = await asyncio.to_thread(read_memory, memory_file)
    verdict = judge(result.seen, memory, broker)
    if result.left_at is not None:
        with contextlib.suppress(OSError):  # then the next check knows less, nothing worse
            await asyncio.to_thread(write_memory, memory_file, Memory(broker, result.left_at))
    _report(verdict, broker, memory)
    return verdict


def _report(verdict: Verdict, broker: str, memory: Memory | None) -> None:
    if verdict is Verdict.LOST:
        assert memory is not None
        left = datetime.fromtimestamp(memory.written_at, UTC).isoformat(timespec="seconds")
        log.warning(
            "the MQTT broker at %s keeps no persistence: it lost the retained marker this controller left there at "
            "%s, so a restart also loses the check-ins it acknowledged and the retained state; fix: %s",
            broker,
            left,
            FIX,
        )
    elif verdict is Verdict.KEPT:
        log.info("the MQTT broker at %s kept a retained message across its restart: its persistence works", broker)
    else:
        log.info(
            "whether the MQTT broker at %s keeps its messages across a restart is not known yet: a retained marker "
            "left there is looked for after its next restart",
            broker,
        )


async def watch(venue: VenueConfig, connected: Callable[[], bool], *, poll_s: float = POLL_S) -> None:
    """Check at every (re)connect of the service's own connection: a broker that restarts while the controller runs
    is judged as soon as the controller is back on it. Runs until cancelled."""
    memory_file = memory_path(venue)
    was_connected = False
    while True:
        now_connected = connected()
        if now_connected and not was_connected:
            try:
                await check(venue, memory_file)
            except Exception as exc:  # the check is advice: it must never stop the venue
                log.info("broker check failed: %s", exc)
        was_connected = now_connected
        await asyncio.sleep(poll_s)
