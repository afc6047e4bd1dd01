"""The demo's terminal view: who is here, which profile is active, and what every device *reports*.

Reported state, not desired: the view shows what the simulated devices said over MQTT, so what you see is what a
real room would be doing.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from typing import TYPE_CHECKING

from devices.states import AudioState, ClimateState, DeviceState, LightState, ScentState
from devices.units import kelvin_to_hex, xy_to_hex

if TYPE_CHECKING:
    from controller.shell.service import Service

CLEAR = "\x1b[H\x1b[2J"
BOLD, DIM, RESET = "\x1b[1m", "\x1b[2m", "\x1b[0m"
QUIET_EVENTS = {"device_state", "command_sent"}


def swatch(hex_color: str) -> str:
    r, g, b = (int(hex_color[i : i + 2], 16) for i in (1, 3, 5))
    return f"\x1b[48;2;{r};{g};{b}m    {RESET}"


def describe(state: DeviceState | None) -> str:
    if state is None:
        return f"{DIM}(no report yet){RESET}"
    if isinstance(state, LightState):
        if not state.on:
            return f"OFF  {swatch('#101010')}"
        pct = state.brightness or 0.0
        if state.color_xy is not None:
            color = xy_to_hex(state.color_xy, pct)
            shade = f"xy {state.color_xy[0]:.3f},{state.color_xy[1]:.3f}"
        else:
            kelvin = state.color_temp_k or 2700
            color = kelvin_to_hex(kelvin, pct)
            shade = f"{kelvin} K"
        return f"ON   {swatch(color)} {pct:5.1f} %  {shade}"
    if isinstance(state, ClimateState):
        return (
            f"{state.mode or '?'}  setpoint {state.target_c if state.target_c is not None else '?'} °C  "
            f"room {state.local_temp_c if state.local_temp_c is not None else '?'} °C"
        )
    if isinstance(state, AudioState):
        return (
            f"{(state.state or '?').upper():<5} vol {state.volume if state.volume is not None else '?':>3}  "
            f"♪ {state.playlist or '-'}"
        )
    assert isinstance(state, ScentState)
    return f"{'ON ' if state.on else 'OFF'}  {state.name or '-'}  intensity {state.intensity or 0} %"


def render(service: Service, now: datetime, speed: float, narration: Sequence[str]) -> str:
    venue = service.venue
    res = service.state.resolution
    lines = [
        CLEAR + f"{BOLD}ambience demo{RESET} · {venue.venue.name} ({venue.venue.id}) · venue time "
        f"{now:%H:%M} (x{speed:g}) · MQTT {'connected' if service.bus and service.bus.connected else 'down'}"
    ]
    lines.append("")
    if res is None:
        lines.append("resolving…")
    else:
        here = ", ".join(f"{c} {n}" for c, n in sorted(res.headcount.items())) or "nobody"
        lines.append(f"{BOLD}Here{RESET}     {here}   (total {res.total})")
        active = " + ".join(res.active) if res.active else "none (devices left as they are)"
        lines.append(f"{BOLD}Profile{RESET}  {active}   [{res.source}]   phase: {res.phase or '-'}")
        if res.clamps:
            clamps = "; ".join(f"{c.field} {c.requested:g} -> {c.applied:g} ({c.limit})" for c in res.clamps)
            lines.append(f"{BOLD}Limits{RESET}   {clamps}")
    lines.append("")
    lines.append(f"{BOLD}{'device':<16}{'zone':<8}{'online':<8}reported state{RESET}")
    for device_id, device in service.state.site.devices.items():
        shadow = service.state.shadows[device_id]
        online = {True: "yes", False: "NO", None: "?"}[shadow.online]
        lines.append(f"{device_id:<16}{device.zone:<8}{online:<8}{describe(shadow.reported)}")
    lines.append("")
    lines.append(f"{BOLD}Story{RESET}")
    lines.extend(f"  {line}" for line in narration)
    lines.append("")
    lines.append(f"{BOLD}Event record{RESET} {DIM}(device_state and command_sent hidden){RESET}")
    if service.record is not None:
        recent = [
            e
            for e in service.record.read(max(0, service.record.committed_id - 400), None, 400)
            if e.type not in QUIET_EVENTS
        ][-8:]
        for event in recent:
            detail = ", ".join(f"{k}={v}" for k, v in event.payload.items() if k not in ("zones", "headcount"))
            lines.append(f"  {event.id:>6} {event.type:<17} {detail[:90]}")
    s = service.stats
    lines.append("")
    lines.append(
        f"{DIM}check-ins {s.checkins} · commands sent {s.commands_sent} (held by coalescing "
        f"{s.commands_deferred}) · rejected {s.rejected} · Ctrl-C stops everything{RESET}"
    )
    return "\n".join(lines) + "\n"
