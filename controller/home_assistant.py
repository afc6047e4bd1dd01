"""Home Assistant MQTT discovery: the venue's headcount, active community and a profile selector, with no YAML.

A Home Assistant on the same broker (its MQTT integration, discovery on, the default) creates the entities from
retained config messages under `<prefix>/<component>/<node_id>/<object_id>/config`. They read the controller's
retained state topic with templates and are unavailable whenever the controller's status topic says `offline`, so
nothing here needs publishing again when the room changes: only when the set of profiles (the select's options)
does. Pure: builds (topic, payload) pairs; the service publishes them.

Reference: https://www.home-assistant.io/integrations/mqtt/#mqtt-discovery and the sensor and select platforms.
"""

from __future__ import annotations

import functools
import json
from collections.abc import Iterable
from dataclasses import dataclass
from importlib import metadata
from typing import Any

from profiles.venue import VenueConfig

from .topics import Topics

AUTO = "Automatic"
"""The select's option for "no forced profile": capitalised, so it can never be a community id (a lower-case slug)."""

COMPONENTS = ("sensor", "select")


@dataclass(frozen=True, slots=True)
class Entity:
    component: str  # sensor | select
    object_id: str
    config: dict[str, Any]


@functools.cache
def _version() -> str:
    """Read from the installed package's metadata once: it is a file read, and it cannot change while running."""
    try:
        return metadata.version("ambience")
    except metadata.PackageNotFoundError:  # run from a source tree that was not installed
        return "unknown"


def node_id(venue: VenueConfig) -> str:
    """Unique per venue on a shared broker (a hub), and valid in a discovery topic ([a-zA-Z0-9_-])."""
    return f"ambience_{venue.venue.id}"


def entities(venue: VenueConfig, profile_ids: Iterable[str]) -> list[Entity]:
    """The venue's entities: headcount and active community (sensors), and a select that forces a profile."""
    topics = Topics.of(venue.venue.id)
    node = node_id(venue)
    common: dict[str, Any] = {
        "availability_topic": topics.status,
        "payload_available": "online",
        "payload_not_available": "offline",
        "device": {
            "identifiers": [node],
            "name": venue.venue.name,
            "manufacturer": "ambience",
            "model": "Venue controller",
            "sw_version": _version(),
        },
        "origin": {"name": "ambience", "sw_version": _version()},
    }
    headcount = {
        "name": "Headcount",
        "unique_id": f"{node}_headcount",
        "state_topic": topics.state,
        "value_template": "{{ value_json.total }}",
        "unit_of_measurement": "people",
        "state_class": "measurement",
        "icon": "mdi:account-group",
        # Per community, as attributes: one entity however many communities come and go.
        "json_attributes_topic": topics.state,
        "json_attributes_template": "{{ value_json.headcount | tojson }}",
        **common,
    }
    active = {
        "name": "Active community",
        "unique_id": f"{node}_active_community",
        "state_topic": topics.state,
        # `none` when nobody drives the room (no eligible community and no default profile).
        "value_template": "{{ value_json.active_profile if value_json.active_profile else 'none' }}",
        "icon": "mdi:account-star",
        "json_attributes_topic": topics.state,
        "json_attributes_template": (
            "{{ {'source': value_json.source, 'phase': value_json.phase, 'active': value_json.active,"
            " 'forced': value_json.forced} | tojson }}"
        ),
        **common,
    }
    select = {
        "name": "Profile",
        "unique_id": f"{node}_profile",
        "command_topic": topics.force,
        "qos": 1,  # Home Assistant publishes commands at QoS 0 unless told: a choice must not be lost on the way
        "state_topic": topics.state,
        "value_template": f"{{{{ value_json.forced if value_json.forced else '{AUTO}' }}}}",
        "options": [AUTO, *sorted(set(profile_ids))],
        "icon": "mdi:palette",
        **common,
    }
    return [
        Entity("sensor", "headcount", headcount),
        Entity("sensor", "active_community", active),
        Entity("select", "profile", select),
    ]


def config_topic(venue: VenueConfig, entity: Entity) -> str:
    return f"{venue.home_assistant.prefix}/{entity.component}/{node_id(venue)}/{entity.object_id}/config"


def discovery_messages(venue: VenueConfig, profile_ids: Iterable[str]) -> list[tuple[str, str]]:
    """Retained config messages to publish; with discovery off, empty ones that remove what an earlier run made."""
    out: list[tuple[str, str]] = []
    for entity in entities(venue, profile_ids):
        payload = json.dumps(entity.config, separators=(",", ":")) if venue.home_assistant.discovery else ""
        out.append((config_topic(venue, entity), payload))
    return out


def birth_topic(venue: VenueConfig) -> str:
    """Home Assistant publishes `online` here when it starts: the moment to send the configs again."""
    return f"{venue.home_assistant.prefix}/status"


def parse_force(payload: bytes) -> tuple[str | None, str | None]:
    """A force command: the select's option text (a community id, or `Automatic`), or JSON
    `{"community_id": "..." | null}` for other tools. Returns (community id or None for automatic, error)."""
    text = payload.decode("utf-8", "replace").strip()
    if text.startswith("{"):
        try:
            data = json.loads(text)
        except ValueError:
            return None, 'must be a community id, "Automatic", or JSON {"community_id": ...}'
        if not isinstance(data, dict) or "community_id" not in data:
            return None, 'a JSON force command must be {"community_id": "<id>"} or {"community_id": null}'
        value = data["community_id"]
        if value is None:
            return None, None
        if not isinstance(value, str):
            return None, "community_id must be a string or null"
        text = value.strip()
    if text in ("", AUTO):
        return None, None
    return text, None
