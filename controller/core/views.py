"""What people read of the venue's state (the API's `/state` and `/devices`, the demo's screen): plain JSON-able
values in human units, computed from a `VenueState` and nothing else."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from controller.core.plan import wanted
from controller.core.room import state_json
from controller.core.shadow import Shadow
from controller.core.state import VenueState
from devices.compare import differences
from devices.states import DeviceState, LightState, set_fields
from devices.units import kelvin_to_hex, xy_to_hex

__all__ = ["devices_view", "state_view"]


def state_view(state: VenueState) -> dict[str, Any]:
    """Who is here per community, the active profile and phase, the desired ambience per zone."""
    venue_id = state.site.venue.venue.id
    res = state.resolution
    view: dict[str, Any] = state_json(venue_id, res) if res is not None else {"venue": venue_id}
    present: dict[str, list[str]] = {}
    for member in state.presence.members.values():
        present.setdefault(member.community_id, []).append(member.member_id)
    view["present"] = {c: sorted(m) for c, m in sorted(present.items())}
    view["active_since"] = {c: t.isoformat() for c, t in state.activations.items()}
    return view


def devices_view(state: VenueState, now: datetime | None = None) -> list[dict[str, Any]]:
    """Each device: desired, reported, online, last seen (human units; `color_hex` for people), and whether it is
    in sync by `devices/compare.py`'s tolerances: the server's judgement, which the dashboard shows. With `now`, a
    diffuser on a plug shows its duty cycle's phase as desired."""
    zones = state.resolution.zones if state.resolution is not None else {}
    out: list[dict[str, Any]] = []
    for device in state.site.venue.devices:
        shadow = state.shadows.get(device.id, Shadow())
        desired, adapted = wanted(device, zones, state.capabilities, now)
        out.append(
            {
                "id": device.id,
                "kind": device.kind,
                "zone": device.zone,
                "driver": device.driver,
                "supported": device.id in state.site.devices,
                "desired": _view(desired),
                "reported": _view(shadow.reported),
                "online": shadow.online,
                "last_seen": shadow.last_seen.isoformat() if shadow.last_seen else None,
                "pending": _view(shadow.pending),
                "adapted": list(adapted),
                "capabilities": state.capabilities_of(device).describe(),
                "in_sync": desired is not None
                and shadow.reported is not None
                and differences(desired, shadow.reported, mired_range=state.mireds_for(device)) is None,
            }
        )
    return out


def _view(state: DeviceState | None) -> dict[str, Any] | None:
    if state is None:
        return None
    view = set_fields(state)
    if isinstance(state, LightState) and state.on:
        pct = state.brightness if state.brightness is not None else 100.0
        if state.color_xy is not None:
            view["color_hex"] = xy_to_hex(state.color_xy, pct)
        elif state.color_temp_k is not None:
            view["color_hex"] = kelvin_to_hex(state.color_temp_k, pct)
    return view
