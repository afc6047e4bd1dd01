"""What the planner sends: differences within named tolerances, apply and merge, and their algebra."""

from __future__ import annotations

import dataclasses

import pytest
from hypothesis import given
from hypothesis import strategies as st

from devices.compare import (
    BRIGHTNESS_TOLERANCE_PCT,
    TARGET_C_TOLERANCE,
    XY_TOLERANCE,
    apply,
    differences,
    meaningful_change,
    merge,
)
from devices.states import AudioState, ClimateState, DeviceState, LightState, ScentState

WARM = LightState(on=True, brightness=70, color_temp_k=2700)


# ---- differences: examples --------------------------------------------------------------------------------


def test_never_heard_from_means_everything_desired() -> None:
    assert differences(WARM, None) == WARM
    assert differences(ClimateState(target_c=21, local_temp_c=19), None) == ClimateState(target_c=21)
    assert differences(LightState(on=False, brightness=40), None) == LightState(on=False)
    assert differences(LightState(), None) is None


def test_echo_within_tolerance_is_no_difference() -> None:
    reported = LightState(on=True, brightness=70 + BRIGHTNESS_TOLERANCE_PCT, color_temp_k=2703)
    assert differences(WARM, reported) is None


def test_only_what_differs_is_sent() -> None:
    reported = LightState(on=True, brightness=40, color_temp_k=2703)
    assert differences(WARM, reported) == LightState(brightness=70)


def test_colour_temperature_compares_in_mireds() -> None:
    # 6500 K and 6300 K are 154 and 159 mireds: a difference; 2700 K and 2720 K are 370 and 368: not.
    assert differences(LightState(color_temp_k=6500), LightState(color_temp_k=6300)) is not None
    assert differences(LightState(color_temp_k=2700), LightState(color_temp_k=2720)) is None


def test_clamped_colour_temperature_is_satisfied_within_the_device_range() -> None:
    desired, reported = LightState(color_temp_k=2000), LightState(color_temp_k=2203)  # 454 mired
    assert differences(desired, reported) == desired
    assert differences(desired, reported, mired_range=(250, 454)) is None


def test_xy_compares_by_distance() -> None:
    desired = LightState(color_xy=(0.5, 0.4))
    assert differences(desired, LightState(color_xy=(0.5 + XY_TOLERANCE * 0.7, 0.4 + XY_TOLERANCE * 0.7))) is None
    assert differences(desired, LightState(color_xy=(0.5 + XY_TOLERANCE, 0.4 + XY_TOLERANCE))) == desired


def test_colour_mode_mismatch_differs() -> None:
    in_xy = LightState(on=True, brightness=70, color_xy=(0.4573, 0.41))
    assert differences(WARM, in_xy) == LightState(color_temp_k=2700)
    assert differences(LightState(color_xy=(0.4573, 0.41)), WARM) == LightState(color_xy=(0.4573, 0.41))


def test_both_colour_fields_travel_together() -> None:
    desired = LightState(color_temp_k=2700, color_xy=(0.4573, 0.41))
    assert differences(desired, LightState(color_temp_k=2700)) == desired


def test_light_desired_off_differs_only_in_on() -> None:
    desired = LightState(on=False, brightness=70, color_temp_k=2700)
    assert differences(desired, LightState(on=False, brightness=5, color_xy=(0.2, 0.2))) is None
    assert differences(desired, LightState(on=True, brightness=5)) == LightState(on=False)
    assert differences(desired, LightState()) == LightState(on=False)


def test_light_desired_on_whose_report_is_off_needs_on_and_what_differs() -> None:
    reported = LightState(on=False, brightness=40, color_temp_k=2700)
    assert differences(WARM, reported) == LightState(on=True, brightness=70)


def test_thermostat_half_degree_steps_and_local_temperature() -> None:
    desired = ClimateState(target_c=21.25, mode="heat", local_temp_c=30)
    assert differences(desired, ClimateState(target_c=21.5, mode="heat", local_temp_c=19)) is None
    assert differences(desired, ClimateState(target_c=21.25 + TARGET_C_TOLERANCE + 0.01, mode="heat")) == (
        ClimateState(target_c=21.25)
    )
    assert differences(desired, ClimateState(target_c=21, mode="off")) == ClimateState(mode="heat")


def test_speaker_and_scent_compare_exactly() -> None:
    assert differences(AudioState(state="play", volume=35, playlist="a"), AudioState("play", 34, "a")) == (
        AudioState(volume=35)
    )
    assert differences(ScentState(on=True, name="cedar"), ScentState(on=True, intensity=9, name="rose")) == (
        ScentState(name="cedar")
    )


def test_different_kinds_are_a_programming_error() -> None:
    with pytest.raises(TypeError):
        differences(LightState(on=True), ScentState(on=True))


# ---- apply and merge: examples ----------------------------------------------------------------------------


