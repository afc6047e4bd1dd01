"""The simulated light's firmware: Zigbee2MQTT command semantics, validation and fades (no network, no clock)."""

from __future__ import annotations

from typing import Any

import pytest

from firmware_sim.light import LightFirmware


def apply(light: LightFirmware, now: float = 0.0, **command: Any) -> LightFirmware:
    return light.apply(command, now).state


def test_power_on_state_reports_what_a_z2m_bulb_reports() -> None:
    report = LightFirmware.create().report(0.0)
    assert report["state"] == "OFF"
    assert report["brightness"] == 254
    assert report["color_temp"] == 370
    assert report["color_mode"] == "color_temp"
    assert set(report["color"]) == {"x", "y"}
    assert "fade" not in report


def test_partial_update_changes_only_given_fields() -> None:
    light = apply(LightFirmware.create(), state="ON", brightness=100)
    light = apply(light, color_temp=300)
    report = light.report(0.0)
    assert (report["state"], report["brightness"], report["color_temp"]) == ("ON", 100, 300)


def test_brightness_alone_turns_on_and_zero_turns_off_keeping_the_level() -> None:
    light = apply(LightFirmware.create(), brightness=80)
    assert light.on and light.brightness == 80
    light = apply(light, brightness=0)
    assert not light.on and light.brightness == 80
    light = apply(light, state="ON")
    assert light.on and light.brightness == 80


def test_explicit_state_wins_over_brightness() -> None:
    light = apply(LightFirmware.create(), state="OFF", brightness=120)
    assert not light.on and light.brightness == 120


def test_toggle_and_case_insensitive_state() -> None:
    light = apply(LightFirmware.create(), state="toggle")
    assert light.on
    light = apply(light, state="Toggle")
    assert not light.on
    assert apply(light, state="on").on


@pytest.mark.parametrize(
    "command",
    [
        {"brightness": 255},
        {"brightness": -1},
        {"brightness": "100"},
        {"brightness": True},
        {"brightness": None},
        {"brightness": float("nan")},
        {"state": "MAYBE"},
        {"state": 1},
        {"color_temp": "warm"},
        {"color": "#ff0000"},
        {"color": {"hex": "#ff00"}},
        {"color": {"hex": 123}},
        {"color": {"x": 1.5, "y": 0.3}},
        {"color": {"x": 0.3}},
        {"transition": -1},
        {"effect": "blink"},
    ],
)
def test_invalid_fields_are_refused_and_the_state_is_kept(command: dict[str, Any]) -> None:
    light = LightFirmware.create()
    outcome = light.apply(command, 0.0)
    assert outcome.state == light
    assert outcome.accepted == ()
    assert len(outcome.rejected) == 1


def test_good_fields_apply_when_a_neighbour_is_bad() -> None:
    outcome = LightFirmware.create().apply({"brightness": 999, "color_temp": 250}, 0.0)
    assert outcome.accepted == ("color_temp",)
    assert [e.field for e in outcome.rejected] == ["brightness"]
    assert outcome.state.color_temp == 250
    assert outcome.state.brightness == 254


def test_fractional_brightness_is_rounded() -> None:
    assert apply(LightFirmware.create(), brightness=127.6).brightness == 128


@pytest.mark.parametrize(("asked", "reported"), [(100, 250), (153, 250), (300, 300), (500, 454), (454, 454)])
def test_color_temp_is_clamped_to_the_device_range(asked: int, reported: int) -> None:
    light = apply(LightFirmware.create((250, 454)), color_temp=asked)
    assert light.report(0.0)["color_temp"] == reported


def test_default_range_is_153_to_500() -> None:
    assert apply(LightFirmware.create(), color_temp=50).color_temp == 153
    assert apply(LightFirmware.create(), color_temp=9000).color_temp == 500


def test_initial_color_temp_respects_a_narrow_range() -> None:
    assert LightFirmware.create((153, 300)).color_temp == 300


def test_color_hex_switches_to_xy_and_color_temp_switches_back() -> None:
    light = apply(LightFirmware.create(), color={"hex": "#ff0000"})
    report = light.report(0.0)
    assert report["color_mode"] == "xy"
    assert report["color"]["x"] == pytest.approx(0.7006, abs=1e-3)
    assert report["color"]["y"] == pytest.approx(0.2993, abs=1e-3)
    light = apply(light, color_temp=400)
    assert light.report(0.0)["color_mode"] == "color_temp"


def test_color_xy_is_taken_as_given() -> None:
    light = apply(LightFirmware.create(), color={"x": 0.3, "y": 0.25})
    assert light.report(0.0)["color"] == {"x": 0.3, "y": 0.25}
    assert light.color_mode == "xy"


def test_black_keeps_the_previous_xy() -> None:
    red = apply(LightFirmware.create(), color={"hex": "#ff0000"})
    black = apply(red, color={"hex": "#000000"})
    assert black.xy == red.xy
    assert black.color_mode == "xy"


def test_transition_reports_the_target_at_once_and_fades_the_output() -> None:
    light = apply(LightFirmware.create(), now=0.0, state="ON", brightness=200)
    light = apply(light, now=10.0, brightness=100, transition=4)
    report = light.report(10.0)
    assert report["brightness"] == 100
    assert report["fade"] == {"from_brightness": 200, "to_brightness": 100, "duration_s": 4.0, "remaining_s": 4.0}
    assert light.output(10.0).level == pytest.approx(200)
    assert light.output(12.0).level == pytest.approx(150)
    assert light.output(14.0).level == pytest.approx(100)
    assert light.output(99.0).level == pytest.approx(100)
    assert "fade" not in light.report(14.0)
    assert light.advance(14.0).fade is None


def test_fade_to_off_dims_to_zero_and_from_off_starts_at_zero() -> None:
    lit = apply(LightFirmware.create(), state="ON", brightness=254)
    dimming = apply(lit, now=0.0, state="OFF", transition=2)
    assert dimming.report(0.0)["state"] == "OFF"
    assert dimming.output(1.0).level == pytest.approx(127)
    assert dimming.output(1.0).lit
    assert not dimming.output(2.0).lit
    waking = apply(LightFirmware.create(), now=0.0, state="ON", transition=2)
    assert waking.output(0.0).level == 0
    assert waking.report(0.0)["fade"]["from_brightness"] == 0


def test_a_new_command_during_a_fade_starts_from_the_current_output() -> None:
    light = apply(LightFirmware.create(), now=0.0, state="ON", brightness=254)
    light = apply(light, now=0.0, brightness=54, transition=10)
    light = apply(light, now=5.0, brightness=254, transition=10)
    assert light.output(5.0).level == pytest.approx(154)
    assert light.report(5.0)["fade"]["from_brightness"] == 154


def test_a_command_without_transition_jumps() -> None:
    light = apply(LightFirmware.create(), now=0.0, state="ON", brightness=254)
    light = apply(light, now=0.0, brightness=54, transition=10)
    light = apply(light, now=1.0, brightness=100)
    assert light.fade is None
    assert light.output(1.0).level == 100
