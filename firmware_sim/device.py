"""The imperative shell of a simulated device: one paho client, its last will, its topics, its lock.

Message flow, with the seams where fault injection (`inject()`, see `faults.py`) acts:

    /set payload -> receive()  [a share of commands, or the next `drop_next(n)`, is lost here]
                 -> _apply()   firmware.apply(command, now), under the lock
                 -> _publish_state()  [with a report delay, handed to the `Timeline`, in order]
    manual_change() -> _apply()  (a person at the wall switch: same path, never dropped)
    tick()          -> firmware.advance(now); report if the firmware asks to
    stop()/start()  clean outage: `offline` published, DISCONNECT sent, no will
    drop_connection()  a dropped socket: the will fires, paho reconnects after its back-off
    go_offline()/come_back()  a power cut: the will fires, the client is gone (no back-off, no queued
                 commands: clean sessions), a fresh one connects when the power returns

Each device has its own client because each needs its own last will: the broker, not the simulator, must say
`offline` when a device dies.
"""

from __future__ import annotations

import functools
import json
import logging
import math
import random
import socket
import threading
import time
import uuid
from collections.abc import Callable, Mapping
from typing import Any, Generic, TypeVar

import paho.mqtt.client as mqtt
from paho.mqtt.client import ConnectFlags, DisconnectFlags, MQTTMessage, MQTTMessageInfo
from paho.mqtt.enums import CallbackAPIVersion
from paho.mqtt.properties import Properties
from paho.mqtt.reasoncodes import ReasonCode

from firmware_sim.config import DEFAULT_BASE_TOPIC, BrokerAddress
from firmware_sim.faults import FaultPlan, FaultStats, Timeline, derived_seed
from firmware_sim.firmware import Firmware, Outcome
from firmware_sim.light import LightFirmware, LightOutput

log = logging.getLogger(__name__)

F = TypeVar("F", bound=Firmware)

ONLINE = json.dumps({"state": "online"})
OFFLINE = json.dumps({"state": "offline"})
QOS = 1


