"""Properties of resolve and plan over random presence, profiles, venue limits and policies.

Hypothesis runs derandomized and without an example database, so CI sees the same examples on every run.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Mapping
from datetime import UTC, datetime, timedelta
from typing import Any

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from controller.core.plan import plan
from controller.core.presence import Presence, check_in
from controller.core.resolve import Resolution, resolve
from controller.core.shadow import Shadow
from devices.compare import apply
from devices.states import AudioState, ClimateState, DeviceState, LightState, ScentState
from profiles.loader import parse_profile, parse_venue
from profiles.profile import Profile
from profiles.venue import VenueConfig

PROPERTY = settings(
    max_examples=200,
    derandomize=True,
    database=None,
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
)

T0 = datetime(2024, 5, 1, 18, 0, tzinfo=UTC)
COMMUNITIES = ("a", "b", "c", "d")
HOUSE = "house"
ZONES = ("bar", "lounge")

# ---- profiles ---------------------------------------------------------------------------------------------

_pct = st.integers(0, 100)
_kelvin = st.integers(2000, 6500)
_hex = st.integers(0, 0xFFFFFF).map(lambda n: f"#{n:06x}")
_celsius = st.floats(5, 35)
_per_10 = st.floats(-100, 100)
_name = st.sampled_from(["lofi", "jazz", "cedar", "rose", "quiet piano"])

_light_level = st.fixed_dictionaries(
    {},
    optional={
        "on": st.booleans(),
        "brightness": _pct,
        "color_temp_k": _kelvin,
        "color": _hex,
        "transition_s": st.floats(0, 3600),
    },
)


@st.composite
def _lighting(draw: st.DrawFn) -> dict[str, Any]:
    top = draw(_light_level)
    zones = draw(st.dictionaries(st.sampled_from([*ZONES, "patio"]), _light_level, max_size=3))
    return {**top, "zones": zones} if zones else top


_climate = st.fixed_dictionaries({}, optional={"target_c": _celsius, "mode": st.sampled_from(["off", "heat", "auto"])})
_audio = st.fixed_dictionaries(
    {}, optional={"playlist": _name, "volume": _pct, "state": st.sampled_from(["play", "pause", "stop"])}
)
_scent = st.fixed_dictionaries({}, optional={"name": _name, "intensity": _pct})
_occupancy = st.fixed_dictionaries(
    {}, optional={"volume_per_10": _per_10, "target_c_per_10": _per_10, "brightness_per_10": _per_10}
)
_sections = {"lighting": _lighting(), "climate": _climate, "audio": _audio, "scent": _scent}


@st.composite
def _phases(draw: st.DrawFn) -> list[dict[str, Any]]:
    starts = draw(st.lists(st.floats(0, 300), max_size=3, unique=True))
    return [
        {"after_min": start, "name": f"phase-{index}", **draw(st.fixed_dictionaries({}, optional=_sections))}
        for index, start in enumerate(starts)
    ]


@st.composite
def profiles_for(draw: st.DrawFn, community_id: str) -> Profile:
    data = draw(
        st.fixed_dictionaries(
            {"quorum": st.sampled_from([1, 1, 2, 3, 5])},
            optional={**_sections, "phases": _phases(), "occupancy": _occupancy},
        )
    )
    return parse_profile({"community_id": community_id, "name": f"{community_id} mood", **data})


@st.composite
def profile_sets(draw: st.DrawFn) -> dict[str, Profile]:
    """3-4 communities (and the house), most of them with a profile."""
    communities = COMMUNITIES[: draw(st.integers(3, 4))]
    chosen = [c for c in (*communities, HOUSE) if draw(st.integers(0, 4)) > 0]
    return {c: draw(profiles_for(c)) for c in chosen}


# ---- presence, time, venue --------------------------------------------------------------------------------


# (community, seconds after T0) per member; member ids are the positions, so every member is distinct. Check-ins
# fall on quarter hours so that ties (same size, same time of reaching the quorum) are common.
def _checkins(quarters: int) -> st.SearchStrategy[list[tuple[str, int]]]:
    checkin = st.tuples(st.sampled_from(COMMUNITIES), st.integers(0, quarters).map(lambda quarter: quarter * 900))
    return st.integers(0, 40).flatmap(lambda n: st.lists(checkin, min_size=n, max_size=n))


_now = st.integers(3 * 3600, 8 * 3600).map(lambda s: T0 + timedelta(seconds=s))


def presence_of(checkins: list[tuple[int, str, int]]) -> Presence:
    """(member number, community, seconds after T0), checked in in the order given."""
    presence = Presence()
    for number, community, offset in checkins:
        presence, _, _ = check_in(presence, f"m{number}", community, T0 + timedelta(seconds=offset))
    return presence


@st.composite
def activations_for(draw: st.DrawFn, now: datetime) -> dict[str, datetime]:
    chosen = [c for c in (*COMMUNITIES, HOUSE) if draw(st.integers(0, 3)) > 0]
    span = int((now - T0).total_seconds())
    return {c: T0 + timedelta(seconds=draw(st.integers(0, span))) for c in chosen}


_DEVICES: list[dict[str, Any]] = [
    {"id": "bar-pendant", "kind": "light", "zone": "bar", "driver": "mqtt", "topic": "bar_pendant"},
    {"id": "bar-strip", "kind": "light", "zone": "bar", "driver": "mqtt", "topic": "bar_strip"},
    {"id": "lounge-lamp", "kind": "light", "zone": "lounge", "driver": "mqtt", "topic": "lounge_lamp"},
    {"id": "speaker", "kind": "speaker", "zone": "lounge", "driver": "mqtt", "topic": "speaker"},
    {"id": "diffuser", "kind": "scent", "zone": "lounge", "driver": "mqtt", "topic": "diffuser"},
]
_HVAC = [
    {"id": "hvac", "kind": "thermostat", "zone": "*", "driver": "mqtt", "topic": "hvac"},
    {"id": "bar-trv", "kind": "thermostat", "zone": "bar", "driver": "mqtt", "topic": "bar_trv"},
]
_mired_range = st.none() | st.lists(st.integers(153, 500), min_size=2, max_size=2, unique=True).map(sorted)


@st.composite
def venues(draw: st.DrawFn) -> VenueConfig:
    low, high = sorted(draw(st.lists(_celsius, min_size=2, max_size=2)))
    devices = [dict(d) for d in _DEVICES]
    for device in devices:
        if device["kind"] == "light" and (mireds := draw(_mired_range)) is not None:
            device["color_temp_range"] = mireds
    devices.append(draw(st.sampled_from(_HVAC)))
    return parse_venue(
        {
            "venue": {"id": "teahouse", "name": "Teahouse"},
            "limits": {"max_volume": draw(_pct), "min_temp_c": low, "max_temp_c": high, "min_brightness": draw(_pct)},
            "policy": {
                "multi_community": draw(st.sampled_from(["majority", "blend", "priority"])),
                "default_profile": draw(st.sampled_from([None, HOUSE, HOUSE, "a"])),
            },
            "priority": draw(st.permutations(COMMUNITIES).flatmap(lambda p: st.integers(0, 4).map(lambda n: p[:n]))),
            "zones": list(ZONES),
            "devices": devices,
        }
    )


@dataclasses.dataclass(frozen=True)
class Scenario:
    checkins: list[tuple[int, str, int]]
    profiles: dict[str, Profile]
    venue: VenueConfig
    activations: dict[str, datetime]
    now: datetime

    @property
    def presence(self) -> Presence:
        return presence_of(self.checkins)

    def resolve(self) -> Resolution:
        return resolve(self.presence, self.profiles, self.venue, self.activations, self.now)


@st.composite
def scenarios(draw: st.DrawFn, quarters: int = 12) -> Scenario:
    """`quarters`: check-ins fall on the quarter hours 0..quarters after T0 (fewer: more ties)."""
    checkins = [(number, c, s) for number, (c, s) in enumerate(draw(_checkins(quarters)))]
    now = draw(_now)
    return Scenario(checkins, draw(profile_sets()), draw(venues()), draw(activations_for(now)), now)


# ---- reported device states -------------------------------------------------------------------------------

_reported: dict[str, st.SearchStrategy[DeviceState]] = {
    "light": st.builds(
        LightState,
        on=st.none() | st.booleans(),
        brightness=st.none() | st.floats(0, 100),
        color_temp_k=st.none() | st.integers(2000, 6536),
        color_xy=st.none() | st.tuples(st.floats(0, 0.8), st.floats(0, 0.9)),
    ),
    "thermostat": st.builds(
        ClimateState,
        target_c=st.none() | st.floats(5, 35),
        mode=st.none() | st.sampled_from(["off", "heat", "cool", "auto"]),
        local_temp_c=st.none() | st.floats(10, 30),
    ),
    "speaker": st.builds(
        AudioState,
        state=st.none() | st.sampled_from(["play", "pause", "stop"]),
        volume=st.none() | _pct,
        playlist=st.none() | _name,
    ),
    "scent": st.builds(ScentState, on=st.none() | st.booleans(), intensity=st.none() | _pct, name=st.none() | _name),
}


# ---- 1. limits always hold ---------------------------------------------------------------------------------


@PROPERTY
@given(scenarios())
def test_limits_always_hold_in_every_zone(scenario: Scenario) -> None:
    res = scenario.resolve()
    lim = scenario.venue.limits
    for zone, ambience in res.zones.items():
        light = ambience.light
        if light is not None:
            if light.brightness is not None:
                assert 0 <= light.brightness <= 100, zone
                if light.on:
                    assert light.brightness >= lim.min_brightness, zone
            if light.color_temp_k is not None:
                assert 2000 <= light.color_temp_k <= 6500, zone
            assert light.color_temp_k is None or light.color_xy is None, zone
        if ambience.audio is not None and ambience.audio.volume is not None:
            assert 0 <= ambience.audio.volume <= lim.max_volume, zone
        if ambience.climate is not None and ambience.climate.target_c is not None:
            assert lim.min_temp_c <= ambience.climate.target_c <= lim.max_temp_c, zone
        if ambience.scent is not None and ambience.scent.intensity is not None:
            assert 0 <= ambience.scent.intensity <= 100, zone
    for clamp in res.clamps:
        assert clamp.requested != clamp.applied


_STATE_OF_SECTION = {"lighting": "light", "audio": "audio", "climate": "climate", "scent": "scent"}


@PROPERTY
@given(scenarios())
def test_every_clamp_reports_the_value_that_was_applied(scenario: Scenario) -> None:
    res = scenario.resolve()
    for clamp in res.clamps:
        # venue-wide sections are the same in every zone, so a "*" clamp can be read in any zone
        ambience = res.zones[clamp.zone] if clamp.zone in res.zones else res.zones[ZONES[0]]
        section, name = clamp.field.split(".")
        state = getattr(ambience, _STATE_OF_SECTION[section])
        assert state is not None
        assert getattr(state, name) == clamp.applied


# ---- 2. plan is idempotent --------------------------------------------------------------------------------


@st.composite
def reports(draw: st.DrawFn, venue: VenueConfig) -> dict[str, DeviceState | None]:
    return {d.id: draw(st.none() | _reported[d.kind]) for d in venue.devices}


@PROPERTY
@given(scenarios(), st.data())
def test_planning_again_after_the_devices_obeyed_sends_nothing(scenario: Scenario, data: st.DataObject) -> None:
    res = scenario.resolve()
    reported = data.draw(reports(scenario.venue))
    shadows = {i: Shadow(reported=state, online=True) for i, state in reported.items()}
    commands = plan(scenario.venue.devices, res.zones, shadows, scenario.now)
    assert len({c.device_id for c in commands}) == len(commands)
    obeyed = dict(reported)
    for command in commands:
        obeyed[command.device_id] = apply(obeyed[command.device_id], command.change)
    again = {i: Shadow(reported=state, online=True) for i, state in obeyed.items()}
    assert plan(scenario.venue.devices, res.zones, again, scenario.now) == []


# ---- 3. blend (and every policy) is order-independent ------------------------------------------------------


@PROPERTY
@given(scenarios(), st.data())
def test_resolution_does_not_depend_on_checkin_or_profile_order(scenario: Scenario, data: st.DataObject) -> None:
    shuffled_checkins = data.draw(st.permutations(scenario.checkins))
    shuffled_profiles = dict(data.draw(st.permutations(list(scenario.profiles.items()))))
    original = scenario.resolve()
    shuffled = resolve(
        presence_of(shuffled_checkins), shuffled_profiles, scenario.venue, scenario.activations, scenario.now
    )
    assert shuffled.zones == original.zones
    assert shuffled == original


@PROPERTY
@given(scenarios(quarters=2), st.data())
def test_blend_does_not_depend_on_checkin_or_profile_order(scenario: Scenario, data: st.DataObject) -> None:
    venue = scenario.venue.model_copy(
        update={"policy": scenario.venue.policy.model_copy(update={"multi_community": "blend"})}
    )
    shuffled_checkins = data.draw(st.permutations(scenario.checkins))
    shuffled_profiles = dict(data.draw(st.permutations(list(scenario.profiles.items()))))
    original = resolve(scenario.presence, scenario.profiles, venue, scenario.activations, scenario.now)
    shuffled = resolve(presence_of(shuffled_checkins), shuffled_profiles, venue, scenario.activations, scenario.now)
    assert shuffled.zones == original.zones
    assert shuffled.active == original.active


# ---- 4. deterministic and pure ----------------------------------------------------------------------------


def _snapshot(
    presence: Presence, profiles: Mapping[str, Profile], venue: VenueConfig, activations: Mapping[str, datetime]
) -> tuple[object, ...]:
    return (
        dict(presence.members),
        [(k, p.model_dump()) for k, p in profiles.items()],
        venue.model_dump(),
        list(activations.items()),
    )


@PROPERTY
@given(scenarios())
def test_resolve_is_deterministic_and_does_not_touch_its_inputs(scenario: Scenario) -> None:
    presence = scenario.presence
    before = _snapshot(presence, scenario.profiles, scenario.venue, scenario.activations)
    first = resolve(presence, scenario.profiles, scenario.venue, scenario.activations, scenario.now)
    second = resolve(presence, scenario.profiles, scenario.venue, scenario.activations, scenario.now)
    assert first == second
    assert _snapshot(presence, scenario.profiles, scenario.venue, scenario.activations) == before
