"""Simulated device firmware: the other side of the wire from the controller.

Lights, a thermostat, a speaker and a scent diffuser that speak Zigbee2MQTT's MQTT dialect, written from the
protocol alone (nothing here imports the controller, the drivers or the profiles), so that tests, the demo and
the benchmarks exercise the controller against an independent implementation.

    with SimulatedVenue(devices, "mqtt://127.0.0.1:1883") as venue:
        venue.wait_connected(5)

`firmware` modules are the pure core (state in, state out, time as an argument); `device` and `venue` are the
MQTT shell; `faults` injects what goes wrong at a real venue (lost commands, late reports, power cuts, people at
the wall switch), reproducibly with a seed.
"""

from firmware_sim.color import clamp_mired, hex_to_xy, mired_to_xy, rgb_to_xy
from firmware_sim.config import BrokerAddress, ConfigError, DeviceSpec, SimConfig, load_config, parse_config
from firmware_sim.device import SimDevice, SimLight
from firmware_sim.faults import (
    FaultEvent,
    FaultPlan,
    FaultScheduler,
    FaultSpecError,
    FaultStats,
    PlannedFault,
    Timeline,
    plausible_change,
)
from firmware_sim.fields import FieldError
from firmware_sim.firmware import Firmware, Outcome
from firmware_sim.light import LightFirmware, LightOutput
from firmware_sim.scent import ScentFirmware
from firmware_sim.speaker import SpeakerFirmware
from firmware_sim.thermal import ThermalParams, running_state, step
from firmware_sim.thermostat import ThermostatFirmware
from firmware_sim.venue import SimulatedVenue, build_device

__all__ = [
    "BrokerAddress",
    "ConfigError",
    "DeviceSpec",
    "FaultEvent",
    "FaultPlan",
    "FaultScheduler",
    "FaultSpecError",
    "FaultStats",
    "FieldError",
    "Firmware",
    "LightFirmware",
    "LightOutput",
    "Outcome",
    "PlannedFault",
    "ScentFirmware",
    "SimConfig",
    "SimDevice",
    "SimLight",
    "SimulatedVenue",
    "SpeakerFirmware",
    "ThermalParams",
    "ThermostatFirmware",
    "Timeline",
    "build_device",
    "clamp_mired",
    "hex_to_xy",
    "load_config",
    "mired_to_xy",
    "parse_config",
    "plausible_change",
    "rgb_to_xy",
    "running_state",
    "step",
]
