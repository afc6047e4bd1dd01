"""Home Assistant discovery messages against Home Assistant's documented MQTT discovery schema, and the force
command's parsing. No broker: tests/integration/test_home_assistant.py runs them through a real Mosquitto.

The schema below is what home-assistant.io documents for MQTT discovery (integrations/mqtt, sensor.mqtt,
select.mqtt): the topic format, the keys each platform requires, the keys it knows (a misspelt key is dropped by
Home Assistant without a word, so an unknown key here is a bug), and the device/origin blocks."""

from __future__ import annotations

import json
import re
import urllib.parse
from typing import Any

import pytest
from jinja2.sandbox import ImmutableSandboxedEnvironment

from controller.core.home_assistant import AUTO, config_topic, discovery_messages, entities, option_labels, parse_force
from profiles.loader import parse_profile, parse_venue
from profiles.profile import Profile
from profiles.venue import VenueConfig

TOPIC = re.compile(
    r"^(?P<prefix>[^/#+]+(?:/[^/#+]+)*)/(?P<component>[a-z_]+)/(?P<node>[a-zA-Z0-9_-]+)/(?P<object>[a-zA-Z0-9_-]+)/config$"
)

COMMON = {
    "name", "unique_id", "icon", "object_id", "default_entity_id", "enabled_by_default", "entity_category",
    "entity_picture", "availability_topic", "availability", "availability_mode", "availability_template",
    "payload_available", "payload_not_available", "json_attributes_topic", "json_attributes_template", "device",
    "origin", "qos", "encoding", "platform",
}  # fmt: skip
SCHEMA: dict[str, tuple[set[str], set[str]]] = {  # component -> (required keys, known keys)
    "sensor": (
        {"state_topic"},
        COMMON | {"state_topic", "value_template", "unit_of_measurement", "state_class", "device_class",
                  "expire_after", "force_update", "last_reset_value_template", "suggested_display_precision",
                  "options"},
    ),
    "select": (
        {"command_topic", "options"},
        COMMON | {"command_topic", "command_template", "options", "optimistic", "retain", "state_topic",
                  "value_template"},
    ),
}  # fmt: skip
DEVICE_KEYS = {
    "identifiers", "connections", "name", "manufacturer", "model", "model_id", "sw_version", "hw_version",
    "serial_number", "suggested_area", "via_device", "configuration_url",
}  # fmt: skip
ORIGIN_KEYS = {"name", "sw_version", "support_url"}
STATE_CLASSES = {"measurement", "total", "total_increasing", "measurement_angle"}
# Attribute names Home Assistant drops from json_attributes (MQTT_ATTRIBUTES_BLOCKED, 2023.x-2024.x, and what a
# real 2024.1.6 was seen dropping): a community id may be any of them, so none may be a top-level attribute key.
HA_RESERVED_ATTRIBUTES = {
    "assumed_state", "available", "context_recent_time", "device_class", "device_info", "entity_category",
    "entity_picture", "entity_registry_enabled_default", "extra_state_attributes", "force_update", "friendly_name",
    "icon", "name", "should_poll", "state", "state_class", "supported_features", "unique_id", "unit_of_measurement",
}  # fmt: skip


def venue(api: dict[str, Any] | None = None, **home_assistant: Any) -> VenueConfig:
    return parse_venue(
        {
            "venue": {"id": "teahouse-1", "name": "Teahouse on 5th"},
            "home_assistant": home_assistant,
            **({"api": api} if api is not None else {}),
            "zones": ["lounge"],
            "devices": [{"id": "lamp", "kind": "light", "zone": "lounge", "driver": "mqtt", "topic": "lamp"}],
        }
    )


PROFILES = ["spicy-tech-gossip", "book-club", "house"]


def named(**names: str) -> dict[str, Profile]:
    """Profiles by community id (as the service holds them), `community_id=name`, underscores for dashes."""
    return {
        cid.replace("_", "-"): parse_profile({"community_id": cid.replace("_", "-"), "name": name})
        for cid, name in names.items()
    }


def configs(v: VenueConfig, profiles: Any = PROFILES) -> dict[str, dict[str, Any]]:
    return {topic: json.loads(payload) for topic, payload in discovery_messages(v, profiles)}


def select_config(profiles: Any = PROFILES) -> dict[str, Any]:
    return next(c for t, c in configs(venue(), profiles).items() if "/select/" in t)


def render(template: str, state: dict[str, Any]) -> str:
    """As Home Assistant renders a value template: Jinja2, the payload parsed as `value_json`."""
    env = ImmutableSandboxedEnvironment()
    return env.from_string(template).render(value_json=state, value=json.dumps(state)).strip()


