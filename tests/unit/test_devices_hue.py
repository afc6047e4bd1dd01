"""The Hue v1 dialect: bodies to the bridge, light objects back, capabilities, and round trips under compare's
tolerances."""

from __future__ import annotations

import json
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from devices.compare import differences
from devices.hue import from_hue, light_capabilities, light_mireds, supported, to_hue
from devices.states import LightState
from devices.units import hue_bri_to_percent, percent_to_hue_bri, seconds_to_hue_transition

PROPERTY = settings(max_examples=300, derandomize=True, database=None, deadline=None)

# A v1 light object as a bridge (API 1.50+) returns it, trimmed of keys we do not read.
COLOR_LAMP: dict[str, Any] = {
    "state": {
        "on": True,
        "bri": 254,
        "hue": 8417,
        "sat": 140,
        "effect": "none",
        "xy": [0.4573, 0.41],
        "ct": 366,
        "alert": "none",
        "colormode": "ct",
        "mode": "homeautomation",
        "reachable": True,
    },
    "type": "Extended color light",
    "name": "Lounge lamp",
    "capabilities": {"control": {"colorgamuttype": "C", "ct": {"min": 153, "max": 500}}},
}
WHITE_AMBIANCE = {
    "state": {"on": False, "bri": 1, "ct": 454, "colormode": "ct", "reachable": True},
    "type": "Color temperature light",
    "capabilities": {"control": {"ct": {"min": 153, "max": 454}}},
}
DIMMABLE = {"state": {"on": True, "bri": 127, "alert": "none", "reachable": True}, "type": "Dimmable light"}
PLUG = {"state": {"on": True, "reachable": False}, "type": "On/Off plug-in unit"}


# ---- units --------------------------------------------------------------------------------------------------


@pytest.mark.parametrize(("pct", "bri"), [(0, 1), (0.1, 1), (1, 3), (50, 127), (100, 254), (-5, 1), (150, 254)])
def test_percent_to_hue_bri_never_goes_below_one(pct: float, bri: int) -> None:
    assert percent_to_hue_bri(pct) == bri


@pytest.mark.parametrize(("bri", "pct"), [(1, 0.39), (127, 50.0), (254, 100.0), (0, 0.0), (300, 100.0)])
def test_hue_bri_to_percent(bri: float, pct: float) -> None:
    assert hue_bri_to_percent(bri) == pct


@pytest.mark.parametrize(("seconds", "deciseconds"), [(0, 0), (0.4, 4), (2.5, 25), (-1, 0), (10_000, 65535)])
def test_transition_in_deciseconds_clamped(seconds: float, deciseconds: int) -> None:
    assert seconds_to_hue_transition(seconds) == deciseconds


@given(st.integers(min_value=1, max_value=254))
def test_bri_round_trips_exactly(bri: int) -> None:
    assert percent_to_hue_bri(hue_bri_to_percent(bri)) == bri


# ---- to_hue -------------------------------------------------------------------------------------------------


def test_light_on_with_everything() -> None:
    state = LightState(on=True, brightness=50, color_temp_k=2700)
    assert to_hue(state, 3) == {"on": True, "bri": 127, "ct": 370, "transitiontime": 30}


def test_colour_is_xy_rounded_to_four_places() -> None:
    assert to_hue(LightState(color_xy=(0.70061, 0.29934))) == {"xy": [0.7006, 0.2993]}


def test_both_colours_send_xy_alone_as_the_bridge_would_obey() -> None:
    assert to_hue(LightState(color_temp_k=2700, color_xy=(0.5, 0.4))) == {"xy": [0.5, 0.4]}


def test_off_sends_only_off_and_transition() -> None:
    state = LightState(on=False, brightness=40, color_temp_k=2700)
    assert to_hue(state) == {"on": False}
    assert to_hue(state, 1.25) == {"on": False, "transitiontime": 12}


def test_brightness_zero_is_the_dimmest_level_not_off() -> None:
    assert to_hue(LightState(on=True, brightness=0)) == {"on": True, "bri": 1}


def test_empty_change_sends_nothing_not_even_a_transition() -> None:
    assert to_hue(LightState(), 3) == {}


def test_colour_temperature_clamped_to_the_lights_range() -> None:
    assert to_hue(LightState(color_temp_k=2000), None, (153, 454)) == {"ct": 454}
    assert to_hue(LightState(color_temp_k=8000), None, (200, 454)) == {"ct": 200}
    assert to_hue(LightState(color_temp_k=2000)) == {"ct": 500}


def test_bodies_are_json() -> None:
    body = to_hue(LightState(on=True, brightness=70, color_xy=(0.5, 0.4)), 1)
    assert json.loads(json.dumps(body)) == body


# ---- from_hue -----------------------------------------------------------------------------------------------


def test_colour_lamp_in_ct_mode_reports_colour_temperature_only() -> None:
    assert from_hue(COLOR_LAMP) == (LightState(on=True, brightness=100.0, color_temp_k=2732), True)


@pytest.mark.parametrize("mode", ["xy", "hs"])
def test_colour_lamp_in_xy_or_hs_mode_reports_xy_only(mode: str) -> None:
    light = {**COLOR_LAMP, "state": {**COLOR_LAMP["state"], "colormode": mode}}
    assert from_hue(light) == (LightState(on=True, brightness=100.0, color_xy=(0.4573, 0.41)), True)


