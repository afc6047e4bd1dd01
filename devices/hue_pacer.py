"""Pacing and coalescing of one Hue bridge's commands: latest state wins, the bridge's limits are never exceeded.

Philips' guidance for the v1 API is about 10 light commands per second and 1 group command per second per
bridge; above that the bridge's Zigbee queue overflows and commands are lost without an error. A burst that
needs more is coalesced (per key, the newer body's fields override the older's) and spread over the following
windows, never dropped. A group command counts against the group budget only.

Pure: time is an argument (the caller passes `time.monotonic()`, which must not go backwards), no I/O, no
clock. The service calls `submit` as changes are planned, `due` when `next_due` says, and sends what `due`
returns from a worker thread.

Group and light commands that touch the same light must not overtake each other in a way that changes the
outcome, because the budgets are separate and either may wait. So the pending commands are kept *commuting*:
when a newer command makes fields of an older, overlapping one moot, those fields are removed from the older
one (or, when the older is a group only partly covered by the newer, that group is first split into light
commands). Any two pending commands that touch a common light then set disjoint fields, and the order in which
`due` sends them does not matter. Bodies are absolute states (`bri`, not `bri_inc`) and set at most one colour
mode (`xy`, `ct`, or `hue` with `sat`), as `devices.hue.to_hue` makes them.
"""

from __future__ import annotations

import math
from collections import deque
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Any, Literal, TypeAlias

Kind: TypeAlias = Literal["light", "group"]
Key: TypeAlias = tuple[Kind, str]
Body: TypeAlias = dict[str, Any]

LIGHT_COMMANDS_PER_WINDOW = 10
GROUP_COMMANDS_PER_WINDOW = 1
WINDOW_S = 1.0

# Fields that describe a command rather than the light's state: shared by two commands without any conflict.
_COMMAND_FIELDS = frozenset({"transitiontime"})
# The bridge's colour modes and the fields that set each; a body that sets one mode leaves the light in it.
_COLOR_MODES: tuple[frozenset[str], ...] = (frozenset({"xy"}), frozenset({"ct"}), frozenset({"hue", "sat"}))
_COLOR_FIELDS = frozenset().union(*_COLOR_MODES)


def superseded(older: Mapping[str, Any], newer: Mapping[str, Any]) -> frozenset[str]:
    """The fields of `older` whose effect `newer` undoes on a light it also reaches.

    A field both set (the newer value wins), and any colour field of a mode `newer` does not set (setting a
    colour mode leaves the other modes' values unused).
    """
    gone = set(older.keys() & newer.keys()) - _COMMAND_FIELDS
    newer_modes = [mode for mode in _COLOR_MODES if mode & newer.keys()]
    if newer_modes:
        gone |= (older.keys() & _COLOR_FIELDS) - frozenset().union(*newer_modes)
    return frozenset(gone)


def merge_bodies(older: Mapping[str, Any], newer: Mapping[str, Any]) -> Body:
    """Coalesce two bodies for the same target: newer's fields over older's, nothing else lost."""
    gone = superseded(older, newer)
    return {name: value for name, value in older.items() if name not in gone} | dict(newer)


def _has_state(body: Mapping[str, Any]) -> bool:
    """A body with only a transition time changes nothing and is not worth a command."""
    return bool(body.keys() - _COMMAND_FIELDS)


@dataclass(slots=True)
class _Pending:
    body: Body
    members: frozenset[str]  # the lights this command reaches
    order: int  # first submission, for oldest-first fairness; kept when merged


