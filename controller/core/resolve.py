"""resolve: presence + profiles + venue policy + phase + occupancy + limits => desired ambience per zone.

Pure: no I/O, no clock (`now` is an argument), no globals. The order is docs/contract.md §3:

1. eligibility (present members >= quorum),
2. the venue policy picks the active profile(s): majority, blend or priority; none eligible -> default profile,
3. each active profile's phase (minutes since it became active) overrides its base,
4. occupancy rules on the total headcount,
5. venue limits clamp the result last; every clamp is reported.

Design choices where the contract is silent (documented in docs/resolution.md):
- What an active profile leaves out comes from the venue's default profile, so a room never keeps the previous
  community's scent because the new one did not mention scent.
- A zone entry overrides the top level for that zone; a level that names `color` drops an inherited
  `color_temp_k` and vice versa, because a light is in one colour mode at a time.
- Occupancy adds `x_per_10 * headcount / 10` (proportional, not in steps of ten), rounded to the attribute's
  resolution; it uses the rules of the leading active profile.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any, Literal

from controller.core.presence import Presence
from devices.states import AudioState, ClimateState, LightState, ScentState
from devices.units import hex_to_xy
from profiles.profile import Lighting, Phase, Profile
from profiles.venue import ALL_ZONES, VenueConfig

Values = dict[str, Any]
Source = Literal["community", "forced", "default", "none"]


@dataclass(frozen=True, slots=True)
class Clamp:
    """A value the venue's limits (or a value's own range) changed; each one is an event."""

    zone: str  # "*" for venue-wide sections (climate, audio, scent)
    field: str  # e.g. "audio.volume", "lighting.brightness"
    requested: float
    applied: float
    limit: str  # e.g. "max_volume", "range"


@dataclass(frozen=True, slots=True)
class ZoneAmbience:
    light: LightState | None = None
    color_hex: str | None = None  # the profile's colour, for people; `light.color_xy` is what devices get
    transition_s: float | None = None
    climate: ClimateState | None = None
    audio: AudioState | None = None
    scent: ScentState | None = None


@dataclass(frozen=True, slots=True)
class Resolution:
    headcount: Mapping[str, int]
    total: int
    eligible: tuple[str, ...]  # in order of eligibility
    source: Source
    active: tuple[str, ...]  # profiles that drive the room, leading one first
    phase: str | None  # the leading profile's phase
    activations: Mapping[str, datetime]  # active community -> when its profile became active
    zones: Mapping[str, ZoneAmbience]
    clamps: tuple[Clamp, ...] = ()
    next_phase_at: datetime | None = None  # when resolving again will change the phase

    @property
    def leader(self) -> str | None:
        return self.active[0] if self.active else None


@dataclass(frozen=True, slots=True)
class _Flat:
    """A profile flattened to plain values: light values per zone plus the venue-wide sections."""

    lights: dict[str, Values]
    climate: Values
    audio: Values
    scent: Values
    occupancy: Values = field(default_factory=dict)


def _values(model: Any) -> Values:
    return {} if model is None else model.model_dump(exclude_none=True, exclude={"zones"})


def _merge_light(base: Values, over: Values) -> Values:
    merged = {**base, **over}
    if "color" in over and "color_temp_k" not in over:
        merged.pop("color_temp_k", None)
    elif "color_temp_k" in over and "color" not in over:
        merged.pop("color", None)
    return merged


def _zone_lights(lighting: Lighting | None, phase_lighting: Lighting | None, zones: Sequence[str]) -> dict[str, Values]:
    """Per zone: base top level, base zone entry, then the phase's top level and zone entry over them.

    The phase is a later layer as a whole, so a dimming phase dims every zone, zone entries of the base included.
    """
    lights: dict[str, Values] = {}
    for zone in zones:
        value: Values = {}
        for level in (lighting, phase_lighting):
            if level is None:
                continue
            value = _merge_light(value, _values(level))
            if zone in level.zones:
                value = _merge_light(value, _values(level.zones[zone]))
        lights[zone] = value
    return lights


def _phase_starts(phase: Phase, since: datetime) -> datetime:
    return since + timedelta(minutes=phase.after_min)


def active_phase(profile: Profile, since: datetime, now: datetime) -> Phase | None:
    """The last phase that has started; compared as datetimes so it agrees exactly with `next_phase_at`."""
    current = None
    for phase in profile.phases:  # sorted by after_min
        if _phase_starts(phase, since) <= now:
            current = phase
    return current


def _next_phase_at(profile: Profile, since: datetime, now: datetime) -> datetime | None:
    for phase in profile.phases:
        at = _phase_starts(phase, since)
        if at > now:
            return at
    return None


def _flatten(profile: Profile, phase: Phase | None, zones: Sequence[str]) -> _Flat:
    return _Flat(
        lights=_zone_lights(profile.lighting, phase.lighting if phase else None, zones),
        climate={**_values(profile.climate), **_values(phase.climate if phase else None)},
        audio={**_values(profile.audio), **_values(phase.audio if phase else None)},
        scent={**_values(profile.scent), **_values(phase.scent if phase else None)},
        occupancy=_values(profile.occupancy),
    )


def _layer(base: _Flat, over: _Flat) -> _Flat:
    return _Flat(
        lights={z: _layer_light(base.lights.get(z, {}), v) for z, v in over.lights.items()},
        climate={**base.climate, **over.climate},
        audio={**base.audio, **over.audio},
        scent={**base.scent, **over.scent},
        occupancy=over.occupancy or base.occupancy,
    )


def _layer_light(default: Values, community: Values) -> Values:
    """A community that sets its lights wants them on: the default profile's `on: false` (after hours, say) is
    for when nobody is here, so it does not carry over unless the community says `on` itself."""
    merged = _merge_light(default, community)
    if community and "on" not in community:
        merged["on"] = True
    return merged


def _blend_section(parts: Sequence[tuple[float, Values]], numeric: Iterable[str]) -> Values:
    """Numbers averaged by weight over the parts that set them; everything else from the first part setting it.

    `parts` is ordered leader first. math.fsum makes the average independent of the order of the parts.
    """
    numeric = set(numeric)
    keys = {k for _, values in parts for k in values}
    out: Values = {}
    for key in sorted(keys):
        having = [(w, v[key]) for w, v in parts if key in v]
        if key in numeric:
            total_w = math.fsum(w for w, _ in having)
            out[key] = math.fsum(w * x for w, x in having) / total_w
        else:
            out[key] = having[0][1]
    return out


def _blend_light(parts: Sequence[tuple[float, Values]]) -> Values:
    out = _blend_section(parts, ("brightness", "color_temp_k", "transition_s"))
    # One colour mode: the leader's (the first part that sets either). Averaging hex colours is not a colour.
    mode = next((v for _, v in parts if "color" in v or "color_temp_k" in v), None)
    if mode is not None and "color" in mode:
        out.pop("color_temp_k", None)
        out["color"] = mode["color"]
    else:
        out.pop("color", None)
    return out


def _blend(parts: Sequence[tuple[float, _Flat]], zones: Sequence[str]) -> _Flat:
    return _Flat(
        lights={z: _blend_light([(w, f.lights.get(z, {})) for w, f in parts]) for z in zones},
        climate=_blend_section([(w, f.climate) for w, f in parts], ("target_c",)),
        audio=_blend_section([(w, f.audio) for w, f in parts], ("volume",)),
        scent=_blend_section([(w, f.scent) for w, f in parts], ("intensity",)),
        occupancy=parts[0][1].occupancy,
    )


def _apply_occupancy(flat: _Flat, total: int) -> None:
    tens = total / 10.0
    occ = flat.occupancy
    if "volume_per_10" in occ and "volume" in flat.audio:
        flat.audio["volume"] = flat.audio["volume"] + occ["volume_per_10"] * tens
    if "target_c_per_10" in occ and "target_c" in flat.climate:
        flat.climate["target_c"] = flat.climate["target_c"] + occ["target_c_per_10"] * tens
    if "brightness_per_10" in occ:
        for light in flat.lights.values():
            if "brightness" in light:
                light["brightness"] = light["brightness"] + occ["brightness_per_10"] * tens


def _clamp(
    values: Values, key: str, lo: float, hi: float, limit_lo: str, limit_hi: str, zone: str, name: str
) -> Clamp | None:
    if key not in values:
        return None
    requested = values[key]
    if requested < lo:
        values[key] = lo
        return Clamp(zone, name, requested, lo, limit_lo)
    if requested > hi:
        values[key] = hi
        return Clamp(zone, name, requested, hi, limit_hi)
    return None


def _round_values(flat: _Flat) -> None:
    """Round to what devices resolve, before limits, so a clamp reports the value a device would have got."""
    if "volume" in flat.audio:
        flat.audio["volume"] = round(flat.audio["volume"])
    if "intensity" in flat.scent:
        flat.scent["intensity"] = round(flat.scent["intensity"])
    if "target_c" in flat.climate:
        flat.climate["target_c"] = round(flat.climate["target_c"] * 10) / 10
    for light in flat.lights.values():
        if "brightness" in light:
            light["brightness"] = round(light["brightness"])
        if "color_temp_k" in light:
            light["color_temp_k"] = round(light["color_temp_k"])


def _apply_limits(flat: _Flat, venue: VenueConfig) -> list[Clamp]:
    lim = venue.limits
    clamps = [
        _clamp(flat.audio, "volume", 0, lim.max_volume, "range", "max_volume", ALL_ZONES, "audio.volume"),
        _clamp(
            flat.climate,
            "target_c",
            lim.min_temp_c,
            lim.max_temp_c,
            "min_temp_c",
            "max_temp_c",
            ALL_ZONES,
            "climate.target_c",
        ),
        _clamp(flat.scent, "intensity", 0, 100, "range", "range", ALL_ZONES, "scent.intensity"),
    ]
    for zone, light in flat.lights.items():
        # min_brightness keeps a light that is on from going too dark; a light asked to be off stays off.
        lo = lim.min_brightness if light.get("on", True) else 0
        clamps.append(_clamp(light, "brightness", lo, 100, "min_brightness", "range", zone, "lighting.brightness"))
    return [c for c in clamps if c is not None]


def _zone_ambience(flat: _Flat, zone: str) -> ZoneAmbience:
    lv = flat.lights.get(zone, {})
    color = lv.get("color")
    light = None
    if any(k in lv for k in ("on", "brightness", "color_temp_k", "color")):
        light = LightState(
            on=lv.get("on", True),
            brightness=lv.get("brightness"),
            color_temp_k=None if color else lv.get("color_temp_k"),
            color_xy=hex_to_xy(color) if color else None,
        )
    c, a, s = flat.climate, flat.audio, flat.scent
    return ZoneAmbience(
        light=light,
        color_hex=color,
        transition_s=lv.get("transition_s"),
        climate=ClimateState(target_c=c.get("target_c"), mode=c.get("mode")) if c else None,
        audio=AudioState(state=a.get("state"), volume=a.get("volume"), playlist=a.get("playlist")) if a else None,
        scent=(
            ScentState(
                on=s.get("intensity", 1) > 0 if "intensity" in s or "name" in s else None,
                intensity=s.get("intensity"),
                name=s.get("name"),
            )
            if s
            else None
        ),
    )


def venue_zones(venue: VenueConfig, kind: str | None = None) -> list[str]:
    """The venue's zones, plus "*" when some device (of `kind`, if given) serves the whole room.

    With `kind="light"`: the zones where lighting is resolved, and clamped, because a light can show it there.
    """
    zones = list(venue.zones)
    if any(d.zone == ALL_ZONES and kind in (None, d.kind) for d in venue.devices):
        zones.append(ALL_ZONES)
    return zones


def resolve(
    presence: Presence,
    profiles: Mapping[str, Profile],
    venue: VenueConfig,
    activations: Mapping[str, datetime],
    now: datetime,
    forced: str | None = None,
) -> Resolution:
    """`activations` is the previous resolution's (community -> active since), so phases keep their clock.

    `forced` is a profile an operator chose to drive the room whoever is here (a booking, Home Assistant's
    select): it takes the place of the policy's choice while its profile exists; phases, occupancy and limits
    still apply. A forced profile that no longer exists is ignored rather than leaving the room undriven."""
    headcount = presence.headcount()
    eligible_since: dict[str, datetime] = {}
    for community, count in headcount.items():
        profile = profiles.get(community)
        if profile is not None and count >= profile.quorum:
            reached = presence.nth_checkin(community, profile.quorum)
            assert reached is not None  # the community has at least `quorum` members
            eligible_since[community] = reached
    # Rank: most members first; a tie goes to the community that became eligible first.
    ranked = sorted(eligible_since, key=lambda c: (-headcount[c], eligible_since[c], c))
    eligible = tuple(sorted(eligible_since, key=lambda c: (eligible_since[c], c)))

    policy = venue.policy.multi_community
    default_id = venue.policy.default_profile
    active: list[str]
    source: Source = "community"
    if forced is not None and forced in profiles:
        active, source = [forced], "forced"
    elif ranked and policy == "blend":
        active = ranked
    elif ranked and policy == "priority":
        first = next((c for c in venue.priority if c in eligible_since), None)
        active = [first] if first is not None else ranked[:1]
    elif ranked:
        active = ranked[:1]
    elif default_id is not None and default_id in profiles:
        active, source = [default_id], "default"
    else:
        return Resolution(headcount, presence.total, eligible, "none", (), None, {}, {})

    zones = venue_zones(venue)
    light_zones = venue_zones(venue, "light")
    default = profiles.get(venue.policy.default_profile or "")
    default_flat = _flatten(default, None, light_zones) if default is not None else None
    since = {c: activations.get(c, now) for c in active}
    parts: list[tuple[float, _Flat]] = []
    phase_name: str | None = None
    next_phase: datetime | None = None
    for community in active:
        profile = profiles[community]
        phase = active_phase(profile, since[community], now)
        flat = _flatten(profile, phase, light_zones)
        if default_flat is not None and community != venue.policy.default_profile:
            flat = _layer(default_flat, flat)
        parts.append((float(headcount.get(community, 0)) or 1.0, flat))
        if community == active[0]:
            phase_name = phase.name if phase else None
        upcoming = _next_phase_at(profile, since[community], now)
        if upcoming is not None and (next_phase is None or upcoming < next_phase):
            next_phase = upcoming

    flat = parts[0][1] if len(parts) == 1 else _blend(parts, light_zones)
    flat = _Flat(
        lights={z: dict(v) for z, v in flat.lights.items()},
        climate=dict(flat.climate),
        audio=dict(flat.audio),
        scent=dict(flat.scent),
        occupancy=flat.occupancy,
    )
    _apply_occupancy(flat, presence.total)
    _round_values(flat)
    clamps = _apply_limits(flat, venue)
    return Resolution(
        headcount=headcount,
        total=presence.total,
        eligible=eligible,
        source=source,
        active=tuple(active),
        phase=phase_name,
        activations=since,
        zones={z: _zone_ambience(flat, z) for z in zones},
        clamps=tuple(clamps),
        next_phase_at=next_phase,
    )
