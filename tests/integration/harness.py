"""A whole venue on loopback for integration tests: the real service, real simulated devices, a real kiosk.

Each test gets its own venue id and base topic, so tests share one Mosquitto without seeing each other.
"""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import AsyncIterator, Callable, Coroutine, Mapping, Sequence
from contextlib import asynccontextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from controller.shell.record import Event
from controller.shell.service import Service
from firmware_sim import FaultPlan, SimulatedVenue
from profiles.loader import load_venue
from profiles.venue import VenueConfig
from testkit.mqtt_clients import Kiosk, Observer

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
class Venue:
    config: VenueConfig
    service: Service
    sim: SimulatedVenue
    kiosk: Kiosk
    listener: Observer

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
    config: VenueConfig,
    *,
    faults: FaultPlan | None = None,
    seed: int | None = None,
    groups: Mapping[str, Sequence[str]] | None = None,
    **service_options: Any,
) -> AsyncIterator[Venue]:
    """The venue of `config` running: its simulated devices (with `faults` from `seed`, if given), the service
    (with `service_options`), a kiosk and a listener of the venue's own topics."""
    sim = SimulatedVenue(
        [d.model_dump() for d in config.devices],
        config.mqtt.url,
        config.mqtt.base_topic,
        faults=faults,
        seed=seed,
        groups=groups,
    )
    sim.start()
    assert await asyncio.to_thread(sim.wait_connected, 10), "simulated devices did not connect"
    vid = config.venue.id
    # Off the loop: the embedded broker runs in this loop and must answer while these clients connect.
    listener = await asyncio.to_thread(Observer, config.mqtt.url, [f"ambience/{vid}/#"])
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
