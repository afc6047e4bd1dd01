"""The per-bridge pacer: coalescing (latest wins, nothing lost), the light and group budgets in every sliding
window, oldest-first fairness, and group and light commands that reach the same light never undoing each other."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from devices.hue_pacer import HuePacer, Key, merge_bodies, superseded

PROPERTY = settings(
    max_examples=300,
    derandomize=True,
    database=None,
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
)

L1: Key = ("light", "1")
L2: Key = ("light", "2")
G1: Key = ("group", "1")


def _drain(pacer: HuePacer, now: float, limit: int = 10_000) -> list[tuple[float, Key, dict[str, Any]]]:
    """Poll as the service does (at `next_due`) until nothing waits; every poll must send something."""
    sent: list[tuple[float, Key, dict[str, Any]]] = []
    for _ in range(limit):
        at = pacer.next_due(now)
        if at is None:
            return sent
        assert at >= now
        now = at
        batch = pacer.due(now)
        assert batch, "next_due promised something"
        sent.extend((now, key, body) for key, body in batch)
    raise AssertionError("the pacer never emptied")


# ---- merging ------------------------------------------------------------------------------------------------


def test_newer_fields_override_and_nothing_else_is_lost() -> None:
    assert merge_bodies({"on": True, "bri": 10}, {"bri": 200, "transitiontime": 4}) == {
        "on": True,
        "bri": 200,
        "transitiontime": 4,
    }


def test_a_newer_colour_mode_drops_the_older_one() -> None:
    assert merge_bodies({"bri": 10, "ct": 300}, {"xy": [0.5, 0.4]}) == {"bri": 10, "xy": [0.5, 0.4]}
    assert merge_bodies({"xy": [0.5, 0.4]}, {"ct": 300}) == {"ct": 300}
    assert merge_bodies({"hue": 1, "sat": 2}, {"sat": 3}) == {"hue": 1, "sat": 3}


def test_transition_time_alone_conflicts_with_nothing() -> None:
    assert superseded({"transitiontime": 4, "bri": 1}, {"transitiontime": 10, "on": True}) == frozenset()


# ---- budgets ------------------------------------------------------------------------------------------------


def test_a_single_command_goes_at_once() -> None:
    pacer = HuePacer()
    pacer.submit(L1, {"on": True}, 0.0)
    assert pacer.next_due(0.0) == 0.0
    assert pacer.due(0.0) == [(L1, {"on": True})]
    assert pacer.next_due(0.0) is None
    assert len(pacer) == 0


def test_a_burst_of_light_commands_is_spread_ten_per_second() -> None:
    pacer = HuePacer()
    for i in range(25):
        pacer.submit(("light", str(i)), {"bri": i + 1}, 0.0)
    assert len(pacer.due(0.0)) == 10
    assert pacer.next_due(0.5) == 1.0
    assert pacer.due(0.99) == []
    assert len(pacer.due(1.0)) == 10
    assert len(pacer.due(2.0)) == 5


def test_group_commands_one_per_second_and_lights_are_not_held_up_by_them() -> None:
    pacer = HuePacer()
    pacer.submit(G1, {"on": True}, 0.0, members={"1", "2"})
    pacer.submit(("group", "2"), {"on": True}, 0.0, members={"3", "4"})
    pacer.submit(("light", "5"), {"bri": 9}, 0.0)
    assert [key for key, _ in pacer.due(0.0)] == [G1, ("light", "5")]
    assert pacer.next_due(0.1) == 1.0
    assert pacer.due(1.0) == [(("group", "2"), {"on": True})]


def test_limits_are_parameters() -> None:
    pacer = HuePacer(light_limit=2, group_limit=3, window_s=0.5)
    for i in range(3):
        pacer.submit(("light", str(i)), {"on": True}, 0.0)
    assert len(pacer.due(0.0)) == 2
    assert pacer.next_due(0.0) == 0.5
    with pytest.raises(ValueError, match="limits"):
        HuePacer(light_limit=0)


def test_next_due_is_never_too_early_in_floating_point() -> None:
    pacer = HuePacer(light_limit=1)
    pacer.submit(L1, {"on": True}, 0.001)
    pacer.submit(L2, {"on": True}, 0.001)
    assert pacer.due(0.001) == [(L1, {"on": True})]
    at = pacer.next_due(0.5)
    assert at is not None
    assert 1.001 <= at < 1.0011  # (0.001 + 1.0) - 0.001 < 1.0, so the plain sum would be a broken promise
    assert pacer.due(at) == [(L2, {"on": True})]


def test_oldest_submitted_first_and_a_merge_keeps_its_place() -> None:
    pacer = HuePacer(light_limit=1)
    pacer.submit(L1, {"bri": 1}, 0.0)
    pacer.submit(L2, {"bri": 2}, 0.1)
    pacer.submit(L1, {"bri": 3}, 0.2)  # coalesced into the waiting command, which keeps its turn
    assert pacer.due(0.0) == [(L1, {"bri": 3})]
    assert pacer.due(1.0) == [(L2, {"bri": 2})]


def test_coalescing_while_waiting_sends_the_merged_latest_state() -> None:
    pacer = HuePacer(light_limit=1)
    pacer.submit(L2, {"on": True}, 0.0)
    assert pacer.due(0.0) == [(L2, {"on": True})]
    pacer.submit(L1, {"on": True, "bri": 10, "ct": 300}, 0.1)
    pacer.submit(L1, {"bri": 200}, 0.2)
    pacer.submit(L1, {"xy": [0.5, 0.4], "transitiontime": 4}, 0.3)
    assert pacer.due(0.5) == []
    assert pacer.due(1.0) == [(L1, {"on": True, "bri": 200, "xy": [0.5, 0.4], "transitiontime": 4})]


def test_a_body_without_state_is_ignored_and_groups_need_members() -> None:
    pacer = HuePacer()
    pacer.submit(L1, {"transitiontime": 4}, 0.0)
    pacer.submit(L1, {}, 0.0)
    assert len(pacer) == 0
    with pytest.raises(ValueError, match="members"):
        pacer.submit(G1, {"on": True}, 0.0)


# ---- groups and lights reaching the same light -------------------------------------------------------------


def test_a_newer_group_command_makes_a_waiting_lights_fields_moot() -> None:
    pacer = HuePacer(light_limit=1)
    pacer.submit(L2, {"on": True}, 0.0)
    pacer.due(0.0)  # the light budget is spent: L1 must wait
    pacer.submit(L1, {"bri": 10, "ct": 300}, 0.0)
    pacer.submit(G1, {"bri": 200}, 0.1, members={"1", "2"})
    assert pacer.pending() == {L1: {"ct": 300}, G1: {"bri": 200}}
    pacer.submit(G1, {"xy": [0.5, 0.4]}, 0.2, members={"1", "2"})
    assert pacer.pending() == {G1: {"bri": 200, "xy": [0.5, 0.4]}}


def test_a_newer_light_command_splits_a_waiting_group_it_conflicts_with() -> None:
    pacer = HuePacer()
    pacer.submit(("group", "9"), {"on": True}, 0.0, members={"8"})
    pacer.due(0.0)  # the group budget is spent: G1 must wait
    pacer.submit(G1, {"on": True, "bri": 200}, 0.0, members={"1", "2"})
    pacer.submit(L1, {"bri": 10}, 0.1)
    assert pacer.pending() == {L1: {"on": True, "bri": 10}, L2: {"on": True, "bri": 200}}


def test_a_non_conflicting_light_command_leaves_the_group_whole() -> None:
    pacer = HuePacer()
    pacer.submit(G1, {"on": True, "bri": 200}, 0.0, members={"1", "2"})
    pacer.submit(L1, {"ct": 300}, 0.1)
    assert pacer.pending() == {G1: {"on": True, "bri": 200}, L1: {"ct": 300}}


def test_a_group_whose_members_changed_is_split_first() -> None:
    pacer = HuePacer()
    pacer.submit(G1, {"on": True}, 0.0, members={"1", "2"})
    pacer.submit(G1, {"bri": 5}, 0.1, members={"1", "3"})
    assert pacer.pending() == {L1: {"on": True}, L2: {"on": True}, G1: {"bri": 5}}


# ---- properties ---------------------------------------------------------------------------------------------

GROUPS = {"1": frozenset({"1", "2"}), "2": frozenset({"2", "3"}), "3": frozenset({"1", "2", "3", "4"})}
LIGHTS = ("1", "2", "3", "4")


def _body(fields: dict[str, Any], colour: tuple[str, int] | None) -> dict[str, Any]:
    """A body as `to_hue` makes them: at most one colour mode (the value stands in for an xy pair too)."""
    return fields | ({colour[0]: colour[1]} if colour else {})


bodies = st.builds(
    _body,
    st.fixed_dictionaries(
        {}, optional={"on": st.booleans(), "bri": st.integers(1, 254), "transitiontime": st.integers(0, 20)}
    ),
    st.none() | st.tuples(st.sampled_from(["ct", "xy"]), st.integers(153, 500)),
)
targets = st.sampled_from(LIGHTS).map(lambda i: ("light", i)) | st.sampled_from(sorted(GROUPS)).map(
    lambda g: ("group", g)
)
# (gap since the previous step in ms, submit (key, body) or poll)
steps = st.lists(
    st.tuples(st.integers(0, 400), st.one_of(st.tuples(targets, bodies), st.just("poll"))),
    max_size=60,
)


def _obey(light: dict[str, Any], body: Mapping[str, Any]) -> None:
    """An idealised Hue light: every field is stored; a body's colour sets the mode (xy over ct)."""
    for name, value in body.items():
        if name != "transitiontime":
            light[name] = value
    if "xy" in body:
        light["mode"] = "xy"
    elif "ct" in body:
        light["mode"] = "ct"


