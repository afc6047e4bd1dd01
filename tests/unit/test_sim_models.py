"""The simulator's real models (firmware_sim/definitions.json) refuse what their real definitions have no converter
for, as Zigbee2MQTT does, and report only what they have."""

from __future__ import annotations

from firmware_sim.config import BrokerAddress, DeviceSpec
from firmware_sim.definitions import bridge_entry, light_model, valve_model
from firmware_sim.venue import build_device

BROKER = BrokerAddress.parse("mqtt://127.0.0.1:1")


def test_a_tuya_valve_takes_current_heating_setpoint_in_its_steps_and_range() -> None:
    valve = build_device(DeviceSpec("hvac", "thermostat", "hvac", model="TV02-Zigbee"), BROKER).firmware
    outcome = valve.apply({"current_heating_setpoint": 21.3, "system_mode": "heat"}, 0.0)
    assert outcome.accepted == ("current_heating_setpoint", "system_mode") and outcome.state.setpoint == 21.5
    assert valve.apply({"current_heating_setpoint": 32}, 0.0).accepted == ()  # its maximum is 30
    assert valve.apply({"system_mode": "auto"}, 0.0).accepted == ()  # it has off and heat
    assert "current_heating_setpoint" in outcome.state.report(0.0)


def test_a_tuya_valve_stops_at_the_first_key_it_has_no_converter_for() -> None:
    valve = build_device(DeviceSpec("hvac", "thermostat", "hvac", model="TV02-Zigbee"), BROKER).firmware
    outcome = valve.apply({"occupied_heating_setpoint": 22, "system_mode": "off"}, 0.0)
    assert outcome.accepted == () and [e.field for e in outcome.rejected] == ["occupied_heating_setpoint"]
    assert "No converter available" in str(outcome.rejected[0])


def test_a_danfoss_valve_goes_on_after_a_key_it_lacks() -> None:
    valve = build_device(DeviceSpec("hvac", "thermostat", "hvac", model="014G2461"), BROKER).firmware
    outcome = valve.apply({"current_heating_setpoint": 22, "occupied_heating_setpoint": 22}, 0.0)
    assert outcome.accepted == ("occupied_heating_setpoint",)


def test_an_ikea_white_spectrum_bulb_refuses_colour_and_clamps_to_its_range() -> None:
    bulb = build_device(DeviceSpec("strip", "light", "strip", model="LED1545G12"), BROKER).firmware
    outcome = bulb.apply({"state": "ON", "color": {"x": 0.6, "y": 0.35}, "color_temp": 153}, 0.0)
    assert outcome.accepted == ("state", "color_temp") and outcome.state.color_temp == 250
    report = outcome.state.report(0.0)
    assert "color" not in report and report["color_temp"] == 250


def test_the_models_read_their_definitions() -> None:
    white = light_model("LED1623G12")
    assert white is not None and white.keys == {"state", "brightness", "transition"}
    assert valve_model("LED1545G12") is None and light_model("TV02-Zigbee") is None
    entry = bridge_entry("hvac", "TV02-Zigbee")
    assert entry["friendly_name"] == "hvac" and entry["definition"]["model"] == "TV02-Zigbee"
    assert bridge_entry("speaker", None)["definition"] is None


def test_a_plug_switches_itself_off_when_its_on_time_runs_out_and_says_so() -> None:
    plug = build_device(DeviceSpec("plug", "scent", "plug", plug=True), BROKER).firmware
    on = plug.apply({"state": "ON", "on_time": 30}, 100.0)
    assert on.accepted == ("state", "on_time") and on.state.report(100.0) == {"state": "ON"}
    assert on.state.advance(129.0).on and not on.state.advance(130.0).on
    assert on.state.advance(130.0).wants_report({"state": "ON"}, 0.0)
    assert plug.apply({"intensity": 40}, 0.0).accepted == ()  # a plug has no intensity
