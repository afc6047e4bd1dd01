"""Group selection: a group command only where every light of the group wants exactly that body."""

from __future__ import annotations

from typing import Any

from hypothesis import given, settings
from hypothesis import strategies as st

from devices.groups import choose_groups

PROPERTY = settings(max_examples=300, derandomize=True, database=None, deadline=None)

WARM = {"on": True, "bri": 200, "ct": 400, "transitiontime": 20}
COOL = {"on": True, "bri": 100, "ct": 200, "transitiontime": 20}
OFF = {"on": False}

ROOMS = {
    "1": frozenset({"1", "2", "3"}),  # lounge
    "2": frozenset({"4", "5"}),  # bar
    "3": frozenset({"1", "2"}),  # lounge sofa zone
    "4": frozenset({"6"}),  # a group of one
}


def test_a_zone_that_wants_one_state_gets_one_group_command() -> None:
    plan = choose_groups({"1": WARM, "2": WARM, "3": WARM}, ROOMS)
    assert plan.groups == {"1": WARM}
    assert plan.lights == {}


def test_the_largest_matching_group_wins() -> None:
    plan = choose_groups({"1": WARM, "2": WARM, "3": WARM, "4": COOL, "5": COOL}, ROOMS, max_groups=None)
    assert plan.groups == {"1": WARM, "2": COOL}
    plan = choose_groups({"1": WARM, "2": WARM, "3": WARM, "4": COOL, "5": COOL}, ROOMS)
    assert plan.groups == {"1": WARM}  # one group per batch by default: the bridge takes one per second
    assert plan.lights == {"4": COOL, "5": COOL}


def test_a_group_is_not_used_when_one_member_wants_something_else_or_nothing() -> None:
    plan = choose_groups({"1": WARM, "2": WARM, "3": COOL}, ROOMS)
    assert plan.groups == {"3": WARM}  # the sofa zone is exactly covered; the lounge is not
    assert plan.lights == {"3": COOL}
    plan = choose_groups({"1": WARM, "3": WARM}, ROOMS)
    assert plan.groups == {}
    assert plan.lights == {"1": WARM, "3": WARM}


def test_bodies_must_be_identical_including_transition() -> None:
    plan = choose_groups({"4": WARM, "5": {**WARM, "transitiontime": 0}}, ROOMS)
    assert plan.groups == {}


def test_a_group_of_one_light_is_not_worth_the_group_budget() -> None:
    assert choose_groups({"6": OFF}, ROOMS).groups == {}
    assert choose_groups({"6": OFF}, ROOMS, min_lights=1).groups == {"4": OFF}


def test_group_zero_only_with_every_light_of_the_bridge_in_the_change() -> None:
    every = frozenset({"1", "2", "3", "4", "5", "6"})
    all_off = dict.fromkeys(every, OFF)
    assert choose_groups(all_off, ROOMS, bridge_lights=every).groups == {"0": OFF}
    assert choose_groups(all_off, ROOMS).groups == {"1": OFF}  # 0 is unknown without the bridge's lights
    # a "0" among the groups is not trusted: GET /groups never lists it, so it cannot be known to be complete
    assert choose_groups(all_off, {**ROOMS, "0": every}).groups == {"1": OFF}
    most = {light: OFF for light in every - {"6"}}
    assert "0" not in choose_groups(most, ROOMS, bridge_lights=every).groups


def test_empty_bodies_are_no_commands() -> None:
    assert choose_groups({"4": {}, "5": {}}, ROOMS) == ({}, {})


@PROPERTY
@given(
    st.dictionaries(st.sampled_from(["1", "2", "3", "4", "5", "6", "7"]), st.sampled_from([WARM, COOL, OFF, {}])),
    st.dictionaries(
        st.sampled_from(["1", "2", "3", "4", "5"]),
        st.frozensets(st.sampled_from(["1", "2", "3", "4", "5", "6", "7"]), min_size=1),
    ),
    st.none() | st.integers(0, 3),
)
def test_every_light_gets_exactly_its_body_once(
    changes: dict[str, dict[str, Any]], groups: dict[str, frozenset[str]], max_groups: int | None
) -> None:
    plan = choose_groups(changes, groups, max_groups=max_groups)
    received: dict[str, list[dict[str, Any]]] = {}
    for gid, body in plan.groups.items():
        for light in groups[gid]:
            received.setdefault(light, []).append(body)
    for light, body in plan.lights.items():
        received.setdefault(light, []).append(body)
    assert received == {light: [body] for light, body in changes.items() if body}
    assert max_groups is None or len(plan.groups) <= max_groups