class HuePacer:
    """One bridge's outgoing commands: coalesced per key, released within the light and group budgets."""

    def __init__(
        self,
        *,
        light_limit: int = LIGHT_COMMANDS_PER_WINDOW,
        group_limit: int = GROUP_COMMANDS_PER_WINDOW,
        window_s: float = WINDOW_S,
    ) -> None:
        if light_limit < 1 or group_limit < 1 or window_s <= 0:
            raise ValueError("limits must be at least 1 and the window positive")
        self._limits: dict[Kind, int] = {"light": light_limit, "group": group_limit}
        self._window = window_s
        self._sent: dict[Kind, deque[float]] = {"light": deque(), "group": deque()}
        self._pending: dict[Key, _Pending] = {}
        self._counter = 0

    def __len__(self) -> int:
        """How many commands wait."""
        return len(self._pending)

    def pending(self) -> dict[Key, Body]:
        """What waits, oldest first (a copy, for status pages and tests)."""
        return {key: dict(p.body) for key, p in self._ordered()}

    def submit(self, key: Key, body: Mapping[str, Any], now: float, *, members: Iterable[str] | None = None) -> None:
        """Queue `body` for `key`, merged over what already waits for it.

        `members` are the light ids a group reaches (required for a group key: without them a light command
        could overtake the group's and be undone by it). `now` is accepted for symmetry with `due`; fairness is
        by submission order. A body with nothing but a transition time is ignored.
        """
        kind, ident = key
        if kind == "light":
            reach = frozenset({ident})
        elif kind == "group":
            if members is None:
                raise ValueError(f"group {ident}: members are required")
            reach = frozenset(members)
        else:
            raise ValueError(f"unknown command kind: {kind!r}")
        if not _has_state(body) or not reach:
            return
        current = self._pending.get(key)
        if current is not None and current.members != reach:  # the group was edited on the bridge since
            self._split(key)
        self._make_room(key, body, reach)
        current = self._pending.get(key)
        if current is None:
            self._counter += 1
            self._pending[key] = _Pending(dict(body), reach, self._counter)
        else:
            current.body = merge_bodies(current.body, body)

    def due(self, now: float, limit: int | None = None) -> list[tuple[Key, Body]]:
        """What may be sent now (at most `limit`), oldest first, within both budgets; each counted as sent at `now`."""
        out: list[tuple[Key, Body]] = []
        room = {kind: self._room(kind, now) for kind in self._limits}
        for key, pending in self._ordered():
            if limit is not None and len(out) >= limit:
                break
            kind = key[0]
            if room[kind] > 0:
                room[kind] -= 1
                self._sent[kind].append(now)
                del self._pending[key]
                out.append((key, pending.body))
        return out

    def clear(self) -> None:
        """Forget what waits (the bridge has gone away: its lights are re-planned when it answers again)."""
        self._pending.clear()

    def answered(self, kind: Kind, at: float) -> None:
        """The last command of `kind` that `due` released was answered at `at`: count it from then.

        The bridge counts a command when it arrives, which is after `due` released it and before its answer.
        Counting from the answer keeps the bridge's own sliding window within the limit whatever each request's
        latency. For a sender that sends one command at a time (`due(now, limit=1)`), in order.
        """
        sent = self._sent[kind]
        if sent:
            sent[-1] = max(sent[-1], at)

    def next_due(self, now: float) -> float | None:
        """When `due` will next return something: `now` if it would now, None when nothing waits."""
        waiting = {key[0] for key in self._pending}
        times = []
        for kind in waiting:
            if self._room(kind, now) > 0:
                return now
            times.append(self._free_at(self._sent[kind][0]))
        return min(times, default=None)

    # ---- internals ---------------------------------------------------------------------------------------

    def _ordered(self) -> list[tuple[Key, _Pending]]:
        return sorted(self._pending.items(), key=lambda item: (item[1].order, item[0]))

    def _room(self, kind: Kind, now: float) -> int:
        """Commands of `kind` still allowed in the window ending at `now` (a send at t counts until t + window)."""
        sent = self._sent[kind]
        while sent and now - sent[0] >= self._window:
            sent.popleft()
        return self._limits[kind] - len(sent)

    def _free_at(self, sent_at: float) -> float:
        """The first time at which `_room` no longer counts a send at `sent_at`. Not simply `sent_at + window`:
        in floating point `(t + w) - t` can fall short of `w`, and `next_due` must never promise too early."""
        at = sent_at + self._window
        while at - sent_at < self._window:
            at = math.nextafter(at, math.inf)
        return at

    def _make_room(self, key: Key, body: Mapping[str, Any], reach: frozenset[str]) -> None:
        """Keep pending commands commuting with the new `body`: strip what it makes moot from the ones it covers,
        after splitting the groups it covers only partly."""
        for other in [k for k, p in self._pending.items() if k != key and self._conflicts(p, body, reach)]:
            if not self._pending[other].members <= reach:
                self._split(other)
        for other, pending in list(self._pending.items()):
            if other != key and self._conflicts(pending, body, reach):
                gone = superseded(pending.body, body)
                pending.body = {name: value for name, value in pending.body.items() if name not in gone}
                if not _has_state(pending.body):
                    del self._pending[other]

    @staticmethod
    def _conflicts(pending: _Pending, body: Mapping[str, Any], reach: frozenset[str]) -> bool:
        return bool(pending.members & reach) and bool(superseded(pending.body, body))

    def _split(self, key: Key) -> None:
        """Replace a pending group command by the same body for each of its lights (merged with theirs, which
        commute with it), keeping the older of the two places in the queue."""
        group = self._pending.pop(key)
        for light in sorted(group.members):
            light_key: Key = ("light", light)
            existing = self._pending.get(light_key)
            if existing is None:
                self._pending[light_key] = _Pending(dict(group.body), frozenset({light}), group.order)
            else:
                existing.body = merge_bodies(existing.body, group.body)
                existing.order = min(existing.order, group.order)