def test_apply_overwrites_and_follows_colour_mode() -> None:
    reported = LightState(on=True, brightness=40, color_temp_k=2700)
    assert apply(reported, LightState(color_xy=(0.5, 0.4))) == LightState(on=True, brightness=40, color_xy=(0.5, 0.4))
    assert apply(LightState(color_xy=(0.5, 0.4)), LightState(color_temp_k=3000)) == LightState(color_temp_k=3000)
    assert apply(None, ClimateState(mode="heat")) == ClimateState(mode="heat")
    assert apply(ClimateState(local_temp_c=19), ClimateState(target_c=21)) == ClimateState(21, None, 19)


def test_merge_latest_state_wins() -> None:
    older = LightState(on=True, brightness=70, color_temp_k=2700)
    assert merge(older, LightState(brightness=40)) == LightState(on=True, brightness=40, color_temp_k=2700)
    assert merge(older, LightState(color_xy=(0.5, 0.4))) == LightState(on=True, brightness=70, color_xy=(0.5, 0.4))
    assert merge(AudioState(volume=30, playlist="a"), AudioState(state="stop")) == AudioState("stop", 30, "a")


# ---- the algebra, for every kind of state -----------------------------------------------------------------

_xy = st.tuples(st.floats(0, 1), st.floats(0, 1))
_lights = st.builds(
    LightState,
    on=st.none() | st.booleans(),
    brightness=st.none() | st.floats(0, 100),
    color_temp_k=st.none() | st.integers(1000, 12000),
    color_xy=st.none() | _xy,
)
_climates = st.builds(
    ClimateState,
    target_c=st.none() | st.floats(0, 50),
    mode=st.none() | st.sampled_from(["off", "heat", "cool", "auto"]),
    local_temp_c=st.none() | st.floats(-20, 40),
)
_audios = st.builds(
    AudioState,
    state=st.none() | st.sampled_from(["play", "pause", "stop"]),
    volume=st.none() | st.integers(0, 100),
    playlist=st.none() | st.sampled_from(["lofi", "jazz", ""]),
)
_scents = st.builds(
    ScentState,
    on=st.none() | st.booleans(),
    intensity=st.none() | st.integers(0, 100),
    name=st.none() | st.sampled_from(["cedar", "rose"]),
)
_KINDS: dict[type[DeviceState], st.SearchStrategy[DeviceState]] = {
    LightState: _lights,
    ClimateState: _climates,
    AudioState: _audios,
    ScentState: _scents,
}
_mired_ranges = st.sampled_from([(153, 500), (153, 454), (250, 454)])


@st.composite
def _desired_and_reported(draw: st.DrawFn) -> tuple[DeviceState, DeviceState | None]:
    states = _KINDS[draw(st.sampled_from(list(_KINDS)))]
    return draw(states), draw(st.none() | states)


@given(_desired_and_reported(), _mired_ranges)
def test_applying_the_differences_leaves_nothing_to_do(
    pair: tuple[DeviceState, DeviceState | None], mired_range: tuple[int, int]
) -> None:
    desired, reported = pair
    change = differences(desired, reported, mired_range=mired_range) or type(desired)()
    after = apply(reported, change)
    assert differences(desired, after, mired_range=mired_range) is None


@given(st.one_of(_lights, _climates, _audios, _scents), _mired_ranges)
def test_a_state_never_differs_from_itself(state: DeviceState, mired_range: tuple[int, int]) -> None:
    assert differences(state, state, mired_range=mired_range) is None


@given(_desired_and_reported())
def test_differences_are_a_subset_of_desired(pair: tuple[DeviceState, DeviceState | None]) -> None:
    desired, reported = pair
    change = differences(desired, reported)
    if change is not None:
        assert type(change) is type(desired)
        for field in dataclasses.fields(change):
            value = getattr(change, field.name)
            assert value is None or value == getattr(desired, field.name)


@given(_desired_and_reported())
def test_merging_with_an_empty_change_changes_nothing(pair: tuple[DeviceState, DeviceState | None]) -> None:
    desired, _ = pair
    assert merge(desired, type(desired)()) == desired
    assert merge(type(desired)(), desired) == desired


def test_a_meaningful_change_is_one_beyond_the_tolerances() -> None:
    lamp = LightState(on=True, brightness=78.74, color_temp_k=2703)
    assert not meaningful_change(LightState(on=True, brightness=79.13, color_temp_k=2703), lamp)
    assert meaningful_change(LightState(on=True, brightness=47.24, color_temp_k=2703), lamp)
    assert meaningful_change(LightState(on=False), lamp)  # a field gone is news too
    assert meaningful_change(lamp, None)
    room = ClimateState(target_c=21.0, mode="heat", local_temp_c=20.0)
    assert not meaningful_change(ClimateState(target_c=21.0, mode="heat", local_temp_c=20.01), room)
    assert meaningful_change(ClimateState(target_c=21.0, mode="heat", local_temp_c=20.1), room)
