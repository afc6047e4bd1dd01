"""plan: desired ambience vs. what each device reported => the minimal commands. Pure; time is an argument.

A device gets only the attributes that differ (within the named tolerances of `devices.compare`), nothing while
it is offline or a person's change to it is being respected, and the whole desired state when it has just come
back (it may have lost power and forgotten).
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from datetime import datetime

from controller.core.duty import plug_state
from controller.core.resolve import ZoneAmbience
from controller.core.shadow import Shadow
from devices.capabilities import DeviceCapabilities, adapt, of_device
from devices.compare import differences
from devices.driver import Command
from devices.states import DeviceState, ScentState
from devices.units import DEFAULT_MIRED_RANGE, MiredRange
from profiles.venue import ALL_ZONES, DeviceConfig

__all__ = ["DEFAULT_MIRED_RANGE", "Command", "desired_for", "plan", "wanted"]


def wanted(
    device: DeviceConfig,
    zones: Mapping[str, ZoneAmbience],
    capabilities: Mapping[str, DeviceCapabilities],
    now: datetime | None = None,
) -> tuple[DeviceState | None, tuple[str, ...]]:
    """The desired state of one device as it can take it, and how it was adapted (`devices.capabilities.adapt`);
    a diffuser on a plug as its duty cycle's phase at `now` (`controller.core.duty`), when given."""
    desired, _ = desired_for(device, zones)
    if desired is None:
        return None, ()
    adapted, notes = adapt(desired, of_device(device, capabilities))
    if device.plug and now is not None and isinstance(adapted, ScentState):
        return plug_state(adapted, device.cycle_s, now)[0], notes
    return adapted, notes


def desired_for(device: DeviceConfig, zones: Mapping[str, ZoneAmbience]) -> tuple[DeviceState | None, float | None]:
    """The desired state of one device, and the light transition to use; (None, None) if nothing is wanted."""
    zone = zones.get(device.zone) or zones.get(ALL_ZONES)
    if zone is None:
        return None, None
    if device.kind == "light":
        return zone.light, zone.transition_s
    if device.kind == "thermostat":
        return zone.climate, None
    if device.kind == "speaker":
        return zone.audio, None
    return zone.scent, None


def plan(
    devices: Iterable[DeviceConfig],
    zones: Mapping[str, ZoneAmbience],
    shadows: Mapping[str, Shadow],
    now: datetime,
    *,
    capabilities: Mapping[str, DeviceCapabilities] | None = None,
) -> list[Command]:
    """The commands that bring `devices` to the ambience of `zones`, each asked only for what it can take
    (`capabilities`, per device, as the drivers learned them; the venue config narrows them)."""
    learned = capabilities or {}
    commands: list[Command] = []
    empty = Shadow()
    # Devices of a zone share one desired state and mostly report the same thing, so one comparison serves many
    # devices: memoised for this call only (the desired states are held by `zones`, so their ids are stable).
    memo: dict[tuple[int, DeviceState | None, MiredRange], DeviceState | None] = {}
    adapted: dict[tuple[int, DeviceCapabilities], DeviceState] = {}
    for device in devices:
        desired, transition = desired_for(device, zones)
        if desired is None:
            continue
        shadow = shadows.get(device.id, empty)
        if shadow.online is False or shadow.overridden(now):
            continue
        caps = of_device(device, learned)
        if (want := adapted.get((id(desired), caps))) is None:
            want = adapted[(id(desired), caps)] = adapt(desired, caps)[0]
        expected = None if shadow.resync else shadow.expected(now)
        if device.plug and isinstance(want, ScentState):  # a new state each time: not memoised by identity
            phase, on_time = plug_state(want, device.cycle_s, now)
            if (change := differences(phase, expected)) is not None:
                commands.append(Command(device.id, change, on_time_s=on_time if phase.on else None))
            continue
        span = caps.mireds or DEFAULT_MIRED_RANGE
        key = (id(want), expected, span)
        if key in memo:
            change = memo[key]
        else:
            change = memo[key] = differences(want, expected, mired_range=span)
        if change is not None:
            commands.append(Command(device.id, change, transition))
    return commands
