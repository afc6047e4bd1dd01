"""Home Assistant discovery messages against Home Assistant's documented MQTT discovery schema, and the force
command's parsing. No broker: tests/integration/test_home_assistant.py runs them through a real Mosquitto.

The schema below is what home-assistant.io documents for MQTT discovery (integrations/mqtt, sensor.mqtt,
select.mqtt): the topic format, the keys each platform requires, the keys it knows (a misspelt key is dropped by
Home Assistant without a word, so an unknown key here is a bug), and the device/origin blocks."""

from __future__ import annotations

import json
import re
from typing import Any

import pytest
from jinja2.sandbox import ImmutableSandboxedEnvironment

from controller.home_assistant import AUTO, config_topic, discovery_messages, entities, parse_force
from profiles.loader import parse_venue
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


def venue(**home_assistant: Any) -> VenueConfig:
    return parse_venue(
        {
            "venue": {"id": "teahouse-1", "name": "Teahouse on 5th"},
            "home_assistant": home_assistant,
            "zones": ["lounge"],
            "devices": [{"id": "lamp", "kind": "light", "zone": "lounge", "driver": "mqtt", "topic": "lamp"}],
        }
    )


PROFILES = ["spicy-tech-gossip", "book-club", "house"]


def configs(v: VenueConfig) -> dict[str, dict[str, Any]]:
    return {topic: json.loads(payload) for topic, payload in discovery_messages(v, PROFILES)}


def render(template: str, state: dict[str, Any]) -> str:
    """As Home Assistant renders a value template: Jinja2, the payload parsed as `value_json`."""
    env = ImmutableSandboxedEnvironment()
    return env.from_string(template).render(value_json=state, value=json.dumps(state)).strip()


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
    assert json.loads(render(headcount["json_attributes_template"], state)) == {"book-club": 2, "spicy-tech-gossip": 3}
    assert render(active["value_template"], state) == "spicy-tech-gossip"
    assert json.loads(render(active["json_attributes_template"], state))["source"] == "community"
    assert render(select["value_template"], state) == AUTO
    forced = {**state, "active_profile": "book-club", "source": "forced", "forced": "book-club"}
    assert render(select["value_template"], forced) == "book-club"
    assert render(active["value_template"], {**state, "active_profile": None, "active": []}) == "none"
    for value in (render(select["value_template"], state), render(select["value_template"], forced)):
        assert value in select["options"]  # Home Assistant ignores a state that is not an option


def test_the_select_offers_automatic_and_every_profile_and_commands_the_force_topic_with_qos_1() -> None:
    select = next(c for t, c in configs(venue()).items() if "/select/" in t)
    assert select["options"] == [AUTO, "book-club", "house", "spicy-tech-gossip"]
    assert select["command_topic"] == "ambience/teahouse-1/force"
    assert select["qos"] == 1  # a choice made in Home Assistant must not be lost on the way
    assert select.get("retain", False) is False  # a retained command would be replayed at every reconnect


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
