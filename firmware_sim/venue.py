"""A whole venue's simulated devices: built from the config's device entries, started and stopped together.

One paho client and network thread per device (each needs its own last will), plus one ticker thread for the
whole venue that lets time pass for every device (the thermostats' rooms), so 200 devices cost 201 threads,
not 400.
"""

from __future__ import annotations

import dataclasses
import logging
import threading
import time
from collections.abc import Callable, Iterable, Mapping
from types import TracebackType
from typing import Any

from firmware_sim.config import DEFAULT_BASE_TOPIC, DEFAULT_URL, BrokerAddress, DeviceSpec, SimConfig, parse_devices
from firmware_sim.device import SimDevice, SimLight
from firmware_sim.light import LightFirmware
from firmware_sim.scent import ScentFirmware
from firmware_sim.speaker import SpeakerFirmware
from firmware_sim.thermal import ThermalParams
from firmware_sim.thermostat import ThermostatFirmware

log = logging.getLogger(__name__)


def build_device(
    spec: DeviceSpec,
    broker: BrokerAddress,
    *,
    base_topic: str = DEFAULT_BASE_TOPIC,
    thermal: ThermalParams | None = None,
    keepalive_s: int = 30,
    reconnect_delay_s: tuple[int, int] = (1, 10),
    clock: Callable[[], float] = time.monotonic,
) -> SimDevice[Any]:
    """The simulated device for one config entry, in its power-on state."""
    options: dict[str, Any] = {
        "base_topic": base_topic,
        "keepalive_s": keepalive_s,
        "reconnect_delay_s": reconnect_delay_s,
        "clock": clock,
    }
    if spec.kind == "light":
        return SimLight(spec.id, spec.topic, LightFirmware.create(spec.color_temp_range), broker, **options)
    if spec.kind == "thermostat":
        firmware = ThermostatFirmware(params=thermal or ThermalParams())
        return SimDevice(spec.id, spec.topic, firmware, broker, **options)
    if spec.kind == "speaker":
        return SimDevice(spec.id, spec.topic, SpeakerFirmware(), broker, **options)
    if spec.kind == "scent":
        return SimDevice(spec.id, spec.topic, ScentFirmware(), broker, **options)
    raise ValueError(f"unknown device kind {spec.kind!r}")


class SimulatedVenue:
    """The `driver: mqtt` devices of a venue, on one broker.

    `devices` are the venue config's `devices` entries (raw dicts as in the YAML, or `DeviceSpec`s); entries
    with another driver are skipped. Raises `ConfigError` for entries it cannot simulate.

        with SimulatedVenue(cfg["devices"], "mqtt://127.0.0.1:1883") as venue:
            venue.wait_connected(5)
            venue.devices["bar-pendant"].state
    """

    def __init__(
        self,
        devices: Iterable[Mapping[str, Any] | DeviceSpec],
        url: str = DEFAULT_URL,
        base_topic: str = DEFAULT_BASE_TOPIC,
        *,
        username: str | None = None,
        password: str | None = None,
        thermal: ThermalParams | None = None,
        tick_s: float = 0.5,
        keepalive_s: int = 30,
        reconnect_delay_s: tuple[int, int] = (1, 10),
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        entries = [dataclasses.asdict(d) if isinstance(d, DeviceSpec) else d for d in devices]
        specs = parse_devices(entries)
        self.broker = BrokerAddress.parse(url, username=username, password=password)
        self.base_topic = base_topic
        self.devices: dict[str, SimDevice[Any]] = {
            spec.id: build_device(
                spec,
                self.broker,
                base_topic=base_topic,
                thermal=thermal,
                keepalive_s=keepalive_s,
                reconnect_delay_s=reconnect_delay_s,
                clock=clock,
            )
            for spec in specs
        }
        self._tick_s = tick_s
        self._ticker: threading.Thread | None = None
        self._stop_ticking = threading.Event()

    @classmethod
    def from_config(cls, config: SimConfig, **options: Any) -> SimulatedVenue:
        """The venue of a loaded config file; `options` as for the constructor."""
        broker = config.broker
        return cls(
            config.devices,
            broker.display(),
            config.base_topic,
            username=broker.username,
            password=broker.password,
            **options,
        )

    def start(self) -> None:
        """Start every device's connection (in the background) and the ticker; returns at once."""
        if self._ticker is not None:
            return
        for device in self.devices.values():
            device.start()
        self._stop_ticking.clear()
        self._ticker = threading.Thread(target=self._tick_forever, name="firmware-sim-ticker", daemon=True)
        self._ticker.start()
        log.info("started %d simulated devices on %s", len(self.devices), self.broker.display())

    def wait_connected(self, timeout: float) -> bool:
        """True once every device is connected (and has announced itself), False after `timeout` seconds."""
        deadline = time.monotonic() + timeout
        return all(device.wait_connected(max(0.0, deadline - time.monotonic())) for device in self.devices.values())

    def stop(self, timeout_s: float = 5.0) -> None:
        """Every device publishes `offline` and disconnects cleanly; all of them together, within `timeout_s`."""
        ticker, self._ticker = self._ticker, None
        self._stop_ticking.set()
        if ticker is not None:
            ticker.join()
        deadline = time.monotonic() + timeout_s
        for device in self.devices.values():
            device.begin_stop()
        for device in self.devices.values():
            device.end_stop(deadline)
        for device in self.devices.values():
            device.join()
        log.info("stopped %d simulated devices", len(self.devices))

    def __enter__(self) -> SimulatedVenue:
        self.start()
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        self.stop()

    def _tick_forever(self) -> None:
        while not self._stop_ticking.wait(self._tick_s):
            for device in self.devices.values():
                try:
                    device.tick()
                except Exception:  # one device's bug must not stop time for the others
                    log.exception("%s: tick failed", device.id)
