"""Simulated device firmware: the other side of the wire from the controller.

Lights, a thermostat, a speaker and a scent diffuser that speak Zigbee2MQTT's MQTT dialect, written from the
protocol alone (nothing here imports the controller, the drivers or the profiles), so that tests, the demo and
the benchmarks exercise the controller against an independent implementation.

    with SimulatedVenue(devices, "mqtt://127.0.0.1:1883") as venue:
        venue.wait_connected(5)

`firmware` modules are the pure core (state in, state out, time as an argument); `device` and `venue` are the
MQTT shell.
"""

from firmware_sim.color import clamp_mired, hex_to_xy, mired_to_xy, rgb_to_xy
from firmware_sim.config import BrokerAddress, ConfigError, DeviceSpec, SimConfig, load_config, parse_config
from firmware_sim.device import SimDevice, SimLight
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
    "FieldError",
    "Firmware",
    "LightFirmware",
    "LightOutput",
    "Outcome",
    "ScentFirmware",
    "SimConfig",
    "SimDevice",
    "SimLight",
    "SimulatedVenue",
    "SpeakerFirmware",
    "ThermalParams",
    "ThermostatFirmware",
    "build_device",
    "clamp_mired",
    "hex_to_xy",
    "load_config",
    "mired_to_xy",
    "parse_config",
    "rgb_to_xy",
    "running_state",
    "step",
]
