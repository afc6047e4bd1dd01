"""Which clock retention may prune by: the wall clock when it agrees with what the venue knows, else a safe one.

Pruning deletes events older than `now - retention_days`, so a wall clock that jumped forward (a Pi without a
real-time clock, a wrong NTP answer, an operator's typo) would delete history that a sane clock keeps, and nothing
brings it back when the clock is set right. So retention keeps its own *trusted* time: a moment certainly not
later than the real now (the newest event the record held at start, or the trusted time last saved), advanced by
the monotonic clock, which no one sets. A wall clock more than `tolerance` ahead of it is not believed: pruning
goes by the trusted time instead (it deletes less, never more), the venue records `retention_held`, and the doubt
is saved, so a restart with the clock still wrong does not adopt it from the events it stamped. A wall clock behind
the trusted time deletes less too, so pruning goes by it then, without lowering the trusted time; one that comes
back within the tolerance (set right) is believed again.

The price of caution: after the venue was switched off for longer than the tolerance, the trusted time stays that
much behind (the monotonic clock does not count the downtime), so the record keeps that much more history.

Pure: every reading is an argument.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

__all__ = ["PruneClock", "clock_tolerance", "judge_clock", "start_time"]


def clock_tolerance(retention_days: int) -> timedelta:
    """How far the wall clock may run ahead of the trusted time and still be believed: a week (a venue closed over
    a long weekend, a Pi without a real-time clock set by NTP after booting with the time it shut down), or a
    quarter of the retention when that is shorter. Within it, a jump can only prune early what was about to go
    anyway; beyond it, the clock is not believed."""
    return min(timedelta(days=7), timedelta(days=retention_days) / 4)


def start_time(saved: Mapping[str, Any] | None, newest: datetime | None, wall: datetime) -> datetime:
    """The trusted time to start from: what the last run saved, and nothing later if it doubted the wall clock (a
    restart must not adopt a doubted clock from the events it stamped); else the newest event, stamped by a clock
    that was believed."""
    if saved is None:
        return newest or wall
    trusted = datetime.fromisoformat(str(saved["trusted"]))
    if saved.get("suspect") or newest is None:
        return trusted
    return max(trusted, newest)


@dataclass(frozen=True, slots=True)
class PruneClock:
    prune_by: datetime
    """The `now` retention may use."""
    trusted: datetime
    """The trusted time to keep (and save) from here on."""
    ahead: timedelta | None
    """How far the wall clock is ahead of the trusted time, when it was not believed."""


def judge_clock(
    trusted: datetime, trusted_mono: float, wall: datetime, mono: float, tolerance: timedelta
) -> PruneClock:
    """`trusted` was a safe time when the monotonic clock read `trusted_mono`; now it reads `mono` and the wall
    clock says `wall`."""
    expected = trusted + timedelta(seconds=max(0.0, mono - trusted_mono))
    if wall - expected > tolerance:
        return PruneClock(prune_by=expected, trusted=expected, ahead=wall - expected)
    if wall < expected:
        return PruneClock(prune_by=wall, trusted=expected, ahead=None)
    return PruneClock(prune_by=wall, trusted=wall, ahead=None)