def test_off_light_still_reports_its_level() -> None:
    assert from_hue(WHITE_AMBIANCE) == (LightState(on=False, brightness=0.39, color_temp_k=2203), True)


def test_dimmable_and_unreachable_plug() -> None:
    assert from_hue(DIMMABLE) == (LightState(on=True, brightness=50.0), True)
    assert from_hue(PLUG) == (LightState(on=True), False)


def test_missing_state_is_unreachable_and_missing_reachable_is_reachable() -> None:
    assert from_hue({"name": "ghost"}) == (LightState(), False)
    assert from_hue({"state": {"on": True}}) == (LightState(on=True), True)


@pytest.mark.parametrize(
    "state",
    [
        {"on": "true"},
        {"on": 1},
        {"bri": "254"},
        {"bri": True},
        {"bri": 300},
        {"bri": float("nan")},
        {"ct": 0},
        {"ct": 65535},
        {"xy": [0.5]},
        {"xy": [0.5, 2]},
        {"xy": "0.5,0.4"},
        {"xy": [True, 0.4]},
        {"reachable": "yes", "colormode": 3},
    ],
)
def test_nonsense_is_left_out_never_raised(state: dict[str, Any]) -> None:
    reported, _ = from_hue({"state": state})
    assert reported == LightState()


def test_unreachable_needs_a_real_true() -> None:
    assert from_hue({"state": {"reachable": "yes"}})[1] is False


# ---- capabilities -------------------------------------------------------------------------------------------


def test_mired_range_from_capabilities_or_the_default() -> None:
    assert light_mireds(WHITE_AMBIANCE) == (153, 454)
    assert light_mireds(DIMMABLE) == (153, 500)
    assert light_mireds({"capabilities": {"control": {"ct": {"min": 500, "max": 153}}}}) == (153, 500)
    assert light_mireds({"capabilities": {"control": {"ct": {"min": "x", "max": 454}}}}) == (153, 500)


def test_capabilities_come_from_the_reported_state_keys() -> None:
    assert light_capabilities(COLOR_LAMP).fields == {"on", "brightness", "color_temp_k", "color_xy"}
    assert light_capabilities(WHITE_AMBIANCE).fields == {"on", "brightness", "color_temp_k"}
    assert light_capabilities(DIMMABLE).fields == {"on", "brightness"}
    assert light_capabilities(PLUG).fields == {"on"}
    assert light_capabilities(WHITE_AMBIANCE).mireds == (153, 454)


def test_supported_drops_what_the_light_cannot_take() -> None:
    wanted = LightState(on=True, brightness=40, color_xy=(0.5, 0.4))
    assert supported(wanted, light_capabilities(DIMMABLE)) == LightState(on=True, brightness=40)
    assert supported(wanted, light_capabilities(PLUG)) == LightState(on=True)
    assert supported(wanted, light_capabilities(COLOR_LAMP)) == wanted


# ---- round trips --------------------------------------------------------------------------------------------

mired_ranges = st.tuples(st.integers(153, 300), st.integers(301, 500))
brightness = st.floats(min_value=0, max_value=100, allow_nan=False)
kelvin = st.integers(min_value=1500, max_value=10000)
xy = st.tuples(st.floats(0, 1, allow_nan=False), st.floats(0, 1, allow_nan=False))


def _bridge_obeys(body: dict[str, Any]) -> dict[str, Any]:
    """The light object a bridge reports after obeying `body` (from an arbitrary earlier state)."""
    state: dict[str, Any] = {"on": True, "bri": 200, "ct": 300, "xy": [0.3, 0.3], "colormode": "xy"}
    state.update({k: v for k, v in body.items() if k != "transitiontime"})
    if "xy" in body:
        state["colormode"] = "xy"
    elif "ct" in body:
        state["colormode"] = "ct"
    return {"state": {**state, "reachable": True}}


@PROPERTY
@given(
    on=st.sampled_from([True, False, None]),
    pct=st.none() | brightness,
    colour=st.none() | kelvin.map(lambda k: ("k", k)) | xy.map(lambda v: ("xy", v)),
    mireds=mired_ranges,
    transition=st.none() | st.floats(0, 100, allow_nan=False),
)
def test_desired_state_round_trips_through_the_bridge(
    on: bool | None,
    pct: float | None,
    colour: tuple[str, Any] | None,
    mireds: tuple[int, int],
    transition: float | None,
) -> None:
    desired = LightState(
        on=on,
        brightness=pct,
        color_temp_k=colour[1] if colour and colour[0] == "k" else None,
        color_xy=colour[1] if colour and colour[0] == "xy" else None,
    )
    reported, reachable = from_hue(_bridge_obeys(to_hue(desired, transition, mireds)))
    assert reachable
    assert differences(desired, reported, mired_range=mireds) is None


@PROPERTY
@given(
    bri=st.integers(1, 254),
    ct=st.integers(153, 500),
    x=st.integers(0, 10_000),
    y=st.integers(0, 10_000),
    mode=st.sampled_from(["ct", "xy"]),
)
def test_reported_state_converts_back_to_the_same_raw_values(bri: int, ct: int, x: int, y: int, mode: str) -> None:
    light = {"state": {"on": True, "bri": bri, "ct": ct, "xy": [x / 10_000, y / 10_000], "colormode": mode}}
    reported, _ = from_hue(light)
    body = to_hue(reported)
    assert body["bri"] == bri
    if mode == "ct":
        assert body["ct"] == ct
    else:
        assert body["xy"] == [x / 10_000, y / 10_000]
