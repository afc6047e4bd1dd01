"""The thermostat's room model and firmware: pure functions of temperature, setpoint, mode and elapsed time."""

from __future__ import annotations

from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st

from firmware_sim.thermal import SYSTEM_MODES, ThermalParams, running_state, step, target_c
from firmware_sim.thermostat import ThermostatFirmware

temps = st.floats(min_value=-10, max_value=45, allow_nan=False)
modes = st.sampled_from(SYSTEM_MODES)


def test_heating_converges_to_the_setpoint() -> None:
    temp = 15.0
    for _ in range(600):
        temp = step(temp, 21.0, "heat", ambient=18.0, dt_s=1.0, tau_s=120.0)
    assert temp == pytest.approx(21.0, abs=0.05)


def test_off_drifts_to_ambient() -> None:
    temp = 24.0
    for _ in range(60):
        temp = step(temp, 21.0, "off", ambient=18.0, dt_s=20.0, tau_s=120.0)
    assert temp == pytest.approx(18.0, abs=0.05)


def test_cooling_and_auto_go_down_to_the_setpoint() -> None:
    assert step(26.0, 21.0, "cool", ambient=28.0, dt_s=10_000) == pytest.approx(21.0)
    assert step(26.0, 21.0, "auto", ambient=28.0, dt_s=10_000) == pytest.approx(21.0)


def test_heat_mode_cannot_cool_below_a_warm_ambient() -> None:
    assert target_c(20.0, "heat", ambient=25.0) == 25.0
    assert target_c(20.0, "cool", ambient=15.0) == 15.0


def test_one_tau_covers_about_63_percent() -> None:
    assert step(18.0, 28.0, "heat", ambient=18.0, dt_s=120.0, tau_s=120.0) == pytest.approx(24.32, abs=0.01)


def test_no_time_no_change() -> None:
    assert step(19.0, 25.0, "heat", dt_s=0.0) == 19.0
    assert step(19.0, 25.0, "heat", dt_s=-5.0) == 19.0


@given(temp=temps, setpoint=st.floats(5, 35), mode=modes, ambient=temps, dt=st.floats(0, 1e6))
def test_never_overshoots_whatever_the_step(temp: float, setpoint: float, mode: Any, ambient: float, dt: float) -> None:
    goal = target_c(setpoint, mode, ambient)
    after = step(temp, setpoint, mode, ambient, dt, tau_s=120.0)
    assert min(temp, goal) - 1e-9 <= after <= max(temp, goal) + 1e-9


@pytest.mark.parametrize(
    ("temp", "setpoint", "mode", "expected"),
    [
        (19.0, 21.0, "heat", "heat"),
        (20.95, 21.0, "heat", "idle"),
        (23.0, 21.0, "heat", "idle"),
        (23.0, 21.0, "cool", "cool"),
        (19.0, 21.0, "cool", "idle"),
        (19.0, 21.0, "auto", "heat"),
        (23.0, 21.0, "auto", "cool"),
        (10.0, 21.0, "off", "idle"),
    ],
)
def test_running_state(temp: float, setpoint: float, mode: Any, expected: str) -> None:
    assert running_state(temp, setpoint, mode) == expected


def test_initial_report() -> None:
    report = ThermostatFirmware().report(0.0)
    assert report == {
        "occupied_heating_setpoint": 20.0,
        "system_mode": "heat",
        "local_temperature": 19.0,
        "running_state": "heat",
    }


@pytest.mark.parametrize(("asked", "taken"), [(21.3, 21.5), (21.2, 21.0), (5, 5.0), (35, 35.0), (34.9, 35.0)])
def test_setpoint_rounds_to_half_degrees(asked: float, taken: float) -> None:
    outcome = ThermostatFirmware().apply({"occupied_heating_setpoint": asked}, 0.0)
    assert outcome.state.setpoint == taken


@pytest.mark.parametrize(
    "command",
    [
        {"occupied_heating_setpoint": 4},
        {"occupied_heating_setpoint": 36},
        {"occupied_heating_setpoint": "21"},
        {"system_mode": "dry"},
        {"system_mode": None},
        {"local_temperature": 30},
    ],
)
def test_invalid_commands_keep_the_state(command: dict[str, Any]) -> None:
    thermostat = ThermostatFirmware(updated_at=0.0)
    outcome = thermostat.apply(command, 0.0)
    assert outcome.state == thermostat
    assert outcome.accepted == ()


def test_mode_is_case_insensitive() -> None:
    assert ThermostatFirmware().apply({"system_mode": "AUTO"}, 0.0).state.mode == "auto"


def test_advance_moves_the_room_from_the_last_update() -> None:
    params = ThermalParams(ambient_c=18.0, tau_s=60.0)
    thermostat = ThermostatFirmware(setpoint=25.0, local=19.0, params=params).advance(100.0)
    assert thermostat.local == 19.0  # the first advance only starts the clock
    later = thermostat.advance(160.0)
    assert later.local == pytest.approx(step(19.0, 25.0, "heat", 18.0, 60.0, 60.0))
    assert later.report(160.0)["local_temperature"] == round(later.local, 1)


def test_command_lands_on_an_up_to_date_room() -> None:
    thermostat = ThermostatFirmware(setpoint=25.0, local=19.0, updated_at=0.0)
    after = thermostat.apply({"system_mode": "off"}, 120.0).state
    assert after.local > 19.0
    assert after.updated_at == 120.0


def test_reports_on_its_own_only_after_a_visible_change_and_the_interval() -> None:
    thermostat = ThermostatFirmware(local=19.04, params=ThermalParams(report_interval_s=5.0))
    last = {"local_temperature": 19.0}
    assert not thermostat.wants_report(last, since_s=60.0)
    moved = ThermostatFirmware(local=19.12, params=ThermalParams(report_interval_s=5.0))
    assert moved.wants_report(last, since_s=5.0)
    assert not moved.wants_report(last, since_s=4.9)