def _seen(light: dict[str, Any]) -> tuple[Any, ...]:
    """What can be observed: on, bri, and the value of the colour mode the light is in."""
    mode = light.get("mode")
    return light.get("on"), light.get("bri"), mode, light.get(mode) if mode else None


def _reach(key: Key) -> frozenset[str]:
    return GROUPS[key[1]] if key[0] == "group" else frozenset({key[1]})


@PROPERTY
@given(steps, st.integers(1, 10), st.integers(1, 3))
def test_limits_hold_and_every_light_ends_as_if_nothing_was_delayed(
    plan: list[tuple[int, Any]], light_limit: int, group_limit: int
) -> None:
    pacer = HuePacer(light_limit=light_limit, group_limit=group_limit, window_s=1.0)
    truth: dict[str, dict[str, Any]] = {light: {} for light in LIGHTS}  # every command obeyed at submission
    sent: list[tuple[float, Key, dict[str, Any]]] = []
    now = 0.0
    for gap_ms, step in plan:
        now += gap_ms / 1000
        if step == "poll":
            sent.extend((now, key, body) for key, body in pacer.due(now))
            continue
        key, body = step
        pacer.submit(key, body, now, members=GROUPS.get(key[1]) if key[0] == "group" else None)
        for light in _reach(key):
            _obey(truth[light], body)
    sent.extend(_drain(pacer, now))

    for kind, limit in (("light", light_limit), ("group", group_limit)):
        times = [at for at, key, _ in sent if key[0] == kind]
        for i, start in enumerate(times):
            in_window = [t for t in times[i:] if t - start < 1.0]
            assert len(in_window) <= limit, f"{kind}: {len(in_window)} commands within 1 s of {start}"

    bridge: dict[str, dict[str, Any]] = {light: {} for light in LIGHTS}
    for _, key, body in sent:
        assert set(body) - {"transitiontime"}, "a command with nothing to do was sent"
        for light in _reach(key):
            _obey(bridge[light], body)
    assert {k: _seen(v) for k, v in bridge.items()} == {k: _seen(v) for k, v in truth.items()}


