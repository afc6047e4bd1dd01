"""Which groups can carry a batch of light commands: one group command instead of many, for a Hue bridge's rooms
and zones and for Zigbee2MQTT's groups (`bridge/groups`) alike.

Home Assistant users with 20-40 Hue lights lose commands when every light is sent its own, and Zigbee2MQTT's own
advice for many lights is a group; a zone whose lights all want the same state is better served by its group.
But a group command reaches every light of the group, so a group is used only when its light set is exactly
covered by lights that want that very body, never to reach a light that wants something else or nothing.

Rules, in order:
- Lights are bucketed by identical body (transition time included).
- Within a bucket, the largest group whose lights all lie in the bucket is chosen first (ties: lowest id),
  then the largest among the rest that is disjoint from what is already chosen, and so on.
- A group needs at least `min_lights` lights (default 2): for a single light the group budget (1/s) is
  scarcer than the light budget (10/s).
- At most `max_groups` group commands per batch (default 1, a Hue bridge's group budget per second: a second
  group would wait a second while ten light commands go out at once; Zigbee2MQTT has no such budget: None).
- Group 0 (all the bridge's lights) is not listed by `GET /groups`; it is considered only when the caller passes
  `bridge_lights`, and like any group it is used only when every one of those lights wants the same body.

Pure: values in, values out.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from typing import Any, NamedTuple

ALL_LIGHTS_GROUP = "0"


class GroupPlan(NamedTuple):
    """The commands for one batch: bodies by group id and by light id; together they reach every light once."""

    groups: dict[str, dict[str, Any]]
    lights: dict[str, dict[str, Any]]


def _id_order(ident: str) -> tuple[int, str]:
    """Hue ids are numeric strings; order them as numbers, anything else after."""
    return (int(ident), "") if ident.isdigit() else (1 << 62, ident)


def choose_groups(
    changes: Mapping[str, Mapping[str, Any]],
    groups: Mapping[str, frozenset[str]],
    *,
    bridge_lights: frozenset[str] | None = None,
    min_lights: int = 2,
    max_groups: int | None = 1,
) -> GroupPlan:
    """Split a batch of light bodies (by light id) into group commands and the remaining light commands."""
    candidates = dict(groups)
    if bridge_lights is not None:
        candidates[ALL_LIGHTS_GROUP] = frozenset(bridge_lights)
    else:
        candidates.pop(ALL_LIGHTS_GROUP, None)  # without the bridge's full light list, 0 cannot be checked

    buckets: dict[str, set[str]] = {}
    for light, body in changes.items():
        if body:
            buckets.setdefault(json.dumps(body, sort_keys=True, default=str), set()).add(light)

    ranked = sorted(
        ((gid, members) for gid, members in candidates.items() if len(members) >= max(1, min_lights)),
        key=lambda item: (-len(item[1]), _id_order(item[0])),
    )
    chosen: dict[str, dict[str, Any]] = {}
    covered: set[str] = set()
    for gid, members in ranked:
        if max_groups is not None and len(chosen) >= max_groups:
            break
        if members & covered:
            continue
        for bucket in buckets.values():
            if members <= bucket:
                chosen[gid] = dict(changes[next(iter(members))])
                covered |= members
                break
    remaining = {light: dict(body) for light, body in changes.items() if body and light not in covered}
    return GroupPlan(chosen, remaining)
