"""Home Assistant MQTT discovery: the venue's headcount, active community and a profile selector, with no YAML.

A Home Assistant on the same broker (its MQTT integration, discovery on, the default) creates the entities from
retained config messages under `<prefix>/<component>/<node_id>/<object_id>/config`. They read the controller's
retained state topic with templates and are unavailable whenever the controller's status topic says `offline`, so
nothing here needs publishing again when the room changes: only when the profiles (the select's options) do.
Pure: builds (topic, payload) pairs; the service publishes them.

The select shows the profiles' names, but the force topic speaks community ids (docs/home-assistant.md): both
directions of that mapping travel in the select's own config (`command_template` turns the chosen name into the id
before Home Assistant publishes it, `value_template` the forced id into its name), so they can never disagree with
the options Home Assistant shows.

Reference: https://www.home-assistant.io/integrations/mqtt/#mqtt-discovery and the sensor and select platforms.
"""

from __future__ import annotations

import ipaddress
import json
from collections import Counter
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Any

from controller.core.topics import Topics
from profiles.profile import Profile
from profiles.venue import ApiSettings, VenueConfig
from profiles.version import ambience_version

AUTO = "Automatic"
"""The select's option for "no forced profile": capitalised, so it can never be a community id (a lower-case slug)."""

COMPONENTS = ("sensor", "select")

Profiles = Mapping[str, Profile] | Iterable[str]
"""The venue's profiles by community id (the service's), or bare community ids (then each option is its id)."""


@dataclass(frozen=True, slots=True)
class Entity:
    component: str  # sensor | select
    object_id: str
    config: dict[str, Any]


def node_id(venue: VenueConfig) -> str:
    """Unique per venue on a shared broker (a hub), and valid in a discovery topic ([a-zA-Z0-9_-])."""
    return f"ambience_{venue.venue.id}"


def option_labels(profiles: Profiles) -> dict[str, str]:
    """Community id -> the select's option for it: the profile's name (its id when it has none), unique, never
    `Automatic`. A name two profiles share (or `Automatic`) becomes `Name (id)` for each of them; such a label
    cannot equal another one of that form, because an id has no space or parenthesis, and each round makes at least
    one more label of that form, so the loop ends."""
    if isinstance(profiles, Mapping):
        names = {cid: profile.name.strip() or cid for cid, profile in profiles.items()}
    else:
        names = {cid: cid for cid in profiles}
    labels = dict(names)
    for _ in range(len(labels) + 1):
        counts = Counter(labels.values())
        clashing = [cid for cid, label in labels.items() if counts[label] > 1 or label == AUTO]
        if not clashing:
            break
        for cid in clashing:
            labels[cid] = f"{names[cid]} ({cid})"
    return labels


def _lookup(table: Mapping[str, str], key: str) -> str:
    """A Jinja expression: `table[key]`, else `key` itself. JSON string literals are valid Jinja ones (the same
    escapes), so any name is safe inside the template, quotes and braces included."""
    return f"{json.dumps(dict(table), sort_keys=True, ensure_ascii=False)}.get({key}, {key})"


def dashboard_url(api: ApiSettings) -> str | None:
    """The dashboard, for the device page's "Visit" link: only when `api.host` is an address others can open.

    A wildcard (0.0.0.0, ::, empty) says which interfaces listen, not the address a browser reaches them by, and a
    loopback one would open the viewer's own machine: no link is better than a wrong one."""
    host = api.host.strip().strip("[]")
    if not host or host.lower() == "localhost" or host.lower().endswith(".localhost"):
        return None
    try:
        address = ipaddress.ip_address(host)
    except ValueError:  # a host name
        return f"http://{host}:{api.port}/"
    if address.is_unspecified or address.is_loopback:
        return None
    return f"http://[{address}]:{api.port}/" if address.version == 6 else f"http://{address}:{api.port}/"


def entities(venue: VenueConfig, profiles: Profiles) -> list[Entity]:
    """The venue's entities: headcount and active community (sensors), and a select that forces a profile."""
    topics = Topics.of(venue.venue.id)
    node = node_id(venue)
    device: dict[str, Any] = {
        "identifiers": [node],
        "name": venue.venue.name,
        "manufacturer": "ambience",
        "model": "Venue controller",
        "sw_version": ambience_version(),
    }
    if (url := dashboard_url(venue.api)) is not None:
        device["configuration_url"] = url
    common: dict[str, Any] = {
        "availability_topic": topics.status,
        "payload_available": "online",
        "payload_not_available": "offline",
        "device": device,
        "origin": {"name": "ambience", "sw_version": ambience_version()},
    }
    labels = option_labels(profiles)
    headcount = {
        "name": "Headcount",
        "unique_id": f"{node}_headcount",
        "state_topic": topics.state,
        "value_template": "{{ value_json.total }}",
        "unit_of_measurement": "people",
        "state_class": "measurement",
        "icon": "mdi:account-group",
        # Per community, as attributes: one entity however many communities come and go. Nested under one key:
        # Home Assistant drops attributes named like its own (`icon`, `name`, `state`, ...), and a community's id
        # may be one of those.
        "json_attributes_topic": topics.state,
        "json_attributes_template": "{{ {'communities': value_json.headcount} | tojson }}",
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
        # The chosen name goes out as its community id (`Automatic` as it is): the force topic takes ids.
        "command_template": f"{{{{ {_lookup({label: cid for cid, label in labels.items()}, 'value')} }}}}",
        "state_topic": topics.state,
        "value_template": (
            f"{{{{ {_lookup(labels, 'value_json.forced')} if value_json.forced else {json.dumps(AUTO)} }}}}"
        ),
        "options": [AUTO, *sorted(labels.values())],
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


def discovery_messages(venue: VenueConfig, profiles: Profiles) -> list[tuple[str, str]]:
    """Retained config messages to publish; with discovery off, empty ones that remove what an earlier run made."""
    out: list[tuple[str, str]] = []
    for entity in entities(venue, profiles):
        payload = json.dumps(entity.config, separators=(",", ":")) if venue.home_assistant.discovery else ""
        out.append((config_topic(venue, entity), payload))
    return out


def birth_topic(venue: VenueConfig) -> str:
    """Home Assistant publishes `online` here when it starts: the moment to send the configs again."""
    return f"{venue.home_assistant.prefix}/status"


def parse_force(payload: bytes) -> tuple[str | None, str | None]:
    """A force command: a community id, `Automatic` (or nothing) for automatic, or JSON `{"community_id": "..." |
    null}`. Home Assistant's select sends ids too: its `command_template` maps the name it shows to the id. Not
    `auto`: that is a valid community id. Returns (community id or None for automatic, error)."""
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