class SimDevice(Generic[F]):
    """One simulated Zigbee2MQTT device on the broker.

    `state` and `firmware` are safe to read from any thread: the firmware is an immutable value that is swapped
    whole under the lock, and every state message is published under the same lock, so the retained state on
    the broker is always the newest one.
    """

    def __init__(
        self,
        device_id: str,
        topic: str,
        firmware: F,
        broker: BrokerAddress,
        *,
        base_topic: str = DEFAULT_BASE_TOPIC,
        keepalive_s: int = 30,
        reconnect_delay_s: tuple[int, int] = (1, 10),
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.id = device_id
        self.kind = firmware.KIND
        self.topic = topic
        self.state_topic = f"{base_topic}/{topic}"
        self.set_topic = f"{self.state_topic}/set"
        self.availability_topic = f"{self.state_topic}/availability"
        self.broker = broker
        self._keepalive_s = keepalive_s
        self._reconnect_delay_s = reconnect_delay_s
        self._clock = clock
        self._firmware: F = firmware
        self._lock = threading.RLock()
        self._connected = threading.Event()
        self._last_report: dict[str, Any] = {}
        self._last_report_at = -math.inf
        self._client: mqtt.Client | None = None
        self._stopping = False
        self._offline_info: MQTTMessageInfo | None = None
        self._warned_unreachable = False
        # Fault injection. `_life` orders start/stop/power cuts; paho callbacks never take it.
        self._life = threading.Lock()
        self._powered_off = False
        self._stats = FaultStats()
        self._timeline: Timeline | None = None
        self._owns_timeline = False
        self._drop_share = 0.0
        self._drop_rng = random.Random()
        self._drop_next = 0
        self._report_delay_s = 0.0
        self._late_until = -math.inf  # due time of the last delayed report: later ones queue behind it

    def __repr__(self) -> str:
        return f"<{type(self).__name__} {self.id} {self.kind} at {self.state_topic}>"

    # -- what tests and tools read ------------------------------------------------------------------------

    @property
    def firmware(self) -> F:
        """The current firmware state (immutable)."""
        return self._firmware

    @property
    def state(self) -> dict[str, Any]:
        """The state message the device would publish now (a fresh dict)."""
        return self._firmware.report(self._clock())

    @property
    def connected(self) -> bool:
        return self._connected.is_set()

    def wait_connected(self, timeout: float) -> bool:
        return self._connected.wait(timeout)

    @property
    def offline(self) -> bool:
        """True between `go_offline()` and `come_back()` (a power cut, not a broker outage)."""
        return self._powered_off

    @property
    def fault_stats(self) -> FaultStats:
        """What was injected into this device (the venue's shared stats once the venue injected a plan)."""
        return self._stats

    # -- fault injection ------------------------------------------------------------------------------------

    def inject(
        self,
        *,
        drop_share: float = 0.0,
        report_delay_s: float = 0.0,
        seed: int | None = None,
        stats: FaultStats | None = None,
        timeline: Timeline | None = None,
    ) -> None:
        """This device's own faults (the venue schedules outages and manual changes); may change while running.

        `seed` makes the drops reproducible per device, whatever order the network threads run in; `stats` and
        `timeline` are shared by a venue (by default the device has its own).
        """
        FaultPlan(drop_share=drop_share, report_delay_s=report_delay_s)  # checks the values, names the key
        with self._lock:
            self._drop_share = drop_share
            self._drop_rng = random.Random(derived_seed(seed, "drop", self.id))
            self._report_delay_s = report_delay_s
            if stats is not None:
                self._stats = stats
            if timeline is not None and timeline is not self._timeline:
                if self._owns_timeline and self._timeline is not None:
                    self._timeline.close()
                self._timeline, self._owns_timeline = timeline, False

    def drop_next(self, count: int = 1) -> None:
        """Lose the next `count` `/set` commands, whatever the drop share: a deterministic lost frame."""
        with self._lock:
            self._drop_next += count

    def go_offline(self, for_s: float | None = None) -> bool:
        """Cut the power: the socket closes without DISCONNECT, so the broker publishes the last will `offline`.

        The client is discarded (paho would reconnect after its back-off otherwise) and nothing addressed to the
        device arrives until it is back: sessions are clean, so no command is queued for it either. Pending late
        reports die with it. With `for_s`, it comes back by itself after that many seconds. False if the device
        was not running or already off.
        """
        with self._life:
            if self._stopping or self._client is None or self._powered_off:
                return False
            with self._lock:
                client, self._client = self._client, None
                self._powered_off = True
                self._connected.clear()
                self._cancel_late_reports()
            if for_s is not None:
                self._own_timeline().call_at(time.monotonic() + for_s, self.come_back, key=self._back_key)
        self._stats.record("outage", self.id, {"for_s": for_s})
        log.info("%s: power cut (fault injection)%s", self.id, "" if for_s is None else f" for {for_s:g}s")
        sock = client.socket()
        if isinstance(sock, socket.socket):
            try:
                sock.shutdown(socket.SHUT_RDWR)  # paho sees EOF at once; _on_disconnect then ends its thread
            except OSError as error:
                log.debug("%s: shutdown failed: %s", self.id, error)
                client.disconnect()
        else:
            client.disconnect()  # never connected, so no will registered: only stop its retries
        return True

    def come_back(self) -> bool:
        """Power returns: a fresh client connects and announces `online` and the state as it is now."""
        with self._life:
            if not self._powered_off or self._stopping:
                return False
            self._powered_off = False
            if self._timeline is not None:
                self._timeline.cancel(self._back_key)
            self._start_client()
        self._stats.record("back", self.id)
        log.info("%s: power back (fault injection)", self.id)
        return True

    # -- lifetime -------------------------------------------------------------------------------------------

    def start(self) -> None:
        """Connect in the background; paho retries forever with back-off. A stopped device may start again."""
        with self._life:
            if self._client is not None:
                return
            self._stopping = False
            self._powered_off = False
            self._start_client()

    def _start_client(self) -> None:
        """Call with `_life` held."""
        with self._lock:
            self._firmware = self._firmware.advance(self._clock())
        client = self._make_client()
        self._client = client
        client.connect_async(self.broker.host, self.broker.port, keepalive=self._keepalive_s)
        client.loop_start()

    def stop(self, timeout_s: float = 2.0) -> None:
        """Publish `offline` (waiting for the broker's ack), then disconnect cleanly so no will is sent."""
        self.begin_stop()
        self.end_stop(time.monotonic() + timeout_s)
        self.join()

    def begin_stop(self) -> None:
        """First of the three stop phases, split so a venue stops 200 devices in parallel, not in turn.

        Late reports still pending are dropped; a device that is off stays off (its will said so already)."""
        with self._life:
            self._stopping = True
            if self._timeline is not None:
                self._timeline.cancel(self._back_key)
            with self._lock:
                self._cancel_late_reports()
                if self._client is not None and self._connected.is_set():
                    self._offline_info = self._client.publish(self.availability_topic, OFFLINE, qos=QOS, retain=True)

    def end_stop(self, deadline: float) -> None:
        """Wait (until `deadline`, monotonic) for the broker to take `offline`, then send DISCONNECT."""
        info, self._offline_info = self._offline_info, None
        if info is not None:
            try:
                info.wait_for_publish(max(0.0, deadline - time.monotonic()))
            except (RuntimeError, ValueError) as error:
                log.warning("%s: offline not confirmed: %s", self.id, error)
        if self._client is not None:
            self._client.disconnect()

    def join(self) -> None:
        """Stop the network thread (it leaves any back-off wait within a second)."""
        with self._life, self._lock:
            client, self._client = self._client, None
        if client is not None:
            client.loop_stop()
        self._connected.clear()
        if self._owns_timeline and self._timeline is not None:
            self._timeline.close()

    def drop_connection(self) -> None:
        """Close the socket without DISCONNECT, as a power cut would: the broker sends the last will, then
        paho reconnects after its back-off and the device announces itself online again."""
        client = self._client
        sock = client.socket() if client is not None else None
        if isinstance(sock, socket.socket):
            try:
                sock.shutdown(socket.SHUT_RDWR)
            except OSError as error:
                log.debug("%s: shutdown failed: %s", self.id, error)

    # -- behaviour ------------------------------------------------------------------------------------------

    def receive(self, payload: bytes | bytearray) -> Outcome[F] | None:
        """A `/set` payload as it arrived; malformed ones are logged and ignored, the device carries on.

        A dropped one (fault injection) is lost before it is even parsed, as a frame that never arrived."""
        if self._take_drop():
            text = bytes(payload[:200]).decode("utf-8", "replace")
            log.info("%s: dropped /set (fault injection): %s", self.id, text)
            self._stats.record("dropped", self.id, {"payload": text})
            return None
        try:
            command = json.loads(payload)
        except ValueError:
            log.warning("%s: ignored /set, not JSON: %r", self.id, payload[:200])
            return None
        if not isinstance(command, dict):
            log.warning("%s: ignored /set, not a JSON object: %r", self.id, payload[:200])
            return None
        return self._apply(command, "command")

    def manual_change(self, fields: Mapping[str, Any]) -> Outcome[F]:
        """Change the state as a person at the device would (wall switch, knob) and report it."""
        return self._apply(fields, "manual change")

    def tick(self) -> None:
        """Let time pass: the firmware advances, and reports on its own when it says it should."""
        with self._lock:
            now = self._clock()
            self._firmware = self._firmware.advance(now)
            if self._connected.is_set() and self._firmware.wants_report(self._last_report, now - self._last_report_at):
                self._publish_state(now)

    def _apply(self, fields: Mapping[str, Any], source: str) -> Outcome[F]:
        with self._lock:
            now = self._clock()
            outcome = self._firmware.apply(fields, now)
            for error in outcome.rejected:
                log.warning("%s: ignored %s field %s", self.id, source, error)
            if outcome.accepted:
                log.debug("%s: %s %s", self.id, source, ", ".join(outcome.accepted))
                self._firmware = outcome.state
                self._publish_state(now)
            return outcome

    def _publish_state(self, now: float) -> None:
        """Publish the full state, retained. Call with the lock held; skipped while offline, because every
        (re)connect publishes the current state anyway.

        With a report delay the message goes to the timeline, keyed by device, so reports keep their order and
        the retained state ends as the newest; while late ones are pending, even an undelayed one queues."""
        report = self._firmware.report(now)
        self._last_report = report
        self._last_report_at = now
        client = self._client
        if client is None or not self._connected.is_set():
            return
        payload = json.dumps(report)
        wall = time.monotonic()
        if self._report_delay_s > 0 or wall < self._late_until:
            send = functools.partial(self._publish_late, client, payload)
            self._late_until = self._own_timeline().call_at(wall + self._report_delay_s, send, key=self._report_key)
            if self._report_delay_s > 0:
                self._stats.record("delayed", self.id, {"delay_s": self._report_delay_s})
        else:
            client.publish(self.state_topic, payload, qos=QOS, retain=True)

    def _publish_late(self, client: mqtt.Client, payload: str) -> None:
        """A delayed report's turn; dropped if the client that was meant to send it is gone (power cut) or the
        device is stopping (its `offline` is the last word)."""
        with self._lock:
            if client is self._client and self._connected.is_set() and not self._stopping:
                client.publish(self.state_topic, payload, qos=QOS, retain=True)

    def _take_drop(self) -> bool:
        with self._lock:
            if self._drop_next > 0:
                self._drop_next -= 1
                return True
            return self._drop_share > 0 and self._drop_rng.random() < self._drop_share

    def _cancel_late_reports(self) -> None:
        """Call with the lock held."""
        if self._timeline is not None:
            self._timeline.cancel(self._report_key)
        self._late_until = -math.inf

    def _own_timeline(self) -> Timeline:
        """The venue's timeline, or one of the device's own (its thread starts only when something is late)."""
        if self._timeline is None:
            self._timeline, self._owns_timeline = Timeline(f"fwsim-timeline-{self.id}"), True
        return self._timeline

    @property
    def _report_key(self) -> str:
        return f"{self.id}/report"

    @property
    def _back_key(self) -> str:
        return f"{self.id}/back"

    # -- paho -----------------------------------------------------------------------------------------------

    def _make_client(self) -> mqtt.Client:
        client = mqtt.Client(
            CallbackAPIVersion.VERSION2,
            client_id=f"fwsim-{self.topic}-{uuid.uuid4().hex[:8]}",
            protocol=mqtt.MQTTv311,
            clean_session=True,  # a device back from an outage gets no commands queued while it was away
        )
        client.will_set(self.availability_topic, OFFLINE, qos=QOS, retain=True)
        if self.broker.username is not None:
            client.username_pw_set(self.broker.username, self.broker.password)
        if self.broker.tls:
            client.tls_set()
        client.reconnect_delay_set(min_delay=self._reconnect_delay_s[0], max_delay=self._reconnect_delay_s[1])
        client.on_connect = self._on_connect
        client.on_disconnect = self._on_disconnect
        client.on_connect_fail = self._on_connect_fail
        client.message_callback_add(self.set_topic, self._on_set)
        return client

    def _on_connect(
        self,
        client: mqtt.Client,
        userdata: Any,
        flags: ConnectFlags,
        reason_code: ReasonCode,
        properties: Properties | None,
    ) -> None:
        if reason_code.is_failure:
            log.warning("%s: broker refused the connection: %s", self.id, reason_code)
            return
        with self._lock:
            if client is not self._client:  # the client of a device whose power was cut: it must not live on
                client.disconnect()
                return
            if self._stopping:
                return
            self._warned_unreachable = False
            # State messages queued while offline are stale now; the current state follows.
            drop_stale = getattr(client, "drop_out_messages", None)
            if drop_stale is not None:
                drop_stale()
            client.subscribe(self.set_topic, qos=QOS)
            self._connected.set()
            self._publish_state(self._clock())
            client.publish(self.availability_topic, ONLINE, qos=QOS, retain=True)
        log.debug("%s: online at %s", self.id, self.state_topic)

    def _on_disconnect(
        self,
        client: mqtt.Client,
        userdata: Any,
        flags: DisconnectFlags,
        reason_code: ReasonCode,
        properties: Properties | None,
    ) -> None:
        if client is not self._client:  # a power-cut (or stopped) client: no reconnect; no join from its thread
            client.loop_stop()
            return
        self._connected.clear()
        self._warned_unreachable = True  # the disconnect itself was the warning for this outage
        if not self._stopping:
            log.warning("%s: connection lost (%s), reconnecting", self.id, reason_code)

    def _on_connect_fail(self, client: mqtt.Client, userdata: Any) -> None:
        """Once per outage at warning level (200 devices retrying would flood the log), then at debug."""
        if client is not self._client:
            client.loop_stop()
            return
        level = logging.DEBUG if self._warned_unreachable else logging.WARNING
        self._warned_unreachable = True
        log.log(level, "%s: cannot reach %s, retrying", self.id, self.broker.display())

    def _on_set(self, client: mqtt.Client, userdata: Any, message: MQTTMessage) -> None:
        if client is not self._client:  # read off the socket just before a power cut
            return
        try:
            self.receive(message.payload)
        except Exception:  # a firmware bug must not kill the network thread of a device
            log.exception("%s: failed on /set %r", self.id, message.payload[:200])


class SimLight(SimDevice[LightFirmware]):
    """A light, which also has an actual output that fades while its reported state does not."""

    def output(self, now: float | None = None) -> LightOutput:
        """The light's actual output at `now` (default: the device clock's now)."""
        return self._firmware.output(self._clock() if now is None else now)
