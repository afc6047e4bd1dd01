"""Plain MQTT clients that play the people and programs around a venue: a kiosk that checks members in, and an
observer that remembers everything it sees on the broker.

Both are paho clients with a clean session on their own thread (`loop_start`), so they work from a test's thread
and, through `asyncio.to_thread`, next to an event loop that runs the broker.
"""

from __future__ import annotations

import json
import threading
import time
import uuid
from collections import Counter
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

import paho.mqtt.client as mqtt
from paho.mqtt.enums import CallbackAPIVersion

from controller.shell.bus import BrokerAddress

WAIT_S = 5.0


@dataclass(frozen=True)
class Message:
    """One message as an observer received it."""

    at: float  # time.monotonic() when it arrived
    topic: str
    payload: bytes
    retain: bool  # set on a retained replay after the subscribe, not on a message published while subscribed

    def json(self) -> Any:
        return json.loads(self.payload)


class Observer:
    """A plain MQTT client subscribed to `topics` (again on every reconnect: its session is clean, so a broker
    restart forgets it) that remembers every message, in order, with its arrival time and retain flag.

    With `base`, the topics that its methods take are relative to it (`"lamp"` is `"<base>/lamp"`); `topics` and
    `last` always hold whole topics. `username` logs in (without a password), for brokers with an ACL.
    """

    def __init__(
        self, url: str, topics: Sequence[str], *, base: str | None = None, username: str | None = None
    ) -> None:
        address = BrokerAddress.parse(url)
        self.url = url
        self.topics = list(topics)
        self.base = base
        self.last: dict[str, bytes] = {}  # topic -> its newest payload
        self.history: list[Message] = []
        self._cond = threading.Condition()
        subscribed = threading.Event()
        self.client = mqtt.Client(CallbackAPIVersion.VERSION2, client_id=f"observer-{uuid.uuid4().hex[:8]}")
        if username is not None:
            self.client.username_pw_set(username)
        self.client.on_message = self._on_message
        self.client.on_subscribe = lambda *_: subscribed.set()
        self.client.on_connect = lambda client, *_: client.subscribe([(t, 1) for t in self.topics])
        self.client.reconnect_delay_set(min_delay=1, max_delay=2)
        self.client.connect(address.host, address.port)
        self.client.loop_start()
        assert subscribed.wait(WAIT_S), "observer could not subscribe"

    def _on_message(self, _client: Any, _userdata: Any, msg: mqtt.MQTTMessage) -> None:
        message = Message(time.monotonic(), msg.topic, bytes(msg.payload), bool(msg.retain))
        with self._cond:
            self.last[message.topic] = message.payload
            self.history.append(message)
            self._cond.notify_all()

    def _topic(self, topic: str) -> str:
        return topic if self.base is None else f"{self.base}/{topic}"

    # -- what arrived --------------------------------------------------------------------------------------------

    def latest(self) -> dict[str, bytes]:
        """A copy of `last`: every topic's newest payload, as they stand at one moment."""
        with self._cond:
            return dict(self.last)

    def json(self, topic: str) -> Any:
        """The newest message on `topic`, parsed; None before there is one."""
        with self._cond:
            raw = self.last.get(self._topic(topic))
        return None if raw is None else json.loads(raw)

    def arrivals(self, topic: str) -> list[Message]:
        """Every message on `topic` so far, oldest first."""
        whole = self._topic(topic)
        with self._cond:
            return [m for m in self.history if m.topic == whole]

    def messages(self, topic: str) -> list[bytes]:
        """The payload of every message on `topic` so far."""
        return [m.payload for m in self.arrivals(topic)]

    def on(self, topic: str) -> list[Any]:
        """Every message on `topic` so far, parsed."""
        return [m.json() for m in self.arrivals(topic)]

    def live(self, topic: str) -> list[bytes]:
        """Payloads published on `topic` while we were subscribed (not retained replays)."""
        return [m.payload for m in self.arrivals(topic) if not m.retain]

    def retained(self, topic: str) -> bool:
        """Whether the broker replayed a retained message on `topic` to us."""
        return any(m.retain for m in self.arrivals(topic))

    def counts(self) -> Counter[str]:
        """How many messages arrived on each topic."""
        with self._cond:
            return Counter(m.topic for m in self.history)

    # -- waiting for one -----------------------------------------------------------------------------------------

    def wait_for_message(
        self, topic: str, check: Callable[[Any], bool], after: int = 0, timeout: float = WAIT_S
    ) -> Message:
        """The first message on `topic`, old or new but not among the first `after` ones there, whose parsed
        payload passes `check`; fails the test after `timeout` seconds."""
        deadline = time.monotonic() + timeout
        with self._cond:
            while True:
                for message in self.arrivals(topic)[after:]:
                    if check(message.json()):
                        return message
                remaining = deadline - time.monotonic()
                if remaining <= 0:
                    got = self.on(topic)[after:]
                    raise AssertionError(
                        f"nothing on {self._topic(topic)} passed the check within {timeout}s; got {got}"
                    )
                self._cond.wait(remaining)

    def wait_for(self, topic: str, check: Callable[[Any], bool], after: int = 0, timeout: float = WAIT_S) -> Any:
        """`wait_for_message`'s payload, parsed."""
        return self.wait_for_message(topic, check, after, timeout).json()

    # -- speaking ------------------------------------------------------------------------------------------------

    def publish(self, topic: str, payload: Any) -> None:
        """Publish `payload` (bytes as they are, anything else as JSON) with QoS 1, acknowledged."""
        body = payload if isinstance(payload, bytes) else json.dumps(payload)
        self.client.publish(self._topic(topic), body, qos=1).wait_for_publish(WAIT_S)

    def close(self) -> None:
        self.client.disconnect()
        self.client.loop_stop()


class Kiosk:
    """What a venue's NFC/QR kiosk does: publish check-ins and check-outs with QoS 1."""

    def __init__(self, url: str, venue_id: str) -> None:
        address = BrokerAddress.parse(url)
        self.venue_id = venue_id
        self.client = mqtt.Client(CallbackAPIVersion.VERSION2, client_id=f"kiosk-{uuid.uuid4().hex[:8]}")
        self.client.connect(address.host, address.port)
        self.client.loop_start()

    def raw(self, topic: str, payload: bytes | str, retain: bool = False) -> None:
        self.client.publish(topic, payload, qos=1, retain=retain).wait_for_publish(5)

    def checkin(self, member_id: str, community_id: str) -> None:
        body = json.dumps({"member_id": member_id, "community_id": community_id})
        self.raw(f"ambience/{self.venue_id}/checkin", body)

    def checkout(self, member_id: str) -> None:
        self.raw(f"ambience/{self.venue_id}/checkout", json.dumps({"member_id": member_id}))

    def close(self) -> None:
        self.client.disconnect()
        self.client.loop_stop()
