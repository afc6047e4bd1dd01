"""Who is here: members checked in, per community. Pure values and functions; time is an argument.

A check-in is idempotent per member (a second check-in changes nothing, not even the expiry), a member who checks
in for another community moves there, and a member not checked out expires `ttl` after checking in.

Cost does not grow with the room: a `Presence` is a persistent value (hash-array mapped tries, `immutables.Map`),
so a check-in makes a new one in O(log n) that shares all but a path with the old one, which stays valid and
unchanged. Each community keeps its count and its earliest check-ins (`_FIRSTS` of them, sorted), which answer
the headcount, when a community reached its quorum and who expires next without looking at every member. Only
when the earliest of a community have left (or a quorum is larger than `_FIRSTS`) is that community scanned
again, once, and the answer kept with the value.
"""

from __future__ import annotations

import bisect
import heapq
from collections.abc import Iterable, Iterator, Mapping
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from enum import Enum

import immutables

__all__ = ["CheckIn", "Member", "Members", "Presence", "check_in", "check_out", "expire", "next_expiry"]

_FIRSTS = 16
"""How many of each community's earliest check-ins are kept sorted: enough for any everyday quorum."""


@dataclass(frozen=True, slots=True)
class Member:
    member_id: str
    community_id: str
    checked_in_at: datetime


class CheckIn(Enum):
    NEW = "new"
    ALREADY_PRESENT = "already_present"
    MOVED = "moved"  # was present for another community


class Members(Mapping[str, Member]):
    """Member id -> member, read-only; equal to any mapping with the same items (a dict in a test, say)."""

    __slots__ = ("_map",)

    def __init__(self, members: immutables.Map[str, Member] | None = None) -> None:
        self._map: immutables.Map[str, Member] = immutables.Map() if members is None else members

    def __getitem__(self, member_id: str) -> Member:
        return self._map[member_id]

    def __iter__(self) -> Iterator[str]:
        return iter(self._map)

    def __len__(self) -> int:
        return len(self._map)

    def __contains__(self, member_id: object) -> bool:
        return member_id in self._map

    def __eq__(self, other: object) -> bool:
        if isinstance(other, Members):
            return self._map == other._map
        return super().__eq__(other)

    __hash__ = None  # type: ignore[assignment]

    def __repr__(self) -> str:
        return f"Members({dict(self._map)!r})"


_Entry = tuple[datetime, str]  # (checked in at, member id): sorts by time, then id


@dataclass(frozen=True, slots=True)
class _Community:
    count: int
    firsts: tuple[_Entry, ...]
    """The community's earliest check-ins, sorted: always its `len(firsts)` earliest, all of them when that is
    `count`; fewer than `min(count, _FIRSTS)` only after some of the earliest left (then refilled by a scan)."""

    @property
    def complete(self) -> bool:
        return len(self.firsts) == self.count


@dataclass(frozen=True, slots=True)
class Presence:
    members: Members = field(default_factory=Members)
    _communities: immutables.Map[str, _Community] = field(default_factory=immutables.Map, repr=False)
    _scans: dict[str, tuple[_Entry, ...]] = field(default_factory=dict, compare=False, repr=False)
    """Sorted entries of a community computed by a scan of this value, kept with it (it never changes)."""

    @staticmethod
    def of(members: Iterable[Member]) -> Presence:
        presence = Presence()
        for member in sorted(members, key=lambda m: (m.checked_in_at, m.member_id)):
            presence, _, _ = check_in(presence, member.member_id, member.community_id, member.checked_in_at)
        return presence

    def headcount(self) -> dict[str, int]:
        return {c: entry.count for c, entry in self._communities.items()}

    def count(self, community_id: str) -> int:
        entry = self._communities.get(community_id)
        return 0 if entry is None else entry.count

    @property
    def total(self) -> int:
        return len(self.members)

    def checkin_times(self, community_id: str) -> list[datetime]:
        """Every check-in time of the community's present members, oldest first (scans the community)."""
        return [at for at, _ in self._sorted(community_id, None)]

    def nth_checkin(self, community_id: str, n: int) -> datetime | None:
        """When the community's `n`-th present member (1-based, oldest first) checked in; None if fewer are here:
        the moment it has had `n` members for, which is when a quorum of `n` was reached."""
        entry = self._communities.get(community_id)
        if entry is None or entry.count < n:
            return None
        if n <= len(entry.firsts):
            return entry.firsts[n - 1][0]
        return self._sorted(community_id, n)[n - 1][0]

    def _sorted(self, community_id: str, at_least: int | None) -> tuple[_Entry, ...]:
        """The community's entries, sorted: the first `at_least` (all, for None), from one scan of this value."""
        cached = self._scans.get(community_id)
        entry = self._communities.get(community_id)
        count = 0 if entry is None else entry.count
        want = count if at_least is None else min(count, max(at_least, _FIRSTS))
        if cached is None or len(cached) < want:
            entries = _entries(self.members, community_id)
            cached = tuple(sorted(entries) if want == count else heapq.nsmallest(want, entries))
            self._scans[community_id] = cached
        return cached

    def _earliest(self) -> Iterator[_Entry]:
        """Each community's earliest present member (`firsts` is never empty while anyone is: `_removed` refills it)."""
        for entry in self._communities.values():
            yield entry.firsts[0]


