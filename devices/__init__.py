"""Device capabilities in human units and their protocol dialects (Zigbee2MQTT now, Hue next).

Pure translation: no I/O here. The controller owns the connections and feeds these functions.
"""

from devices.compare import apply, differences, merge
from devices.groups import GroupPlan, choose_groups
from devices.hue import HueCapabilities, from_hue, light_capabilities, light_mireds, supported, to_hue
from devices.hue_pacer import HuePacer, merge_bodies
from devices.states import (
    STATE_OF_KIND,
    AudioState,
    ClimateMode,
    ClimateState,
    DeviceKind,
    DeviceState,
    LightState,
    PlayState,
    ScentState,
)
from devices.units import (
    hex_to_xy,
    hue_bri_to_percent,
    kelvin_to_hex,
    kelvin_to_mired,
    kelvin_to_xy,
    mired_to_kelvin,
    percent_to_hue_bri,
    percent_to_z2m,
    seconds_to_hue_transition,
    xy_to_hex,
    z2m_to_percent,
)
from devices.z2m import decode_json_object, from_z2m, parse_availability, to_z2m

__all__ = [
    "STATE_OF_KIND",
    "AudioState",
    "ClimateMode",
    "ClimateState",
    "DeviceKind",
    "DeviceState",
    "GroupPlan",
    "HueCapabilities",
    "HuePacer",
    "LightState",
    "PlayState",
    "ScentState",
    "apply",
    "choose_groups",
    "decode_json_object",
    "differences",
    "from_hue",
    "from_z2m",
    "hex_to_xy",
    "hue_bri_to_percent",
    "kelvin_to_hex",
    "kelvin_to_mired",
    "kelvin_to_xy",
    "light_capabilities",
    "light_mireds",
    "merge",
    "merge_bodies",
    "mired_to_kelvin",
    "parse_availability",
    "percent_to_hue_bri",
    "percent_to_z2m",
    "seconds_to_hue_transition",
    "supported",
    "to_hue",
    "to_z2m",
    "xy_to_hex",
    "z2m_to_percent",
]
