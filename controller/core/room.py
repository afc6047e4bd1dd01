"""The rules about the room: on each tick, who expired, what the room should be (`resolve`), which events that
change makes, and the commands that bring the devices there (`plan`); and what a (re)connect republishes."""

from __future__ import annotations

import json
from collections.abc import Mapping
from datetime import timedelta
from typing import Any

from controller.core import events as ev
from controller.core import home_assistant as ha
from controller.core import messages as msg
from controller.core.outputs import Drive, PresenceDelete, Publish, StateSet
from controller.core.plan import plan, wanted
from controller.core.presence import expire
from controller.core.resolve import Resolution, ZoneAmbience, resolve
from controller.core.state import Work, capabilities_of
from devices.states import set_fields

__all__ = ["on_connected", "on_home_assistant_birth", "on_tick", "publish_discovery", "state_json", "zones_json"]


def on_tick(work: Work, tick: msg.Tick) -> None:
    now = work.now
    ttl = timedelta(hours=work.venue.policy.checkin_ttl_hours)
    work.presence, gone = expire(work.presence, now, ttl)
    left = work.presence.headcount() if gone else {}
    for member in gone:
        expired = ev.CheckinExpired(
            member.member_id, member.community_id, member.checked_in_at.isoformat(), left.get(member.community_id, 0)
        )
        work.emit(expired, PresenceDelete(member.member_id))
    resolution = resolve(work.presence, work.profiles, work.venue, work.activations, now, work.forced)
    previous = work.resolution
    _record_resolution(work, previous, resolution)
    work.resolution = resolution
    work.activations = dict(resolution.activations)
    # A changed ambience concerns every device; otherwise only those with news since last time (a venue's
    # devices answering one check-in must not cost a full plan each: that grows with the square).
    devices = work.site.devices
    # What each device is asked changes with the ambience or with what a device can take (`work.plan_all`).
    asked_anew = work.plan_all or previous is None or previous.zones != resolution.zones
    if asked_anew:
        _record_adaptations(work, resolution)
    if asked_anew or tick.plan_all:
        planned = list(devices.values())
    else:
        planned = [devices[d] for d in work.dirty | tick.also if d in devices]
    work.plan_all = False
    work.dirty = frozenset()
    planned = [d for d in planned if _described(work, d.id)]
    commands = plan(planned, resolution.zones, work.shadows, now, capabilities=work.capabilities)
    if commands:
        work.command(Drive(tuple(commands)))


def _described(work: Work, device_id: str) -> bool:
    """False for a device whose driver learns what it can take (a Hue light, from the bridge's first poll) before
    it has: it is asked nothing yet (a dimmable bulb sent a colour temperature answers an error, and some bridges
    break on it), and there is nothing to say about adapting to it."""
    return device_id not in work.site.learned or device_id in work.capabilities


def _record_adaptations(work: Work, resolution: Resolution) -> None:
    """Each device whose wanted state it cannot take as it is: recorded once when that changes, never each tick."""
    for device in work.site.devices.values():
        if not _described(work, device.id):
            continue
        _, notes = wanted(device, resolution.zones, work.capabilities, work.now)
        if work.adapted.get(device.id, ()) != notes:
            work.adapted = work.adapted.set(device.id, notes)
            if notes:
                source = capabilities_of(device, work.capabilities).source
                work.emit(ev.DeviceAdapted(device.id, list(notes), source))


def _record_resolution(work: Work, old: Resolution | None, new: Resolution) -> None:
    if old == new:
        return  # most ticks change nothing: no events, and no state to serialise again
    if old is None or old.active != new.active or old.source != new.source:
        saved = {c: t.isoformat() for c, t in new.activations.items()}
        activated = ev.ProfileActivated(
            new.leader, list(new.active), new.source, old.leader if old else None, dict(new.headcount)
        )
        work.emit(activated, StateSet("activations", saved))
    if (old.phase if old else None) != new.phase or (
        old is not None and old.leader != new.leader and new.phase is not None
    ):
        work.emit(ev.PhaseChanged(new.leader, new.phase, old.phase if old else None))
    if old is None or old.zones != new.zones:
        work.emit(ev.AmbienceApplied(new.leader, new.phase, zones_json(new.zones)))
    old_clamps = set(old.clamps) if old else set()
    for clamp in new.clamps:
        if clamp not in old_clamps:
            work.emit(ev.LimitClamped(clamp.zone, clamp.field, clamp.requested, clamp.applied, clamp.limit))
    state = json.dumps(state_json(work.venue.venue.id, new), separators=(",", ":"))
    if state != work.state_json:
        work.state_json = state
        work.command(Publish(work.topics.state, state, retain=True))


def on_connected(work: Work, _: msg.Connected) -> None:
    """After a (re)connect: every device planned again, the retained state and all discovery configs again."""
    work.plan_all = True
    if work.state_json is not None:
        work.command(Publish(work.topics.state, work.state_json, retain=True))
    publish_discovery(work, everything=True)


def on_home_assistant_birth(work: Work, _: msg.HomeAssistantBirth) -> None:
    publish_discovery(work, everything=True)


def publish_discovery(work: Work, *, everything: bool = False) -> None:
    """Home Assistant's discovery configs, retained: those that changed, or all of them. With discovery off,
    empty ones remove what an earlier run created."""
    published = dict(work.discovery)
    for topic, payload in ha.discovery_messages(work.venue, work.profiles):
        if everything or published.get(topic) != payload:
            work.command(Publish(topic, payload, retain=True))
            published[topic] = payload
    work.discovery = published


def state_json(venue_id: str, resolution: Resolution) -> dict[str, Any]:
    """The retained `<venue>/state` payload (docs/contract.md §4)."""
    return {
        "venue": venue_id,
        "headcount": dict(sorted(resolution.headcount.items())),
        "total": resolution.total,
        "eligible": list(resolution.eligible),
        "active_profile": resolution.leader,
        "active": list(resolution.active),
        "source": resolution.source,
        "forced": resolution.leader if resolution.source == "forced" else None,
        "phase": resolution.phase,
        "zones": zones_json(resolution.zones),
    }


def zones_json(zones: Mapping[str, ZoneAmbience]) -> dict[str, Any]:
    """Desired ambience per zone in the profile's human units (what people and the state topic read)."""
    out: dict[str, Any] = {}
    for name, zone in zones.items():
        entry: dict[str, Any] = {}
        if zone.light is not None:
            light = {
                k: v
                for k, v in (
                    ("on", zone.light.on),
                    ("brightness", zone.light.brightness),
                    ("color_temp_k", zone.light.color_temp_k),
                    ("color", zone.color_hex),
                    ("transition_s", zone.transition_s),
                )
                if v is not None
            }
            entry["lighting"] = light
        for key, section in (("climate", zone.climate), ("audio", zone.audio), ("scent", zone.scent)):
            if section is not None:
                entry[key] = set_fields(section)
        out[name] = entry
    return out
