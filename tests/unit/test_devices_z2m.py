"""The Zigbee2MQTT dialect: payloads both ways, tolerance of what real devices send, availability and JSON."""

from __future__ import annotations

import json

import pytest
from hypothesis import given
from hypothesis import strategies as st

from devices.compare import differences
from devices.states import AudioState, ClimateState, DeviceState, LightState, ScentState
from devices.z2m import decode_json_object, from_z2m, parse_availability, to_z2m

# The real payloads of docs/contract.md §4.
HUE_BULB = {
    "state": "ON",
    "brightness": 254,
    "color_temp": 370,
    "color_mode": "color_temp",
    "color": {"x": 0.4573, "y": 0.41, "hue": 34, "saturation": 72},
    "linkquality": 120,
    "update": {"state": "idle"},
}
RADIATOR = {
    "local_temperature": 20.5,
    "occupied_heating_setpoint": 21,
    "system_mode": "heat",
    "running_state": "idle",
    "battery": 87,
}


# ---- to_z2m ------------------------------------------------------------------------------------------------


def test_light_on_with_everything() -> None:
    state = LightState(on=True, brightness=50, color_temp_k=2700)
    assert to_z2m(state, transition_s=3) == {
        "state": "ON",
        "brightness": 127,
        "color_temp": 370,
        "transition": 3,
    }


def test_light_colour_is_sent_as_xy() -> None:
    assert to_z2m(LightState(color_xy=(0.70061, 0.29934))) == {"color": {"x": 0.7006, "y": 0.2993}}


def test_light_off_sends_only_off_and_transition() -> None:
    state = LightState(on=False, brightness=40, color_temp_k=2700, color_xy=(0.5, 0.4))
    assert to_z2m(state) == {"state": "OFF"}
    assert to_z2m(state, transition_s=2.5) == {"state": "OFF", "transition": 2.5}


def test_empty_state_sends_nothing_not_even_a_transition() -> None:
    assert to_z2m(LightState(), transition_s=3) == {}


def test_narrowed_mired_range_clamps_colour_temperature() -> None:
    assert to_z2m(LightState(color_temp_k=2000), mired_range=(250, 454)) == {"color_temp": 454}
    assert to_z2m(LightState(color_temp_k=6500), mired_range=(250, 454)) == {"color_temp": 250}
    assert to_z2m(LightState(color_temp_k=2000)) == {"color_temp": 500}


def test_thermostat_never_sends_local_temperature_nor_a_transition() -> None:
    state = ClimateState(target_c=21.5, mode="auto", local_temp_c=19.0)
    assert to_z2m(state, transition_s=3) == {"occupied_heating_setpoint": 21.5, "system_mode": "auto"}


def test_speaker_and_scent() -> None:
    assert to_z2m(AudioState(state="play", volume=35, playlist="lofi-gossip")) == {
        "state": "PLAY",
        "volume": 35,
        "playlist": "lofi-gossip",
    }
    assert to_z2m(AudioState(state="pause")) == {"state": "PAUSE"}
    assert to_z2m(ScentState(on=True, intensity=30, name="cedar")) == {
        "state": "ON",
        "intensity": 30,
        "scent": "cedar",
    }
    assert to_z2m(ScentState(on=False)) == {"state": "OFF"}


def test_payloads_are_json() -> None:
    payload = to_z2m(LightState(on=True, brightness=70, color_xy=(0.5, 0.4)), transition_s=1)
    assert json.loads(json.dumps(payload)) == payload


# ---- from_z2m ----------------------------------------------------------------------------------------------


def test_hue_bulb_in_colour_temperature_mode() -> None:
    assert from_z2m("light", HUE_BULB) == LightState(on=True, brightness=100.0, color_temp_k=2703, color_xy=None)