@PROPERTY
@given(st.lists(st.tuples(st.sampled_from(LIGHTS), bodies), max_size=40))
def test_one_key_coalesces_to_at_most_one_waiting_command(submits: list[tuple[str, dict[str, Any]]]) -> None:
    pacer = HuePacer(light_limit=1)
    for light, body in submits:
        pacer.submit(("light", light), body, 0.0)
        assert len(pacer) <= len(LIGHTS)


def test_one_at_a_time_each_counted_from_its_answer() -> None:
    """A slow bridge: each command answered 0.1 s after release. Counting from the answers, the eleventh waits
    until a second after the first *answer*, so the bridge never sees eleven within its own second."""
    pacer = HuePacer()
    for n in range(11):
        pacer.submit(("light", str(n)), {"bri": 10}, 0.0)
    now = 0.0
    arrivals = []
    while len(pacer):
        released = pacer.due(now, limit=1)
        if not released:
            at = pacer.next_due(now)
            assert at is not None
            now = at
            continue
        assert len(released) == 1
        arrivals.append(now + 0.05)
        now += 0.1
        pacer.answered("light", now)
    assert len(arrivals) == 11
    assert arrivals[10] - arrivals[0] >= 1.0


def test_clear_forgets_what_waits() -> None:
    pacer = HuePacer()
    pacer.submit(("light", "1"), {"bri": 10}, 0.0)
    pacer.clear()
    assert len(pacer) == 0
    assert pacer.next_due(0.0) is None
