"""The imperative shell of a simulated device: one paho client, its last will, its topics, its lock.

Message flow, with the seams where fault injection goes:

    /set payload -> receive()  [drop a share of commands here]
                 -> _apply()   firmware.apply(command, now), under the lock
                 -> _publish_state()  [delay or withhold reports here]
    manual_change() -> _apply()  (a person at the wall switch: same path, never dropped)
    tick()          -> firmware.advance(now); report if the firmware asks to
    stop()/start(), drop_connection()  [outages: clean, or a dropped socket that fires the last will]

Each device has its own client because each needs its own last will: the broker, not the simulator, must say
`offline` when a device dies.
"""

from __future__ import annotations

import json
import logging
import math
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

    # -- lifetime -------------------------------------------------------------------------------------------

    def start(self) -> None:
        """Connect in the background; paho retries forever with back-off. A stopped device may start again."""
        if self._client is not None:
            return
        self._stopping = False
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
        """First of the three stop phases, split so a venue stops 200 devices in parallel, not in turn."""
        self._stopping = True
        with self._lock:
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
        client, self._client = self._client, None
        if client is not None:
            client.loop_stop()
        self._connected.clear()

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
        """A `/set` payload as it arrived; malformed ones are logged and ignored, the device carries on."""
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
        (re)connect publishes the current state anyway."""
        report = self._firmware.report(now)
        self._last_report = report
        self._last_report_at = now
        if self._client is not None and self._connected.is_set():
            self._client.publish(self.state_topic, json.dumps(report), qos=QOS, retain=True)

    # -- paho -----------------------------------------------------------------------------------------------

    def _make_client(self) -> mqtt.Client:
        client = mqtt.Client(
            CallbackAPIVersion.VERSION2,
            client_id=f"fwsim-{self.topic}-{uuid.uuid4().hex[:8]}",
            protocol=mqtt.MQTTv311,
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
        if self._stopping:
            return
        self._warned_unreachable = False
        # State messages queued while offline are stale now; the current state follows.
        drop_stale = getattr(client, "drop_out_messages", None)
        if drop_stale is not None:
            drop_stale()
        client.subscribe(self.set_topic, qos=QOS)
        with self._lock:
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
        self._connected.clear()
        self._warned_unreachable = True  # the disconnect itself was the warning for this outage
        if not self._stopping:
            log.warning("%s: connection lost (%s), reconnecting", self.id, reason_code)

    def _on_connect_fail(self, client: mqtt.Client, userdata: Any) -> None:
        """Once per outage at warning level (200 devices retrying would flood the log), then at debug."""
        level = logging.DEBUG if self._warned_unreachable else logging.WARNING
        self._warned_unreachable = True
        log.log(level, "%s: cannot reach %s, retrying", self.id, self.broker.display())

    def _on_set(self, client: mqtt.Client, userdata: Any, message: MQTTMessage) -> None:
        try:
            self.receive(message.payload)
        except Exception:  # a firmware bug must not kill the network thread of a device
            log.exception("%s: failed on /set %r", self.id, message.payload[:200])


class SimLight(SimDevice[LightFirmware]):
    """A light, which also has an actual output that fades while its reported state does not."""

    def output(self, now: float | None = None) -> LightOutput:
        """The light's actual output at `now` (default: the device clock's now)."""
        return self._firmware.output(self._clock() if now is None else now)
