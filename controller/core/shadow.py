"""The device shadow: what each device last reported, whether it is online, and what we asked of it.

`pending` is what we commanded and the device has not yet confirmed. The planner counts it as done until
`retry_at`, so a command is not sent again while its echo is on the way; a device that never confirms is retried
with a growing interval instead of being flooded.
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from datetime import datetime, timedelta

from devices.compare import apply, differences, merge
from devices.states import DeviceState
from devices.units import DEFAULT_MIRED_RANGE, MiredRange

FIRST_RETRY = timedelta(seconds=5)
MAX_RETRY = timedelta(minutes=5)


@dataclass(frozen=True, slots=True)
class Shadow:
    reported: DeviceState | None = None
    online: bool | None = None  # None: the device has said nothing about its availability
    last_seen: datetime | None = None
    pending: DeviceState | None = None
    retry_at: datetime | None = None
    attempts: int = 0
    resync: bool = False  # came back online: send it the whole desired state, not just the difference
    override_until: datetime | None = None  # a person changed the device: leave it alone until then

    def overridden(self, now: datetime) -> bool:
        return self.override_until is not None and now < self.override_until

    def expected(self, now: datetime) -> DeviceState | None:
        """The state the device will be in once our pending command lands (while we still wait for it)."""
        if self.pending is not None and self.retry_at is not None and now < self.retry_at:
            return apply(self.reported, self.pending)
        return self.reported


def on_report(
    shadow: Shadow,
    state: DeviceState,
    now: datetime,
    *,
    live: bool = True,
    mired_range: MiredRange = DEFAULT_MIRED_RANGE,
) -> Shadow:
    """A state message arrived. A device that reports *live* is online, whatever its availability topic said.

    A retained report (delivered because we subscribed) is what the device last said, perhaps long ago: it tells
    us the state, not that the device is there.
    """
    pending = shadow.pending
    attempts = shadow.attempts
    if pending is not None and differences(pending, state, mired_range=mired_range) is None:
        pending, attempts = None, 0
    if not live:
        return replace(shadow, reported=state, pending=pending, attempts=attempts)
    came_back = shadow.online is False
    return replace(
        shadow,
        reported=state,
        online=True,
        last_seen=now,
        pending=pending,
        retry_at=shadow.retry_at if pending is not None else None,
        attempts=attempts,
        resync=shadow.resync or came_back,
    )


def on_availability(shadow: Shadow, online: bool, now: datetime) -> Shadow:
    came_back = online and shadow.online is False
    return replace(
        shadow,
        online=online,
        last_seen=now if online else shadow.last_seen,
        resync=shadow.resync or came_back,
        # Nothing is queued for an offline device: when it returns it is planned afresh from the desired state.
        pending=None if not online else shadow.pending,
        retry_at=None if not online else shadow.retry_at,
        attempts=0 if not online else shadow.attempts,
    )


def is_manual_change(
    shadow: Shadow,
    state: DeviceState,
    desired: DeviceState | None,
    now: datetime,
    mired_range: MiredRange = DEFAULT_MIRED_RANGE,
) -> bool:
    """A live report that no command of ours explains: the device was online and had confirmed everything we
    sent, its state really changed (not a periodic or repeated report), and it moved away from what we want.

    A device coming back from offline with its old state is not one (it is re-sent the desired state instead);
    nor are our own echoes, which compare within the tolerances of `devices.compare`.
    """
    if shadow.online is not True or shadow.reported is None or shadow.resync:
        return False
    if shadow.pending is not None and shadow.retry_at is not None and now < shadow.retry_at:
        return False  # our command is still on its way: this may be its echo, or a fade settling
    if desired is None or differences(state, shadow.reported, mired_range=mired_range) is None:
        return False
    return differences(desired, state, mired_range=mired_range) is not None


def on_override(shadow: Shadow, until: datetime) -> Shadow:
    return replace(shadow, override_until=until, pending=None, retry_at=None, attempts=0)


def on_command(shadow: Shadow, change: DeviceState, now: datetime) -> Shadow:
    """We sent `change`. Only a real retry (nothing pending, or the wait for it is over) grows the interval: a new
    command while an earlier one is awaited must not push that one's retry further away, or a device that obeys
    every new command would wait minutes for the one attribute whose command was lost."""
    pending = change if shadow.pending is None else merge(shadow.pending, change)
    if shadow.pending is None or shadow.retry_at is None or now >= shadow.retry_at:
        delay = min(FIRST_RETRY * (2**shadow.attempts), MAX_RETRY)
        return replace(shadow, pending=pending, retry_at=now + delay, attempts=shadow.attempts + 1, resync=False)
    delay = min(FIRST_RETRY * (2 ** max(0, shadow.attempts - 1)), MAX_RETRY)
    return replace(shadow, pending=pending, retry_at=min(shadow.retry_at, now + delay), resync=False)
