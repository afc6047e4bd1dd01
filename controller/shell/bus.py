"""The service's MQTT connection: paho-mqtt 2.x with its network loop in its own thread, seen as an asyncio queue.

paho's callbacks run on paho's thread; they only hand messages (in bunches) and connection changes to the event
loop (`call_soon_threadsafe`), the one seam between the two worlds. Everything else awaits `Bus.messages`.

- Persistent session (`clean_session=False`, stable client id): QoS 1 kiosk check-ins published while we were
  away are delivered when we are back.
- Manual acknowledgement: a QoS 1 message is acknowledged only when the caller says so (after it is in the
  event record), so a crash between receipt and commit makes the broker deliver it again.
- Reconnects back off (1 s to 30 s) and never give up; on every (re)connect the subscriptions are restored and the
  birth message is published, and `on_connect` lets the service republish its retained state.
- MQTT 3.1.1 only, so the same code runs on Mosquitto and on the embedded amqtt broker of `ambience demo`.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import ssl
import threading
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlsplit

import paho.mqtt.client as mqtt
from paho.mqtt.enums import CallbackAPIVersion

log = logging.getLogger(__name__)


@dataclass(frozen=True, slots=True)
class Message:
    topic: str
    payload: bytes
    qos: int
    retain: bool
    mid: int


@dataclass(frozen=True, slots=True)
class Will:
    topic: str
    payload: bytes
    retain: bool = True
    qos: int = 1


@dataclass(frozen=True, slots=True)
class BrokerAddress:
    host: str
    port: int
    tls: bool

    @staticmethod
    def parse(url: str) -> BrokerAddress:
        parts = urlsplit(url)
        if parts.scheme not in ("mqtt", "mqtts") or not parts.hostname:
            raise ValueError(f"not an MQTT URL: {url!r} (expected mqtt://host:port or mqtts://host:port)")
        tls = parts.scheme == "mqtts"
        return BrokerAddress(parts.hostname, parts.port or (8883 if tls else 1883), tls)


def short_client(address: BrokerAddress, client_id: str, username: str | None, password: str | None) -> mqtt.Client:
    """A plain client for a short session beside the service (the broker check, `ambience devices`): MQTT 3.1.1
    like every client of ours, the venue's credentials, and TLS with a verified certificate for `mqtts://`."""
    client = mqtt.Client(CallbackAPIVersion.VERSION2, client_id=client_id, protocol=mqtt.MQTTv311)
    if username is not None:
        client.username_pw_set(username, password)
    if address.tls:
        client.tls_set(cert_reqs=ssl.CERT_REQUIRED)
    return client