def command(select: dict[str, Any], option: str) -> str:
    """What Home Assistant publishes on the command topic when `option` is chosen: the command template rendered
    with the option as `value` (the option itself without a template)."""
    assert option in select["options"]
    if "command_template" not in select:
        return option
    return ImmutableSandboxedEnvironment().from_string(select["command_template"]).render(value=option)


def test_every_message_is_retained_config_under_the_discovery_prefix_with_a_valid_topic() -> None:
    messages = configs(venue())
    assert len(messages) == 3
    for topic in messages:
        match = TOPIC.match(topic)
        assert match, topic
        assert match["prefix"] == "homeassistant"
        assert match["node"] == "ambience_teahouse-1"
        assert match["component"] in SCHEMA


def test_each_config_has_its_platforms_required_keys_and_no_key_home_assistant_does_not_know() -> None:
    for topic, config in configs(venue()).items():
        component = TOPIC.match(topic)["component"]  # type: ignore[index]
        required, known = SCHEMA[component]
        assert required <= config.keys(), (topic, required - config.keys())
        assert config.keys() <= known, (topic, config.keys() - known)
        assert set(config["device"]) <= DEVICE_KEYS and config["device"]["identifiers"]
        assert set(config["origin"]) <= ORIGIN_KEYS and config["origin"]["name"]
        if "state_class" in config:
            assert config["state_class"] in STATE_CLASSES


def test_unique_ids_are_unique_and_differ_between_venues_on_one_broker() -> None:
    here = [c["unique_id"] for c in configs(venue()).values()]
    other = parse_venue({**venue().model_dump(), "venue": {"id": "farm-2", "name": "Farm"}})
    there = [c["unique_id"] for c in configs(other).values()]
    assert len(set(here)) == len(here) == 3
    assert not set(here) & set(there)
    assert not set(configs(venue())) & set(configs(other))  # and so are the config topics


def test_availability_follows_the_controllers_status_topic_and_its_payloads() -> None:
    for config in configs(venue()).values():
        assert config["availability_topic"] == "ambience/teahouse-1/status"
        assert (config["payload_available"], config["payload_not_available"]) == ("online", "offline")


def test_the_templates_read_the_controllers_state_message() -> None:
    by_id = {c["unique_id"]: c for c in configs(venue()).values()}
    headcount = by_id["ambience_teahouse-1_headcount"]
    active = by_id["ambience_teahouse-1_active_community"]
    select = by_id["ambience_teahouse-1_profile"]
    state = {
        "venue": "teahouse-1",
        "headcount": {"book-club": 2, "spicy-tech-gossip": 3},
        "total": 5,
        "active_profile": "spicy-tech-gossip",
        "active": ["spicy-tech-gossip"],
        "source": "community",
        "forced": None,
        "phase": None,
    }
    assert render(headcount["value_template"], state) == "5"
    assert json.loads(render(headcount["json_attributes_template"], state)) == {
        "communities": {"book-club": 2, "spicy-tech-gossip": 3}
    }
    assert render(active["value_template"], state) == "spicy-tech-gossip"
    assert json.loads(render(active["json_attributes_template"], state))["source"] == "community"
    assert render(select["value_template"], state) == AUTO
    forced = {**state, "active_profile": "book-club", "source": "forced", "forced": "book-club"}
    assert render(select["value_template"], forced) == "book-club"
    assert render(active["value_template"], {**state, "active_profile": None, "active": []}) == "none"
    for value in (render(select["value_template"], state), render(select["value_template"], forced)):
        assert value in select["options"]  # Home Assistant ignores a state that is not an option


def test_a_community_named_like_an_attribute_home_assistant_reserves_keeps_its_headcount() -> None:
    """Home Assistant drops reserved attribute keys: the counts live under one key of ours, whatever the ids."""
    by_id = {c["unique_id"]: c for c in configs(venue()).values()}
    counts = {"icon": 2, "state_class": 1, "name": 4, "state": 1, "book-club": 3}
    state = {"headcount": counts, "total": 11, "active_profile": "name", "active": ["name"], "source": "community",
             "forced": None, "phase": None}  # fmt: skip
    for unique_id in ("ambience_teahouse-1_headcount", "ambience_teahouse-1_active_community"):
        attributes = json.loads(render(by_id[unique_id]["json_attributes_template"], state))
        assert not set(attributes) & HA_RESERVED_ATTRIBUTES, (unique_id, attributes)
    headcount = json.loads(render(by_id["ambience_teahouse-1_headcount"]["json_attributes_template"], state))
    assert headcount["communities"] == counts


def test_the_select_offers_automatic_and_every_profile_and_commands_the_force_topic_with_qos_1() -> None:
    select = select_config()
    assert select["options"] == [AUTO, "book-club", "house", "spicy-tech-gossip"]  # no names known: the ids
    assert select["command_topic"] == "ambience/teahouse-1/force"
    assert select["qos"] == 1  # a choice made in Home Assistant must not be lost on the way
    assert select.get("retain", False) is False  # a retained command would be replayed at every reconnect


