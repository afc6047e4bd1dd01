"""The per-device pacing rules: a leading-edge window, and a growing hold for a device that flaps."""

from __future__ import annotations

import itertools

from hypothesis import given
from hypothesis import strategies as st

from controller.core.pacing import Pacer


def test_the_first_command_goes_out_at_once_and_the_next_waits_for_the_window() -> None:
    pacer = Pacer(window_s=0.25)
    assert pacer.admit("lamp", 100.0) is None
    assert pacer.admit("lamp", 100.1) == 100.25
    assert pacer.admit("other", 100.1) is None  # windows are per device
    assert pacer.admit("lamp", 100.25) is None


def test_a_single_return_is_not_held() -> None:
    pacer = Pacer()
    assert pacer.came_back("lamp", 10.0) == 0.0
    assert pacer.admit("lamp", 10.0) is None


def test_returns_in_quick_succession_are_held_longer_each_time_up_to_the_maximum() -> None:
    pacer = Pacer(window_s=0.25, flap_base_s=1.0, flap_max_s=8.0, flap_memory_s=60.0)
    holds = [pacer.came_back("lamp", float(t)) for t in range(0, 70, 10)]
    assert holds == [0.0, 1.0, 2.0, 4.0, 8.0, 8.0, 8.0]
    assert pacer.flapping("lamp") == 6
    assert pacer.admit("lamp", 60.5) == 68.0  # held, with the time it may go out
    assert pacer.admit("lamp", 68.0) is None


def test_a_device_that_stayed_away_long_enough_is_not_flapping_any_more() -> None:
    pacer = Pacer(flap_memory_s=60.0)
    pacer.came_back("lamp", 0.0)
    assert pacer.came_back("lamp", 5.0) > 0
    assert pacer.came_back("lamp", 100.0) == 0.0
    assert pacer.flapping("lamp") == 0


@given(st.lists(st.floats(min_value=0, max_value=10_000), min_size=1, max_size=200))
def test_at_most_one_command_per_window_whatever_the_timing(times: list[float]) -> None:
    pacer = Pacer(window_s=0.25)
    sent = [t for t in sorted(times) if pacer.admit("lamp", t) is None]
    assert all(b - a >= 0.25 for a, b in itertools.pairwise(sent))


@given(st.lists(st.floats(min_value=0, max_value=1_000), min_size=2, max_size=50))
def test_a_flapping_device_gets_at_most_one_command_per_hold(returns: list[float]) -> None:
    """However a device flaps, after each held return it gets nothing before that hold is over."""
    pacer = Pacer(window_s=0.25, flap_base_s=1.0, flap_max_s=30.0)
    for at in sorted(returns):
        hold = pacer.came_back("lamp", at)
        if hold > 0:
            held_until = pacer.admit("lamp", at + hold * 0.99)
            assert held_until is not None
            assert held_until >= at + hold