def test_hue_bulb_in_xy_mode_reports_xy_only() -> None:
    payload = {**HUE_BULB, "color_mode": "xy"}
    assert from_z2m("light", payload) == LightState(on=True, brightness=100.0, color_xy=(0.4573, 0.41))
    assert from_z2m("light", {**payload, "color_mode": "hs"}) == LightState(
        on=True, brightness=100.0, color_xy=(0.4573, 0.41)
    )


def test_light_without_colour_mode_fills_whatever_is_present() -> None:
    payload = {k: v for k, v in HUE_BULB.items() if k != "color_mode"}
    assert from_z2m("light", payload) == LightState(
        on=True, brightness=100.0, color_temp_k=2703, color_xy=(0.4573, 0.41)
    )


def test_radiator_thermostat() -> None:
    assert from_z2m("thermostat", RADIATOR) == ClimateState(target_c=21.0, mode="heat", local_temp_c=20.5)


def test_trv_current_heating_setpoint_is_accepted_and_occupied_wins() -> None:
    assert from_z2m("thermostat", {"current_heating_setpoint": 19.5}) == ClimateState(target_c=19.5)
    both = {"current_heating_setpoint": 19.5, "occupied_heating_setpoint": 21}
    assert from_z2m("thermostat", both) == ClimateState(target_c=21)
    bad_occupied = {"current_heating_setpoint": 19.5, "occupied_heating_setpoint": "x"}
    assert from_z2m("thermostat", bad_occupied) == ClimateState(target_c=19.5)


def test_speaker_and_scent_states_are_case_insensitive() -> None:
    assert from_z2m("speaker", {"state": " Play ", "volume": 35, "playlist": "lofi"}) == AudioState(
        state="play", volume=35, playlist="lofi"
    )
    assert from_z2m("scent", {"state": "off", "intensity": 30.4, "scent": "cedar", "battery": 3}) == ScentState(
        on=False, intensity=30, name="cedar"
    )


@pytest.mark.parametrize(
    ("kind", "payload"),
    [
        ("light", {"state": "TOGGLE"}),
        ("light", {"state": True}),
        ("light", {"brightness": "254"}),
        ("light", {"brightness": True}),
        ("light", {"brightness": 300}),
        ("light", {"brightness": -1}),
        ("light", {"brightness": float("nan")}),
        ("light", {"color_temp": 0}),
        ("light", {"color_temp": 65535}),
        ("light", {"color_temp": None}),
        ("light", {"color": "red"}),
        ("light", {"color": {"x": 0.5}}),
        ("light", {"color": {"x": 0.5, "y": 2}}),
        ("light", {"color": {"hue": 34, "saturation": 72}, "color_mode": "hs"}),
        ("light", {"color_mode": 7}),
        ("thermostat", {"occupied_heating_setpoint": "21"}),
        ("thermostat", {"occupied_heating_setpoint": 1000}),
        ("thermostat", {"local_temperature": [20]}),
        ("thermostat", {"system_mode": "emergency_heating"}),
        ("speaker", {"state": "rewind", "volume": 101, "playlist": 3}),
        ("speaker", {"playlist": "  "}),
        ("scent", {"state": 1, "intensity": -3, "scent": None}),
        ("speaker", {"linkquality": 9, "update": {"state": "idle"}}),
    ],
)
def test_bad_fields_are_ignored_not_raised(kind: str, payload: dict[str, object]) -> None:
    state = from_z2m(kind, payload)
    assert state == type(state)()


def test_good_fields_survive_next_to_bad_ones() -> None:
    assert from_z2m("light", {"state": "on", "brightness": "full", "color_temp": 250}) == LightState(
        on=True, color_temp_k=4000
    )


def test_unknown_kind_is_a_config_error() -> None:
    with pytest.raises(ValueError, match="kind"):
        from_z2m("toaster", {})


# ---- round trips: what we send, reported back, is what we wanted -------------------------------------------

