"""A whole venue on loopback for integration tests: the real service, real simulated devices, a real kiosk.

Each test gets its own venue id and base topic, so tests share one Mosquitto without seeing each other.
"""

from __future__ import annotations

import asyncio
import json
import threading
import time
import uuid
from collections.abc import AsyncIterator, Callable, Coroutine
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import paho.mqtt.client as mqtt

from controller.shell.bus import BrokerAddress
from controller.shell.record import Event
from controller.shell.service import Service
from firmware_sim import FaultPlan, SimulatedVenue
from profiles.loader import load_venue
from profiles.venue import VenueConfig

ROOT = Path(__file__).resolve().parents[2]
EXAMPLES = ROOT / "examples"


def example_venue(broker_url: str, tmp_path: Path, **updates: Any) -> VenueConfig:
    """examples/venue.yaml with a unique venue id and base topic, its record under tmp_path."""
    venue = load_venue(EXAMPLES / "venue.yaml")
    tag = uuid.uuid4().hex[:8]
    return venue.model_copy(
        update={
            "venue": venue.venue.model_copy(update={"id": f"test-{tag}"}),
            "mqtt": venue.mqtt.model_copy(update={"url": broker_url, "base_topic": f"z2m-{tag}"}),
            "store": venue.store.model_copy(update={"path": str(tmp_path / "ambience.db")}),
            **updates,
        }
    )


@dataclass
class Listener:
    """A plain MQTT client that remembers the last message per topic (what an observer of the venue sees)."""

    url: str
    topics: list[str]
    last: dict[str, bytes] = field(default_factory=dict)
    history: list[tuple[float, str, bytes]] = field(default_factory=list)

    def __post_init__(self) -> None:
        address = BrokerAddress.parse(self.url)
        self._lock = threading.Lock()
        self._subscribed = threading.Event()
        self.client = mqtt.Client(mqtt.CallbackAPIVersion.VERSION2, client_id=f"listener-{uuid.uuid4().hex[:8]}")
        self.client.on_message = self._on_message
        self.client.on_subscribe = lambda *a: self._subscribed.set()
        # Subscribe on every (re)connect: this client has a clean session, so a broker restart forgets it.
        self.client.on_connect = lambda c, *a: c.subscribe([(t, 1) for t in self.topics])
        self.client.reconnect_delay_set(min_delay=1, max_delay=2)
        self.client.connect(address.host, address.port)
        self.client.loop_start()
        assert self._subscribed.wait(5), "listener could not subscribe"

    def _on_message(self, _c: Any, _u: Any, msg: mqtt.MQTTMessage) -> None:
        with self._lock:
            self.last[msg.topic] = bytes(msg.payload)
            self.history.append((time.monotonic(), msg.topic, bytes(msg.payload)))

    def json(self, topic: str) -> Any:
        with self._lock:
            raw = self.last.get(topic)
        return None if raw is None else json.loads(raw)

    def messages(self, topic: str) -> list[bytes]:
        with self._lock:
            return [p for _, t, p in self.history if t == topic]

    def close(self) -> None:
        self.client.disconnect()
        self.client.loop_stop()


class Kiosk:
    """What a venue's NFC/QR kiosk does: publish check-ins and check-outs with QoS 1."""

    def __init__(self, url: str, venue_id: str) -> None:
        address = BrokerAddress.parse(url)
        self.venue_id = venue_id
        self.client = mqtt.Client(mqtt.CallbackAPIVersion.VERSION2, client_id=f"kiosk-{uuid.uuid4().hex[:8]}")
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


async def wait_until(condition: Callable[[], Any], timeout_s: float = 10.0, what: str = "condition") -> Any:
    """Poll until `condition()` is truthy; bounded, so a broken venue fails the test instead of hanging it."""
    deadline = time.monotonic() + timeout_s
    while True:
        value = condition()
        if value:
            return value
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out after {timeout_s} s waiting for {what}")
        await asyncio.sleep(0.02)


@dataclass
class Venue:
    config: VenueConfig
    service: Service
    sim: SimulatedVenue
    kiosk: Kiosk
    listener: Listener

    def device(self, device_id: str) -> dict[str, Any]:
        return self.sim.devices[device_id].state

    def events(self, type_: str | None = None) -> list[Event]:
        """Everything the service has recorded so far (emitted events are flushed to the file first)."""
        assert self.service.record is not None
        assert self.service.record.flush(5.0), "the record did not commit within 5 s"
        return list(self.service.record.iter_all(type_))

    @property
    def state_topic(self) -> str:
        return f"ambience/{self.config.venue.id}/state"


@asynccontextmanager
async def running_venue(
    config: VenueConfig, *, faults: FaultPlan | None = None, seed: int | None = None, **service_options: Any
) -> AsyncIterator[Venue]:
    """The venue of `config` running: its simulated devices (with `faults` from `seed`, if given), the service
    (with `service_options`), a kiosk and a listener of the venue's own topics."""
    sim = SimulatedVenue(
        [d.model_dump() for d in config.devices], config.mqtt.url, config.mqtt.base_topic, faults=faults, seed=seed
    )
    sim.start()
    assert await asyncio.to_thread(sim.wait_connected, 10), "simulated devices did not connect"
    vid = config.venue.id
    # Off the loop: the embedded broker runs in this loop and must answer while these clients connect.
    listener = await asyncio.to_thread(Listener, config.mqtt.url, [f"ambience/{vid}/#"])
    service = Service(config, **service_options)
    kiosk = await asyncio.to_thread(Kiosk, config.mqtt.url, vid)
    try:
        async with service:
            assert service.bus is not None
            assert await service.bus.wait_connected(10), "service did not connect"
            yield Venue(config, service, sim, kiosk, listener)
    finally:
        kiosk.close()
        listener.close()
        await asyncio.to_thread(sim.stop)


def run(test: Callable[[], Coroutine[Any, Any, None]]) -> None:
    asyncio.run(test())
