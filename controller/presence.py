"""Who is here: members checked in, per community. Pure values and functions; time is an argument.

A check-in is idempotent per member (a second check-in changes nothing, not even the expiry), a member who checks
in for another community moves there, and a member not checked out expires `ttl` after checking in.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from enum import Enum
from types import MappingProxyType


@dataclass(frozen=True, slots=True)
class Member:
    member_id: str
    community_id: str
    checked_in_at: datetime


class CheckIn(Enum):
    NEW = "new"
    ALREADY_PRESENT = "already_present"
    MOVED = "moved"  # was present for another community


@dataclass(frozen=True, slots=True)
class Presence:
    members: Mapping[str, Member] = field(default_factory=lambda: MappingProxyType({}))

    @staticmethod
    def of(members: Iterable[Member]) -> Presence:
        return Presence(MappingProxyType({m.member_id: m for m in members}))

    def headcount(self) -> dict[str, int]:
        return dict(Counter(m.community_id for m in self.members.values()))

    @property
    def total(self) -> int:
        return len(self.members)

    def checkin_times(self, community_id: str) -> list[datetime]:
        return sorted(m.checked_in_at for m in self.members.values() if m.community_id == community_id)


def _with(presence: Presence, updates: Mapping[str, Member | None]) -> Presence:
    members = dict(presence.members)
    for member_id, member in updates.items():
        if member is None:
            members.pop(member_id, None)
        else:
            members[member_id] = member
    return Presence(MappingProxyType(members))


def check_in(
    presence: Presence, member_id: str, community_id: str, now: datetime
) -> tuple[Presence, CheckIn, Member | None]:
    """Returns the new presence, what happened, and the member's previous entry (for MOVED)."""
    previous = presence.members.get(member_id)
    if previous is not None and previous.community_id == community_id:
        return presence, CheckIn.ALREADY_PRESENT, previous
    updated = _with(presence, {member_id: Member(member_id, community_id, now)})
    return updated, (CheckIn.NEW if previous is None else CheckIn.MOVED), previous


def check_out(presence: Presence, member_id: str) -> tuple[Presence, Member | None]:
    member = presence.members.get(member_id)
    if member is None:
        return presence, None
    return _with(presence, {member_id: None}), member


def expire(presence: Presence, now: datetime, ttl: timedelta) -> tuple[Presence, list[Member]]:
    """Members whose check-in is `ttl` old or older leave; returned oldest first."""
    gone = sorted((m for m in presence.members.values() if now - m.checked_in_at >= ttl), key=lambda m: m.checked_in_at)
    if not gone:
        return presence, []
    return _with(presence, {m.member_id: None for m in gone}), gone


def next_expiry(presence: Presence, ttl: timedelta) -> datetime | None:
    if not presence.members:
        return None
    return min(m.checked_in_at for m in presence.members.values()) + ttl
