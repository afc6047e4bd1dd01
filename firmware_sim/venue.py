"""A whole venue's simulated devices: built from the config's device entries, started and stopped together.

One paho client and network thread per device (each needs its own last will), plus one ticker thread for the
whole venue that lets time pass for every device (the thermostats' rooms), so 200 devices cost 201 threads,
not 400.

With a `FaultPlan` (see `faults.py`) two more threads at most: the fault thread, which follows the seeded
`FaultScheduler` (outages, manual changes), and the `Timeline`, which sends late reports and ends outages.
Without one the venue behaves exactly as before, and neither thread exists.

    with SimulatedVenue(devices, url, faults=FaultPlan.parse("drop=0.2,manual=60"), seed=7) as venue:
        ...
    venue.fault_stats.summary()
"""

from __future__ import annotations

import dataclasses
import logging
import random
import threading
import time
from collections.abc import Callable, Iterable, Mapping, Sequence
from types import TracebackType
from typing import Any

from firmware_sim.bridge import SimBridge
from firmware_sim.config import DEFAULT_BASE_TOPIC, DEFAULT_URL, BrokerAddress, DeviceSpec, SimConfig, parse_devices
from firmware_sim.definitions import light_model, valve_model
from firmware_sim.device import SimDevice, SimLight
from firmware_sim.faults import (
    FaultEvent,
    FaultPlan,
    FaultScheduler,
    FaultStats,
    Timeline,
    derived_seed,
    plausible_change,
)
from firmware_sim.light import LightFirmware
from firmware_sim.plug import PlugFirmware
from firmware_sim.scent import ScentFirmware
from firmware_sim.speaker import SpeakerFirmware
from firmware_sim.thermal import ThermalParams
from firmware_sim.thermostat import ThermostatFirmware

log = logging.getLogger(__name__)

FAULT_POLL_S = 0.1  # how often the fault thread looks at its schedule; also bounds how long stop() waits for it


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
        light = light_model(spec.model) if spec.model is not None else None
        mireds = _overlap(spec.color_temp_range, light.mired_range if light is not None else None)
        bulb = LightFirmware.create(mireds, light.keys if light is not None else None)
        return SimLight(spec.id, spec.topic, bulb, broker, **options)
    if spec.kind == "thermostat":
        valve = valve_model(spec.model) if spec.model is not None else None
        model: dict[str, Any] = {}
        if valve is not None:
            model = {
                "setpoint_key": valve.setpoint_key,
                "setpoint_range": (valve.setpoint_min, valve.setpoint_max),
                "setpoint_step": valve.setpoint_step,
                "modes": valve.modes,
                "stops_at_first_error": valve.stops_at_first_error,
                "mode": "heat" if "heat" in valve.modes else valve.modes[0],
            }
        firmware = ThermostatFirmware(params=thermal or ThermalParams(), **model)
        return SimDevice(spec.id, spec.topic, firmware, broker, **options)
    if spec.kind == "speaker":
        return SimDevice(spec.id, spec.topic, SpeakerFirmware(), broker, **options)
    if spec.kind == "scent" and spec.plug:
        return SimDevice(spec.id, spec.topic, PlugFirmware(), broker, **options)
    if spec.kind == "scent":
        return SimDevice(spec.id, spec.topic, ScentFirmware(), broker, **options)
    raise ValueError(f"unknown device kind {spec.kind!r}")


def _overlap(a: tuple[int, int] | None, b: tuple[int, int] | None) -> tuple[int, int] | None:
    """A real bulb takes its own range whatever the config says; the config can only narrow it."""
    if a is None or b is None:
        return a or b
    lo, hi = max(a[0], b[0]), min(a[1], b[1])
    return (lo, hi) if lo < hi else b


def zone_groups(devices: Iterable[Mapping[str, Any] | DeviceSpec]) -> dict[str, list[str]]:
    """One group per zone of at least two simulated lights, named `<zone>_lights`: what an installer sets up
    in Zigbee2MQTT for a room's lights."""
    entries = [dataclasses.asdict(d) if isinstance(d, DeviceSpec) else d for d in devices]
    zones: dict[str, list[str]] = {}
    for spec in parse_devices(entries):
        if spec.kind == "light" and spec.zone not in (None, "*"):
            zones.setdefault(str(spec.zone), []).append(spec.id)
    return {f"{zone}_lights": ids for zone, ids in zones.items() if len(ids) >= 2}


