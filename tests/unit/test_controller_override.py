"""Manual override: a change at the device that no command of ours explains is respected, then reasserted."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from controller.core.plan import plan
from controller.core.resolve import ZoneAmbience
from controller.core.shadow import Shadow, is_manual_change, on_availability, on_command, on_override, on_report
from devices.states import ClimateState, LightState
from profiles.loader import parse_venue

T0 = datetime(2024, 5, 1, 20, 0, tzinfo=UTC)
WANT = LightState(on=True, brightness=80.0, color_temp_k=2700)
VENUE = parse_venue(
    {
        "venue": {"id": "v", "name": "V"},
        "zones": ["bar"],
        "devices": [{"id": "lamp", "kind": "light", "zone": "bar", "driver": "mqtt", "topic": "lamp"}],
    }
)


def settled() -> Shadow:
    """Online, told what we want, and confirmed it."""
    shadow = on_report(Shadow(), LightState(on=True, brightness=60.0, color_temp_k=3000), T0)
    shadow = on_command(shadow, WANT, T0)
    return on_report(shadow, LightState(on=True, brightness=80.08, color_temp_k=2703), T0)


def test_a_person_dimming_a_settled_light_is_a_manual_change() -> None:
    assert is_manual_change(settled(), LightState(on=True, brightness=30.0, color_temp_k=2703), WANT, T0)


def test_our_own_echo_is_not_a_manual_change() -> None:
    shadow = on_command(on_report(Shadow(), LightState(on=True, brightness=60.0), T0), WANT, T0)
    assert not is_manual_change(shadow, LightState(on=True, brightness=80.08, color_temp_k=2703), WANT, T0)


def test_a_report_while_our_command_is_in_flight_is_not_a_manual_change() -> None:
    shadow = on_command(settled(), LightState(brightness=50.0), T0)
    assert not is_manual_change(shadow, LightState(on=True, brightness=65.0, color_temp_k=2703), WANT, T0)


def test_a_device_back_from_offline_with_its_old_state_is_not_a_manual_change() -> None:
    shadow = on_availability(on_availability(settled(), False, T0), True, T0)
    assert not is_manual_change(shadow, LightState(on=True, brightness=10.0), WANT, T0)


def test_a_repeated_report_or_a_change_towards_what_we_want_is_not_a_manual_change() -> None:
    shadow = settled()
    assert not is_manual_change(shadow, LightState(on=True, brightness=80.08, color_temp_k=2703), WANT, T0)
    off_course = on_report(shadow, LightState(on=True, brightness=40.0, color_temp_k=2703), T0, live=False)
    assert not is_manual_change(off_course, LightState(on=True, brightness=80.0, color_temp_k=2700), WANT, T0)


def test_a_room_temperature_reading_is_not_a_manual_change() -> None:
    want = ClimateState(target_c=21.0, mode="heat")
    shadow = on_report(Shadow(), ClimateState(target_c=21.0, mode="heat", local_temp_c=19.0), T0)
    assert not is_manual_change(shadow, ClimateState(target_c=21.0, mode="heat", local_temp_c=19.6), want, T0)
    assert is_manual_change(shadow, ClimateState(target_c=24.0, mode="heat", local_temp_c=19.6), want, T0)


def test_an_overridden_device_is_left_alone_until_the_override_ends_then_reasserted() -> None:
    zones = {"bar": ZoneAmbience(light=WANT)}
    manual = on_report(settled(), LightState(on=True, brightness=30.0, color_temp_k=2703), T0)
    shadow = on_override(manual, T0 + timedelta(minutes=30))
    devices = list(VENUE.devices)
    assert plan(devices, zones, {"lamp": shadow}, T0 + timedelta(minutes=29, seconds=59)) == []
    [command] = plan(devices, zones, {"lamp": shadow}, T0 + timedelta(minutes=30))
    assert command.change == LightState(brightness=80.0)
