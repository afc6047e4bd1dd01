"""The rules about what devices say: a report is recorded (when it says something new), compared with what we
asked, and may be a person at the switch (an override, respected for `policy.override_minutes`); availability
changes are events; what a driver sent updates the shadow. Pure: `Work` in, `Work` changed."""

from __future__ import annotations

from datetime import timedelta

from controller.core import events as ev
from controller.core import messages as msg
from controller.core.outputs import DeviceReturned, StateSet
from controller.core.plan import wanted
from controller.core.shadow import is_manual_change, on_availability, on_command, on_override, on_report
from controller.core.state import Work, mireds_of
from devices.compare import differences, meaningful_change
from devices.driver import Availability, Capabilities, DriverFailure, Report
from devices.states import DeviceState, set_fields
from profiles.venue import DeviceConfig

__all__ = ["on_commands_sent", "on_observed"]


def on_observed(work: Work, observed: msg.Observed) -> None:
    for seen in observed.observations:
        if isinstance(seen, Report):
            device = work.site.devices.get(seen.device_id)
            if device is not None:
                _report(work, device, seen, observed.mono)
        elif isinstance(seen, Availability):
            if seen.device_id in work.site.devices:
                _availability(work, seen)
        elif isinstance(seen, Capabilities):
            if seen.device_id in work.site.devices and work.capabilities.get(seen.device_id) != seen.capabilities:
                work.capabilities = work.capabilities.set(seen.device_id, seen.capabilities)
                work.plan_all = True  # what it is asked for may change: planned and its adaptations noted again
        else:
            _failure(work, seen)


def _report(work: Work, device: DeviceConfig, report: Report, mono: float) -> None:
    shadow = work.shadows[device.id]
    state, now = report.state, work.now
    mireds = mireds_of(device, work.capabilities)
    zones = work.resolution.zones if work.resolution is not None else {}
    desired, _ = wanted(device, zones, work.capabilities, work.now)
    override_minutes = work.venue.policy.override_minutes
    manual = report.live and override_minutes > 0 and is_manual_change(shadow, state, desired, now, mireds)
    if report.live and shadow.online is not True:
        work.emit(ev.DeviceOnline(device.id, "state"))
        if shadow.online is False:
            work.command(DeviceReturned(device.id))
    _record_state(work, device, state, mono)
    work.shadows = work.shadows.set(device.id, on_report(shadow, state, now, live=report.live, mired_range=mireds))
    if manual:
        _override(work, device.id, state, shadow.reported)
    work.touch(device.id)


def _record_state(work: Work, device: DeviceConfig, state: DeviceState, mono: float) -> None:
    """A report goes into the record when it says something new beyond the tolerances, and otherwise (a different
    value within them) at most every `store.device_state_every_s`; a repeat never."""
    last = work.recorded.get(device.id)
    if last is not None:
        recorded, at = last
        if state == recorded:
            return
        if not meaningful_change(state, recorded, mired_range=mireds_of(device, work.capabilities)) and (
            mono - at < work.venue.store.device_state_every_s
        ):
            return
    work.emit(ev.DeviceState(device.id, device.kind, set_fields(state)))
    work.recorded = work.recorded.set(device.id, (state, mono))


def _override(work: Work, device_id: str, state: DeviceState, before: DeviceState | None) -> None:
    """A person changed the device: respect it for `override_minutes`, then the controller reasserts. Kept in the
    record with the event, so a restart does not undo a person's choice."""
    now = work.now
    until = now + timedelta(minutes=work.venue.policy.override_minutes)
    work.shadows = work.shadows.set(device_id, on_override(work.shadows[device_id], until))
    changed = differences(state, before) if before is not None else state
    active = {
        d: s.override_until.isoformat()
        for d, s in work.shadows.items()
        if s.override_until is not None and s.overridden(now)
    }
    work.emit(
        ev.ManualOverride(device_id, set_fields(changed) if changed else {}, until.isoformat()),
        StateSet("overrides", active),
    )


def _availability(work: Work, seen: Availability) -> None:
    shadow = work.shadows[seen.device_id]
    if shadow.online is seen.online:
        return
    work.emit(ev.DeviceOnline(seen.device_id, seen.via) if seen.online else ev.DeviceOffline(seen.device_id, seen.via))
    if seen.online and shadow.online is False:
        work.command(DeviceReturned(seen.device_id))
    work.shadows = work.shadows.set(seen.device_id, on_availability(shadow, seen.online, work.now))
    work.touch(seen.device_id)


def _failure(work: Work, failure: DriverFailure) -> None:
    """Recorded with the link's own words (a bridge's error number, address and description when it gave them)."""
    work.emit(
        ev.BridgeError(
            failure.link,
            failure.context[:200],
            failure.message[:500],
            error_type=failure.error_type,
            address=failure.address,
            description=failure.description,
        )
    )


def on_commands_sent(work: Work, sent: msg.CommandsSent) -> None:
    """Each command sent is pending in its device's shadow (confirmed by a report, retried if not) and recorded."""
    for item in sent.sent:
        shadow = work.shadows.get(item.device_id)
        if shadow is None:
            continue
        work.shadows = work.shadows.set(item.device_id, on_command(shadow, item.change, work.now))
        work.emit(
            ev.CommandSent(
                item.device_id,
                dict(item.payload),
                topic=item.topic,
                bridge=item.bridge,
                light=item.light,
                group=item.group,
            )
        )