class SimulatedVenue:
    """The `driver: mqtt` devices of a venue, on one broker.

    `devices` are the venue config's `devices` entries (raw dicts as in the YAML, or `DeviceSpec`s); entries
    with another driver are skipped. Raises `ConfigError` for entries it cannot simulate. `faults` and `seed`
    inject faults (see `inject()`).

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
        faults: FaultPlan | None = None,
        seed: int | None = None,
        groups: Mapping[str, Sequence[str]] | None = None,
    ) -> None:
        """`groups`: Zigbee2MQTT groups to have, group name -> member device ids (`zone_groups` makes one per zone)."""
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
        topic_of = {spec.id: spec.topic for spec in specs}
        by_topic = {spec.topic: spec.id for spec in specs}
        self.bridge = SimBridge(
            specs,
            self.broker,
            base_topic,
            {name: [topic_of[d] for d in members] for name, members in (groups or {}).items()},
            self._groupcast(by_topic),
        )
        self._tick_s = tick_s
        self._ticker: threading.Thread | None = None
        self._stop_ticking = threading.Event()
        self.fault_stats = FaultStats()
        self.fault_plan = FaultPlan()
        self._seed: int | None = None
        self._timeline = Timeline()
        self._faults_thread: threading.Thread | None = None
        self._stop_faults = threading.Event()
        self._oneshot = random.Random()
        for device in self.devices.values():
            device.inject(stats=self.fault_stats, timeline=self._timeline)
        if faults is not None or seed is not None:
            self.inject(faults or FaultPlan(), seed)

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
        self.bridge.start()
        for device in self.devices.values():
            device.start()
        self._stop_ticking.clear()
        self._ticker = threading.Thread(target=self._tick_forever, name="firmware-sim-ticker", daemon=True)
        self._ticker.start()
        self._start_faults()
        log.info("started %d simulated devices on %s", len(self.devices), self.broker.display())

    def _groupcast(self, by_topic: Mapping[str, str]) -> Callable[[str, bytes], None]:
        """A group `/set` reaches each member that has power and is on the network, as a Zigbee groupcast does."""

        def deliver(topic: str, payload: bytes) -> None:
            device = self.devices[by_topic[topic]]
            if not device.offline and device.connected:
                device.receive(payload)

        return deliver

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
        self._stop_faults_thread()
        deadline = time.monotonic() + timeout_s
        for device in self.devices.values():
            device.begin_stop()
        for device in self.devices.values():
            device.end_stop(deadline)
        for device in self.devices.values():
            device.join()
        self.bridge.stop()
        self._timeline.close()  # last: nothing can schedule on it any more (late reports, ends of outages)
        log.info("stopped %d simulated devices", len(self.devices))

    # -- fault injection ------------------------------------------------------------------------------------

    def inject(self, plan: FaultPlan, seed: int | None = None) -> None:
        """Apply a fault plan, replacing the previous one; while running, its schedule restarts from now.

        Drops and report delays go to every device (each with its own seeded generator); outages and manual
        changes follow a `FaultScheduler` in one background thread. `FaultPlan()` turns faults off again.
        """
        running = self._ticker is not None
        self._stop_faults_thread()
        self.fault_plan = plan
        self._seed = seed
        self._oneshot = random.Random(derived_seed(seed, "oneshot"))
        for device in self.devices.values():
            device.inject(drop_share=plan.drop_share, report_delay_s=plan.report_delay_s, seed=seed)
        if running:
            self._start_faults()

    def inject_manual_change(self, device_id: str | None = None) -> FaultEvent | None:
        """A person changes one device (`device_id`, or one drawn at random) by a plausible, visible amount.

        Goes through the device's `manual_change()` and is recorded in `fault_stats` with the fields applied.
        None if the device is off (power cut) or refused the change."""
        return self._manual_change(self._pick(device_id), (self._oneshot.random(), self._oneshot.random()))

    def inject_outage(self, device_id: str | None = None, for_s: float | None = None) -> str | None:
        """Cut the power of one device (`device_id`, or one drawn at random) for `for_s` seconds (None: until its
        `come_back()`). Returns the device id, or None if it was already off or not running."""
        device_id = self._pick(device_id)
        return device_id if self.devices[device_id].go_offline(for_s) else None

    def _pick(self, device_id: str | None) -> str:
        if device_id is not None:
            if device_id not in self.devices:
                raise KeyError(f"no simulated device {device_id!r}")
            return device_id
        ids = sorted(self.devices)
        return ids[self._oneshot.randrange(len(ids))]

    def _manual_change(self, device_id: str, draws: tuple[float, float]) -> FaultEvent | None:
        device = self.devices[device_id]
        if device.offline:
            log.debug("%s: no manual change, the device is off", device_id)
            return None
        fields = plausible_change(device.kind, device.state, draws)
        if not device.manual_change(fields).accepted:
            return None
        log.info("%s: manual change (fault injection) %s", device_id, fields)
        return self.fault_stats.record("manual", device_id, fields)

    def _start_faults(self) -> None:
        plan = self.fault_plan
        if plan.offline_every_s is None and plan.manual_every_s is None:
            return
        scheduler = FaultScheduler(plan, list(self.devices), self._seed, time.monotonic())
        self._stop_faults.clear()
        self._faults_thread = threading.Thread(
            target=self._run_faults, args=(scheduler,), name="firmware-sim-faults", daemon=True
        )
        self._faults_thread.start()

    def _stop_faults_thread(self) -> None:
        thread, self._faults_thread = self._faults_thread, None
        self._stop_faults.set()
        if thread is not None:
            thread.join()

    def _run_faults(self, scheduler: FaultScheduler) -> None:
        while not self._stop_faults.wait(FAULT_POLL_S):
            for fault in scheduler.due(time.monotonic()):
                if self._stop_faults.is_set():
                    return
                try:
                    if fault.kind == "outage":
                        if not self.devices[fault.device_id].go_offline(scheduler.plan.offline_for_s):
                            log.debug("%s: no outage, the device is already off", fault.device_id)
                    else:
                        self._manual_change(fault.device_id, fault.draws)
                except Exception:  # one device's failure must not end the faults of the others
                    log.exception("%s: injecting %s failed", fault.device_id, fault.kind)

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