_xy = st.tuples(st.floats(0, 0.8), st.floats(0.001, 0.9))
_lights = st.builds(
    LightState,
    on=st.none() | st.booleans(),
    brightness=st.none() | st.floats(0, 100),
    color_temp_k=st.none() | st.integers(1500, 7000),
    color_xy=st.none() | _xy,
)
_climates = st.builds(
    ClimateState,
    target_c=st.none() | st.floats(5, 35),
    mode=st.none() | st.sampled_from(["off", "heat", "cool", "auto"]),
)
_audios = st.builds(
    AudioState,
    state=st.none() | st.sampled_from(["play", "pause", "stop"]),
    volume=st.none() | st.integers(0, 100),
    playlist=st.none() | st.text(min_size=1).filter(str.strip),
)
_scents = st.builds(
    ScentState,
    on=st.none() | st.booleans(),
    intensity=st.none() | st.integers(0, 100),
    name=st.none() | st.text(min_size=1).filter(str.strip),
)
_KIND = {LightState: "light", ClimateState: "thermostat", AudioState: "speaker", ScentState: "scent"}


@given(st.one_of(_lights, _climates, _audios, _scents), st.sampled_from([(153, 500), (153, 454), (250, 454)]))
def test_a_device_echoing_our_command_satisfies_it(desired: DeviceState, mired_range: tuple[int, int]) -> None:
    payload = to_z2m(desired, transition_s=1, mired_range=mired_range)
    echoed = {k: v for k, v in payload.items() if k != "transition"}
    reported = from_z2m(_KIND[type(desired)], json.loads(json.dumps(echoed)))
    assert differences(desired, reported, mired_range=mired_range) is None


def test_real_payloads_survive_a_round_trip() -> None:
    light = from_z2m("light", HUE_BULB)
    assert from_z2m("light", {**to_z2m(light), "color_mode": "color_temp"}) == light
    radiator = from_z2m("thermostat", RADIATOR)
    echoed = {**to_z2m(radiator), "local_temperature": 20.5}
    assert from_z2m("thermostat", echoed) == radiator


# ---- availability and JSON ---------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("payload", "online"),
    [
        (b'{"state":"online"}', True),
        (b'{"state":"offline"}', False),
        (b'{"state": " ONLINE "}', True),
        (b"online", True),
        (b"offline", False),
        (b"  Online\n", True),
        (b"OFFLINE", False),
        (b"", None),
        (b"maybe", None),
        (b'{"state":"away"}', None),
        (b'{"state":1}', None),
        (b'{"online":true}', None),
        (b'"online"', None),
        (b"\xff\xfe", None),
        (b"[1, 2]", None),
    ],
)
def test_availability_in_both_forms_and_garbage(payload: bytes, online: bool | None) -> None:
    assert parse_availability(payload) is online


@pytest.mark.parametrize(
    ("payload", "decoded"),
    [
        (b'{"state":"ON","brightness":254}', {"state": "ON", "brightness": 254}),
        (b"{}", {}),
        (b"[]", None),
        (b"42", None),
        (b'"ON"', None),
        (b"null", None),
        (b"{", None),
        (b"", None),
        (b"\xff", None),
        (b'{"brightness": NaN}', None),
        (b'{"brightness": Infinity}', None),
        (b"[" * 100_000, None),
    ],
)
def test_decode_json_object(payload: bytes, decoded: dict[str, object] | None) -> None:
    assert decode_json_object(payload) == decoded


def test_a_number_too_large_for_a_float_is_garbage_not_an_error() -> None:
    """Before: a 400-digit brightness raised OverflowError (with a traceback per message)."""
    huge = int("9" * 400)
    assert from_z2m("light", {"state": "ON", "brightness": huge, "color_temp": huge}) == LightState(on=True)
    assert from_z2m("thermostat", {"local_temperature": -huge}) == ClimateState()
    assert from_z2m("speaker", {"playlist": "lofi\ud800", "volume": huge}) == AudioState()