def test_the_select_shows_the_profiles_names_and_sends_their_community_ids() -> None:
    select = select_config(named(book_club="Book Club", house="House calm", spicy_tech_gossip="Spicy tech gossip"))
    assert select["options"] == [AUTO, "Book Club", "House calm", "Spicy tech gossip"]
    assert command(select, "Book Club") == "book-club"
    assert command(select, "Spicy tech gossip") == "spicy-tech-gossip"
    assert command(select, AUTO) == AUTO
    for sent, community in (("book-club", "book-club"), ("spicy-tech-gossip", "spicy-tech-gossip"), (AUTO, None)):
        assert parse_force(sent.encode()) == (community, None)  # what the select sends is what the controller takes
    state = {"forced": "book-club", "headcount": {}, "total": 0}
    assert render(select["value_template"], state) == "Book Club"  # the forced profile shown by its name
    assert render(select["value_template"], {**state, "forced": None}) == AUTO


def test_duplicate_names_and_a_profile_named_automatic_get_their_id_and_every_option_maps_back() -> None:
    profiles = named(jazz_a="Jazz", jazz_b="Jazz", trio="Jazz (jazz-b)", auto="Automatic", odd='Q "}} {% raw %} \\ 🍵')
    select = select_config(profiles)
    options = select["options"]
    assert len(options) == len(set(options)) == 1 + len(profiles)
    assert options.count(AUTO) == 1
    assert {"Jazz (jazz-a)", "Automatic (auto)"} <= set(options)
    for community in profiles:
        option = render(select["value_template"], {"forced": community})
        assert option in options  # Home Assistant ignores a state that is not an option
        assert command(select, option) == community
        assert parse_force(command(select, option).encode()) == (community, None)


def test_a_profile_without_a_name_is_shown_by_its_id() -> None:
    assert option_labels(["book-club"]) == {"book-club": "book-club"}
    blank = named(book_club="Book Club")["book-club"].model_copy(update={"name": "  "})
    assert option_labels({"book-club": blank}) == {"book-club": "book-club"}


@pytest.mark.parametrize(
    ("host", "url"),
    [
        ("192.168.1.20", "http://192.168.1.20:8080/"),
        ("teahouse-pi.local", "http://teahouse-pi.local:8080/"),
        ("fd00::20", "http://[fd00::20]:8080/"),
        ("0.0.0.0", None),
        ("::", None),
        ("127.0.0.1", None),
        ("::1", None),
        ("localhost", None),
    ],
)
def test_the_device_links_to_the_dashboard_where_others_can_open_it(host: str, url: str | None) -> None:
    """A wildcard or loopback api.host is no address a browser elsewhere can open: then there is no link."""
    for config in configs(venue(api={"host": host, "port": 8080})).values():
        assert config["device"].get("configuration_url") == url
        if url is not None:  # what Home Assistant's configuration_url validator accepts
            parts = urllib.parse.urlsplit(url)
            assert parts.scheme == "http" and parts.hostname and parts.port == 8080


def test_a_custom_prefix_is_used() -> None:
    assert all(t.startswith("ha-venue/") for t in configs(venue(prefix="ha-venue")))


def test_switched_off_every_config_topic_gets_an_empty_payload_which_removes_the_entity() -> None:
    on = discovery_messages(venue(), PROFILES)
    off = discovery_messages(venue(discovery=False), PROFILES)
    assert [t for t, _ in off] == [t for t, _ in on]
    assert all(payload == "" for _, payload in off)


def test_config_topic_matches_the_entity() -> None:
    v = venue()
    assert [config_topic(v, e) for e in entities(v, PROFILES)] == [
        "homeassistant/sensor/ambience_teahouse-1/headcount/config",
        "homeassistant/sensor/ambience_teahouse-1/active_community/config",
        "homeassistant/select/ambience_teahouse-1/profile/config",
    ]


@pytest.mark.parametrize(
    ("payload", "expected"),
    [
        (b"book-club", ("book-club", None)),
        (b" book-club\n", ("book-club", None)),
        (AUTO.encode(), (None, None)),
        (b"", (None, None)),
        (b'{"community_id": "book-club"}', ("book-club", None)),
        (b'{"community_id": null}', (None, None)),
    ],
)
def test_force_commands(payload: bytes, expected: tuple[str | None, str | None]) -> None:
    assert parse_force(payload) == expected


@pytest.mark.parametrize("payload", [b"{not json", b'{"member_id": "x"}', b'{"community_id": 3}'])
def test_bad_force_commands_say_what_is_wrong(payload: bytes) -> None:
    community, error = parse_force(payload)
    assert community is None and error
