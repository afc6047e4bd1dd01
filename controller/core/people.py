"""The rules about people and what they ask: check-ins and check-outs, a forced profile, a profile from the hub
or the API, and input refused. Each takes a step's `Work` and the input; none does I/O (docs/architecture.md)."""

from __future__ import annotations

import json

from controller.core import events as ev
from controller.core import messages as msg
from controller.core.inputs import shown
from controller.core.outputs import PresenceDelete, PresenceUpsert, Publish, StateSet, StoreProfile
from controller.core.presence import CheckIn, check_in, check_out
from controller.core.room import publish_discovery
from controller.core.state import Work
from profiles.errors import FieldError
from profiles.profile import canonical_json

__all__ = [
    "REJECT_ERRORS_MAX",
    "on_check_in",
    "on_check_out",
    "on_force",
    "on_hub_profile",
    "on_profile_stored",
    "on_rejected",
    "reject",
]

REJECT_ERRORS_MAX = 20
"""A rejection lists at most this many errors: a 5 MB message must not become 5 MB in the record."""


def reject(work: Work, topic: str, errors: list[FieldError] | tuple[FieldError, ...]) -> None:
    """Bad input changes nothing: it is recorded, reported back on `<venue>/rejected`, and acknowledged once
    recorded. What is echoed is bounded (the topic, at most `REJECT_ERRORS_MAX` errors of bounded length)."""
    listed = [{"path": e.path[:200], "message": e.message[:300]} for e in errors[:REJECT_ERRORS_MAX]]
    more = len(errors) - len(listed)
    rejected = ev.InputRejected(topic[:300], listed, more or None)
    work.emit(rejected, durable=True)
    work.command(Publish(work.topics.rejected, json.dumps(rejected.body())))


def on_rejected(work: Work, rejected: msg.Rejected) -> None:
    reject(work, rejected.topic, rejected.errors)


def on_check_in(work: Work, request: msg.CheckIn) -> CheckIn:
    """The one path for every check-in (kiosk over MQTT, HTTP); the edge validated the input. A repeat changes
    nothing and records nothing."""
    presence, outcome, previous = check_in(work.presence, request.member_id, request.community_id, work.now)
    if outcome is not CheckIn.ALREADY_PRESENT:
        event = ev.Checkin(
            request.member_id,
            request.community_id,
            request.source,
            presence.count(request.community_id),
            moved_from=previous.community_id if previous is not None else None,
            moved_from_present=presence.count(previous.community_id) if previous is not None else None,
        )
        work.emit(event, PresenceUpsert(request.member_id, request.community_id, work.now), durable=True)
        work.presence = presence
    return outcome


def on_check_out(work: Work, request: msg.CheckOut) -> bool:
    presence, member = check_out(work.presence, request.member_id)
    if member is None:
        if request.topic is not None:
            reject(work, request.topic, [FieldError("member_id", f"{shown(request.member_id)} is not checked in")])
        return False
    event = ev.Checkout(request.member_id, member.community_id, request.source, presence.count(member.community_id))
    work.emit(event, PresenceDelete(request.member_id), durable=True)
    work.presence = presence
    return True


def on_force(work: Work, request: msg.Force) -> bool:
    """Kept in the record with its event, so it survives a restart. False (and rejected from a kiosk or Home
    Assistant) for a community without a profile."""
    community_id = request.community_id
    if community_id is not None and community_id not in work.profiles:
        if request.topic is not None:
            reject(work, request.topic, [FieldError("community_id", f"no profile for {shown(community_id)}")])
        return False
    if community_id != work.forced:
        work.emit(
            ev.ProfileForced(community_id, work.forced, request.source), StateSet("forced", community_id), durable=True
        )
        work.forced = community_id
    return True


def on_hub_profile(work: Work, hub: msg.HubProfile) -> None:
    """Known at once (so a check-in for this community in the same batch is not refused), stored by the shell."""
    if hub.profile.community_id not in work.profiles:
        work.profiles = {**work.profiles, hub.profile.community_id: hub.profile}
    work.command(StoreProfile(hub.profile, hub.topic))


def on_profile_stored(work: Work, stored: msg.ProfileStored) -> None:
    """A new version is recorded and applied at once; a repeat of the latest changes nothing."""
    profile = stored.profile
    if stored.changed:
        version = stored.version
        work.emit(ev.ProfileUpdated(profile.community_id, version.version, version.etag, stored.author), durable=True)
        work.profiles = {**work.profiles, profile.community_id: profile}
        publish_discovery(work)  # a new community is a new option of Home Assistant's select
    if stored.publish:
        work.command(Publish(work.topics.profiles + profile.community_id, canonical_json(profile), retain=True))
