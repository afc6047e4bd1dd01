"""Capabilities read from real Zigbee2MQTT definitions (tests/fixtures/z2m_definitions.json is the output of
scripts/z2m_definitions.mjs on zigbee-herdsman-converters 26.112.0), and wanted states adapted to them."""

from __future__ import annotations

from typing import Any

import pytest

from devices.capabilities import UNKNOWN, DeviceCapabilities, adapt, from_exposes, narrowed, xy_to_kelvin
from devices.states import AudioState, ClimateState, LightState
from devices.units import hex_to_xy, kelvin_to_xy
from testkit.z2m import definitions

DEFINITIONS: dict[str, Any] = definitions()


def caps(model: str, kind: str) -> DeviceCapabilities:
    found = from_exposes(kind, DEFINITIONS[model]["exposes"])
    assert found is not None
    return found


def test_an_ikea_white_spectrum_bulb_has_no_colour_and_a_250_454_mired_range() -> None:
    bulb = caps("LED1545G12", "light")
    assert bulb.fields == {"on", "brightness", "color_temp_k"}
    assert bulb.mireds == (250, 454)


def test_an_ikea_white_bulb_has_brightness_only_and_a_hue_bulb_has_everything() -> None:
    assert caps("LED1623G12", "light").fields == {"on", "brightness"}
    hue = caps("9290022166", "light")
    assert hue.fields == {"on", "brightness", "color_temp_k", "color_xy"} and hue.mireds == (153, 500)


@pytest.mark.parametrize(
    ("model", "key", "low", "high", "step", "modes"),
    [
        ("TS0601_thermostat", "current_heating_setpoint", 5, 35, 0.5, ("heat", "auto", "off")),
        ("TV02-Zigbee", "current_heating_setpoint", 5, 30, 0.5, ("off", "heat")),
        ("SEA801-Zigbee/SEA802-Zigbee", "current_heating_setpoint", 5, 30, 0.5, ("off", "heat", "auto")),
        ("TS0601_thermostat_3", "current_heating_setpoint", 5, 35, 1, ("auto", "heat", "off")),
        ("014G2461", "occupied_heating_setpoint", 5, 35, 0.5, ("heat",)),
    ],
)
def test_a_valve_says_which_setpoint_key_its_range_step_and_modes(
    model: str, key: str, low: float, high: float, step: float, modes: tuple[str, ...]
) -> None:
    valve = caps(model, "thermostat")
    assert (valve.setpoint_key, valve.setpoint_range, valve.setpoint_step, valve.modes) == (
        key,
        (low, high),
        step,
        modes,
    )


def test_a_definition_that_describes_nothing_of_the_kind_gives_nothing() -> None:
    assert from_exposes("light", DEFINITIONS["TV02-Zigbee"]["exposes"]) is None
    assert from_exposes("speaker", DEFINITIONS["LED1545G12"]["exposes"]) is None
    assert from_exposes("light", "not a list") is None


def test_a_white_bulb_in_a_colour_zone_gets_the_nearest_white() -> None:
    amber = hex_to_xy("#ffb347")
    state, notes = adapt(LightState(on=True, brightness=70.0, color_xy=amber), caps("LED1545G12", "light"))
    assert isinstance(state, LightState) and state.color_xy is None and state.brightness == 70.0
    assert state.color_temp_k is not None and 2200 <= state.color_temp_k <= 4000  # a warm white, inside 250-454
    assert len(notes) == 1 and "nearest white" in notes[0]


def test_a_white_only_bulb_gets_brightness_only() -> None:
    state, notes = adapt(LightState(on=True, brightness=70.0, color_temp_k=2700), caps("LED1623G12", "light"))
    assert state == LightState(on=True, brightness=70.0) and len(notes) == 1


def test_a_colour_temperature_outside_the_range_is_clamped_once_and_inside_it_is_left_alone() -> None:
    bulb = caps("LED1545G12", "light")
    state, notes = adapt(LightState(on=True, color_temp_k=6500), bulb)
    assert isinstance(state, LightState) and state.color_temp_k == 4000 and notes  # 250 mireds
    assert adapt(LightState(on=True, color_temp_k=3000), bulb) == (LightState(on=True, color_temp_k=3000), ())


def test_a_setpoint_is_rounded_to_the_step_and_clamped_and_a_mode_becomes_the_nearest() -> None:
    valve = caps("TV02-Zigbee", "thermostat")
    state, notes = adapt(ClimateState(target_c=32.3, mode="auto"), valve)
    assert state == ClimateState(target_c=30.0, mode="heat") and len(notes) == 2
    danfoss = caps("014G2461", "thermostat")
    assert adapt(ClimateState(target_c=21.3, mode="auto"), danfoss)[0] == ClimateState(target_c=21.5, mode="heat")
    assert adapt(ClimateState(target_c=21.0, mode="cool"), danfoss)[0] == ClimateState(target_c=21.0)


def test_what_a_device_can_take_is_not_changed_and_not_noted() -> None:
    valve = caps("TS0601_thermostat", "thermostat")
    assert adapt(ClimateState(target_c=21.5, mode="heat"), valve) == (ClimateState(target_c=21.5, mode="heat"), ())
    assert adapt(AudioState(volume=20), UNKNOWN) == (AudioState(volume=20), ())
    assert adapt(LightState(color_xy=(0.3, 0.3)), UNKNOWN) == (LightState(color_xy=(0.3, 0.3)), ())


def test_the_venue_config_narrows_a_range_but_never_widens_it() -> None:
    bulb = caps("9290022166", "light")
    assert narrowed(bulb, (200, 454)).mireds == (200, 454)
    assert narrowed(caps("LED1545G12", "light"), (153, 500)).mireds == (250, 454)


@pytest.mark.parametrize("kelvin", [2200, 2700, 3000, 4000, 5000, 6500])
def test_the_white_of_a_black_body_colour_is_its_own_temperature(kelvin: int) -> None:
    assert abs(xy_to_kelvin(kelvin_to_xy(kelvin)) - kelvin) <= kelvin * 0.02


def test_a_lamp_on_a_smart_plug_takes_on_and_off_only() -> None:
    plug = caps("E160x/E170x/E190x", "light")
    assert plug.fields == {"on"}
    assert adapt(LightState(on=True, brightness=60.0, color_temp_k=2700), plug)[0] == LightState(on=True)