def _entries(members: Members, community_id: str) -> Iterator[_Entry]:
    """A community's present members as entries, unsorted: a scan of everyone, for the rare questions that need it."""
    return ((m.checked_in_at, m.member_id) for m in members.values() if m.community_id == community_id)


def _added(presence: Presence, member: Member) -> Presence:
    item: _Entry = (member.checked_in_at, member.member_id)
    entry = presence._communities.get(member.community_id) or _Community(0, ())
    firsts = entry.firsts
    # Still the earliest ones: the newcomer joins them only if they were everybody, or if it sorts among them.
    if entry.complete or (firsts and item < firsts[-1]):
        index = bisect.bisect(firsts, item)
        firsts = (*firsts[:index], item, *firsts[index:])[:_FIRSTS]
    communities = presence._communities.set(member.community_id, _Community(entry.count + 1, firsts))
    return Presence(Members(presence.members._map.set(member.member_id, member)), communities)


def _removed(presence: Presence, member: Member) -> Presence:
    item: _Entry = (member.checked_in_at, member.member_id)
    entry = presence._communities[member.community_id]
    firsts = entry.firsts
    index = bisect.bisect_left(firsts, item)
    if index < len(firsts) and firsts[index] == item:
        firsts = firsts[:index] + firsts[index + 1 :]
    if entry.count == 1:
        communities = presence._communities.delete(member.community_id)
    else:
        if not firsts:  # the earliest have all left: find the next ones once, now, rather than at every question
            rest = (e for e in _entries(presence.members, member.community_id) if e != item)
            firsts = tuple(heapq.nsmallest(_FIRSTS, rest))
        communities = presence._communities.set(member.community_id, _Community(entry.count - 1, firsts))
    return Presence(Members(presence.members._map.delete(member.member_id)), communities)


def check_in(
    presence: Presence, member_id: str, community_id: str, now: datetime
) -> tuple[Presence, CheckIn, Member | None]:
    """Returns the new presence, what happened, and the member's previous entry (for MOVED)."""
    previous = presence.members.get(member_id)
    if previous is not None and previous.community_id == community_id:
        return presence, CheckIn.ALREADY_PRESENT, previous
    base = presence if previous is None else _removed(presence, previous)
    updated = _added(base, Member(member_id, community_id, now))
    return updated, (CheckIn.NEW if previous is None else CheckIn.MOVED), previous


def check_out(presence: Presence, member_id: str) -> tuple[Presence, Member | None]:
    member = presence.members.get(member_id)
    if member is None:
        return presence, None
    return _removed(presence, member), member


def expire(presence: Presence, now: datetime, ttl: timedelta) -> tuple[Presence, list[Member]]:
    """Members whose check-in is `ttl` old or older leave; returned oldest first. Looks only at each community's
    earliest member, so a tick costs nothing more in a full room than in an empty one."""
    gone: list[Member] = []
    while True:
        oldest = min(presence._earliest(), default=None)
        if oldest is None or now - oldest[0] < ttl:
            return presence, gone
        member = presence.members[oldest[1]]
        presence = _removed(presence, member)
        gone.append(member)


def next_expiry(presence: Presence, ttl: timedelta) -> datetime | None:
    oldest = min(presence._earliest(), default=None)
    return None if oldest is None else oldest[0] + ttl