class Bus:
    """`async with Bus(...) as bus:` connects (in the background, retrying forever) and disconnects on exit."""

    def __init__(
        self,
        url: str,
        client_id: str,
        subscriptions: Sequence[tuple[str, int]],
        *,
        will: Will | None = None,
        birth: Will | None = None,
        username: str | None = None,
        password: str | None = None,
        keepalive_s: int = 30,
        on_connect: Callable[[], None] | None = None,
        on_disconnect: Callable[[], None] | None = None,
        on_messages: Callable[[list[Message]], None] | None = None,
        max_reconnect_delay_s: int = 30,
    ) -> None:
        self.address = BrokerAddress.parse(url)
        self.subscriptions = list(subscriptions)
        self.messages: asyncio.Queue[Message] = asyncio.Queue()
        """Where messages go unless `on_messages` takes them (on the loop, in bunches, in order)."""
        self._on_messages = on_messages
        self._arrived: list[Message] = []  # from paho's thread, not yet on `messages`
        self._arrived_lock = threading.Lock()
        self._drain_posted = False
        self.connected = False
        self._birth = birth
        self._on_connect = on_connect
        self._on_disconnect = on_disconnect
        self._loop: asyncio.AbstractEventLoop | None = None
        self._keepalive = keepalive_s
        self._closing = False
        client = mqtt.Client(
            CallbackAPIVersion.VERSION2,
            client_id=client_id,
            clean_session=False,
            protocol=mqtt.MQTTv311,
            manual_ack=True,
        )
        client.reconnect_delay_set(min_delay=1, max_delay=max_reconnect_delay_s)
        client.max_inflight_messages_set(1000)
        client.max_queued_messages_set(0)  # while disconnected, publishes wait in paho's queue for the reconnect
        if username is not None:
            client.username_pw_set(username, password)
        if self.address.tls:
            client.tls_set(cert_reqs=ssl.CERT_REQUIRED)
        if will is not None:
            client.will_set(will.topic, will.payload, qos=will.qos, retain=will.retain)
        client.on_connect = self._paho_connect
        client.on_disconnect = self._paho_disconnect
        client.on_message = self._paho_message
        self._client = client

    async def __aenter__(self) -> Bus:
        self._loop = asyncio.get_running_loop()
        self._client.connect_async(self.address.host, self.address.port, keepalive=self._keepalive)
        self._client.loop_start()
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.close()

    async def close(self, final: Will | None = None) -> None:
        """Publish `final` (e.g. a retained `offline`) if connected, then disconnect cleanly."""
        if final is not None and self.connected:
            info = self._client.publish(final.topic, final.payload, qos=final.qos, retain=final.retain)
            await asyncio.to_thread(_wait_published, info, 2.0)
        self._closing = True
        self._client.disconnect()
        await asyncio.to_thread(self._client.loop_stop)

    async def wait_connected(self, timeout_s: float) -> bool:
        deadline = asyncio.get_running_loop().time() + timeout_s
        while not self.connected:
            if asyncio.get_running_loop().time() > deadline:
                return False
            await asyncio.sleep(0.01)
        return True

    def publish(self, topic: str, payload: bytes | str, *, qos: int = 1, retain: bool = False) -> None:
        """Queue a publish; paho sends it now or, if disconnected, after the reconnect (QoS >= 1)."""
        self._client.publish(topic, payload, qos=qos, retain=retain)

    def ack(self, message: Message) -> None:
        if message.qos > 0:
            self._client.ack(message.mid, message.qos)

    # -- paho's thread ---------------------------------------------------------------------------------------

    def _paho_connect(self, client: mqtt.Client, _u: Any, _f: Any, reason: Any, _p: Any) -> None:
        if reason.is_failure:
            log.warning("MQTT connect to %s:%s refused: %s", self.address.host, self.address.port, reason)
            return
        log.info("MQTT connected to %s:%s", self.address.host, self.address.port)
        if self.subscriptions:
            client.subscribe(self.subscriptions)
        if self._birth is not None:
            client.publish(self._birth.topic, self._birth.payload, qos=self._birth.qos, retain=self._birth.retain)
        self._post(self._set_connected, True)

    def _paho_disconnect(self, _c: mqtt.Client, _u: Any, _f: Any, reason: Any, _p: Any) -> None:
        if not self._closing:
            log.warning("MQTT disconnected from %s:%s (%s); reconnecting", self.address.host, self.address.port, reason)
        self._post(self._set_connected, False)

    def _paho_message(self, _c: mqtt.Client, _u: Any, msg: mqtt.MQTTMessage) -> None:
        """Messages cross to the loop in bunches: one wake-up for all that arrived until the loop took them, not one
        `call_soon_threadsafe` (a callback and a write to the loop's self-pipe) per message, which in a flood of
        thousands a second queued so many callbacks that an HTTP request waited behind them."""
        message = Message(msg.topic, bytes(msg.payload), msg.qos, bool(msg.retain), msg.mid)
        with self._arrived_lock:
            self._arrived.append(message)
            if self._drain_posted:
                return
            self._drain_posted = True
        self._post(self._drain)

    def _drain(self) -> None:
        with self._arrived_lock:
            arrived, self._arrived = self._arrived, []
            self._drain_posted = False
        if self._on_messages is not None:
            self._on_messages(arrived)
            return
        for message in arrived:
            self.messages.put_nowait(message)

    def _post(self, fn: Callable[..., None], *args: Any) -> None:
        loop = self._loop
        if loop is not None and not loop.is_closed():
            # RuntimeError: the loop closed between the check and the call, i.e. we are shutting down.
            with contextlib.suppress(RuntimeError):
                loop.call_soon_threadsafe(fn, *args)

    def _set_connected(self, connected: bool) -> None:
        self.connected = connected
        callback = self._on_connect if connected else self._on_disconnect
        if callback is not None:
            callback()


def _wait_published(info: mqtt.MQTTMessageInfo, timeout_s: float) -> None:
    with contextlib.suppress(RuntimeError, ValueError):
        info.wait_for_publish(timeout_s)
