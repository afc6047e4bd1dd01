"""Retention's clock: the wall clock when it agrees with what the venue knows, never one that jumped ahead."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from hypothesis import given
from hypothesis import strategies as st

from controller.core.retention import clock_tolerance, judge_clock, start_time

TOLERANCE = clock_tolerance(90)

T0 = datetime(2026, 3, 1, 12, 0, tzinfo=UTC)


def test_a_sane_clock_is_believed() -> None:
    judged = judge_clock(T0, 100.0, T0 + timedelta(hours=5, seconds=3), 100.0 + 5 * 3600, TOLERANCE)
    assert judged.prune_by == T0 + timedelta(hours=5, seconds=3)
    assert judged.trusted == judged.prune_by
    assert judged.ahead is None


def test_a_clock_100_days_ahead_is_not_believed() -> None:
    """Before: a service started with the clock 100 days ahead pruned all history within a second."""
    judged = judge_clock(T0, 0.0, T0 + timedelta(days=100), 60.0, TOLERANCE)
    assert judged.prune_by == T0 + timedelta(seconds=60)
    assert judged.ahead == timedelta(days=100) - timedelta(seconds=60)
    # and the next look, an hour later, still goes by the trusted time
    again = judge_clock(judged.trusted, 60.0, T0 + timedelta(days=100, hours=1), 3660.0, TOLERANCE)
    assert again.prune_by == T0 + timedelta(seconds=3660)


def test_a_clock_behind_deletes_less_and_does_not_lower_the_trusted_time() -> None:
    judged = judge_clock(T0, 0.0, T0 - timedelta(days=30), 10.0, TOLERANCE)
    assert judged.prune_by == T0 - timedelta(days=30)
    assert judged.trusted == T0 + timedelta(seconds=10)


@given(st.floats(0, 10 * 86400), st.floats(-200 * 86400, 200 * 86400, allow_nan=False), st.floats(0, 30 * 86400))
def test_pruning_never_goes_by_a_time_later_than_the_trusted_time_plus_the_tolerance(
    uptime: float, skew: float, mono0: float
) -> None:
    real_now = T0 + timedelta(seconds=uptime)
    judged = judge_clock(T0, mono0, real_now + timedelta(seconds=skew), mono0 + uptime, TOLERANCE)
    assert judged.prune_by <= real_now + TOLERANCE
    assert judged.trusted <= real_now + TOLERANCE


def test_a_long_weekend_is_believed_a_jump_of_months_is_not() -> None:
    assert clock_tolerance(90) == timedelta(days=7) and clock_tolerance(8) == timedelta(days=2)
    weekend = judge_clock(T0, 0.0, T0 + timedelta(days=3), 5.0, clock_tolerance(90))
    assert weekend.ahead is None and weekend.prune_by == T0 + timedelta(days=3)


def test_a_restart_goes_on_doubting_a_clock_the_last_run_doubted() -> None:
    later = T0 + timedelta(days=100)  # the newest event, stamped by the clock that was doubted
    assert start_time({"trusted": T0.isoformat(), "suspect": True}, later, later) == T0
    assert start_time({"trusted": T0.isoformat(), "suspect": False}, later, later) == later
    assert start_time(None, T0, later) == T0
    assert start_time(None, None, later) == later
