"""The venue config: the contract's example, defaults, MQTT settings, devices and cross-field errors with paths."""

from __future__ import annotations

from typing import Any

import pytest
import yaml
from pydantic import ValidationError

from profiles import DeviceConfig, MqttSettings, ProfileError, VenueConfig, parse_venue

CONTRACT_VENUE = """
venue: {id: teahouse-1, name: Teahouse on 5th}
mqtt: {url: "mqtt://127.0.0.1:1883", username: null, password: null, base_topic: zigbee2mqtt}
api: {host: 127.0.0.1, port: 8000, admin_token_env: AMBIENCE_ADMIN_TOKEN}
store: {path: ./data/ambience.db, retention_days: 90}   # embedded event record and profiles (SQLite)
influx: {url: null, token_env: INFLUX_TOKEN, org: venue, bucket: ambience}   # optional forwarder
limits: {max_volume: 70, min_temp_c: 18, max_temp_c: 26, min_brightness: 5}
policy: {multi_community: majority, checkin_ttl_hours: 6, default_profile: house, override_minutes: 30}
priority: [book-club, spicy-tech-gossip]   # used by policy priority (bookings)
zones: [bar, lounge]
hue_bridges: {main: {host: "192.168.1.20", username_env: HUE_USERNAME}}
devices:
  - {id: bar-pendant, kind: light, zone: bar, driver: mqtt, topic: bar_pendant}
  - {id: lounge-hue-1, kind: light, zone: lounge, driver: hue, bridge: main, light: 1}
  - {id: hvac, kind: thermostat, zone: "*", driver: mqtt, topic: hvac}
  - {id: lounge-speaker, kind: speaker, zone: lounge, driver: mqtt, topic: lounge_speaker}
  - {id: diffuser, kind: scent, zone: lounge, driver: mqtt, topic: diffuser}
"""


def contract_venue() -> dict[str, Any]:
    data = yaml.safe_load(CONTRACT_VENUE)
    assert isinstance(data, dict)
    return data


def venue_lines(data: dict[str, Any]) -> list[str]:
    with pytest.raises(ProfileError) as caught:
        parse_venue(data)
    return [str(error) for error in caught.value.errors]


def with_devices(*devices: dict[str, Any], **extra: Any) -> dict[str, Any]:
    return {"venue": {"id": "v", "name": "V"}, "zones": ["bar", "lounge"], "devices": list(devices), **extra}


def light(device_id: str, **fields: Any) -> dict[str, Any]:
    return {"id": device_id, "kind": "light", "zone": "bar", "driver": "mqtt", "topic": device_id, **fields}


def test_contract_example_parses() -> None:
    config = parse_venue(contract_venue())
    assert config.venue.id == "teahouse-1"
    assert config.limits.max_volume == 70 and config.limits.min_temp_c == 18
    assert config.policy.default_profile == "house"
    assert config.priority == ("book-club", "spicy-tech-gossip")
    assert config.zones == ("bar", "lounge")
    assert config.hue_bridges["main"].host == "192.168.1.20"
    assert config.hue_bridges["main"].poll_interval_s == 2.0
    assert [device.id for device in config.devices] == [
        "bar-pendant",
        "lounge-hue-1",
        "hvac",
        "lounge-speaker",
        "diffuser",
    ]
    assert config.devices[1].light == 1 and config.devices[1].bridge == "main"
    assert config.influx.url is None


def test_defaults() -> None:
    config = parse_venue(with_devices())
    assert config.mqtt.url == "mqtt://127.0.0.1:1883" and config.mqtt.base_topic == "zigbee2mqtt"
    assert config.mqtt.keepalive_s == 30 and config.mqtt.password is None
    assert (config.api.host, config.api.port, config.api.admin_token_env) == ("127.0.0.1", 8000, "AMBIENCE_ADMIN_TOKEN")
    assert (config.store.path, config.store.retention_days) == ("./data/ambience.db", 90)
    assert (config.influx.token_env, config.influx.org, config.influx.bucket) == ("INFLUX_TOKEN", "venue", "ambience")
    assert (config.limits.max_volume, config.limits.min_temp_c, config.limits.max_temp_c) == (100, 5, 35)
    assert config.limits.min_brightness == 0
    assert config.policy.multi_community == "majority" and config.policy.checkin_ttl_hours == 6
    assert config.policy.default_profile is None and config.policy.override_minutes == 30
    assert config.priority == () and config.hue_bridges == {} and config.profiles_dir is None


@pytest.mark.parametrize(
    ("url", "host", "port", "tls"),
    [
        ("mqtt://127.0.0.1:1883", "127.0.0.1", 1883, False),
        ("mqtt://broker.local", "broker.local", 1883, False),
        ("mqtts://broker.local", "broker.local", 8883, True),
        ("mqtts://broker.local:9883", "broker.local", 9883, True),
        ("mqtt://[::1]:1884/", "::1", 1884, False),
    ],
)
def test_mqtt_url_helpers(url: str, host: str, port: int, tls: bool) -> None:
    settings = MqttSettings(url=url)
    assert (settings.host, settings.port, settings.tls) == (host, port, tls)


@pytest.mark.parametrize(
    "url",
    [
        "http://broker:1883",
        "broker:1883",
        "mqtt://",
        "mqtt://broker:99999",
        "mqtt://broker:0",
        "mqtt://u:p@broker",
        "mqtt://b/x",
    ],
)
def test_mqtt_url_rejects(url: str) -> None:
    lines = venue_lines(with_devices(mqtt={"url": url}))
    assert len(lines) == 1 and lines[0].startswith("mqtt.url: must ")


def test_password_in_file_is_refused_and_points_at_password_env() -> None:
    lines = venue_lines(with_devices(mqtt={"password": "hunter2"}))
    assert len(lines) == 1
    assert lines[0].startswith("mqtt.password: must be null")
    assert "password_env" in lines[0]
    assert parse_venue(with_devices(mqtt={"password": None, "password_env": "MQTT_PASSWORD"})).mqtt.password_env == (
        "MQTT_PASSWORD"
    )


def test_env_variable_names_are_checked() -> None:
    assert venue_lines(with_devices(api={"admin_token_env": "not a name"})) == [
        "api.admin_token_env: must be an environment variable name like AMBIENCE_ADMIN_TOKEN"
    ]


def test_limits_temperatures_must_be_ordered() -> None:
    parse_venue(with_devices(limits={"min_temp_c": 21, "max_temp_c": 21}))
    assert venue_lines(with_devices(limits={"min_temp_c": 22, "max_temp_c": 21})) == [
        "limits.min_temp_c: must be <= max_temp_c (21)"
    ]


def test_zones_must_be_present_unique_and_not_star() -> None:
    assert venue_lines(with_devices(zones=[])) == ["zones: must not be empty"]
    assert venue_lines(with_devices(zones=["bar", "lounge", "bar", "*"])) == [
        "zones.2: must be unique (zones.0 is the same)",
        "zones.3: '*' means every zone and cannot be a zone name",
    ]


def test_cross_field_errors_point_at_the_device_field() -> None:
    data = with_devices(
        light("a"),
        light("b", zone="cellar"),
        light("a", topic="c"),
        light("d", topic="a"),
        {"id": "hue-1", "kind": "light", "zone": "*", "driver": "hue", "bridge": "attic", "light": 1},
        hue_bridges={"main": {"host": "192.168.1.20"}},
    )
    assert venue_lines(data) == [
        "devices.1.zone: must be one of bar, lounge or *",
        "devices.2.id: must be unique (devices.0 has the same id)",
        "devices.3.topic: must be unique (devices.0 has the same topic)",
        "devices.4.bridge: must be a key of hue_bridges (main)",
    ]


def test_cross_field_locations_come_from_the_model_itself() -> None:
    with pytest.raises(ValidationError) as caught:
        VenueConfig.model_validate(with_devices(light("a"), light("b", zone="cellar")))
    assert [error["loc"] for error in caught.value.errors()] == [("devices", 1, "zone")]


def test_same_hue_light_twice_is_an_error() -> None:
    hue = {"kind": "light", "zone": "bar", "driver": "hue", "bridge": "main", "light": 3}
    data = with_devices({"id": "h1", **hue}, {"id": "h2", **hue}, hue_bridges={"main": {"host": "hue.local"}})
    assert venue_lines(data) == ["devices.1.light: must be unique per bridge (devices.0 is the same light)"]


def test_star_zone_is_every_zone() -> None:
    config = parse_venue(
        with_devices({"id": "hvac", "kind": "thermostat", "zone": "*", "driver": "mqtt", "topic": "hvac"})
    )
    assert config.devices[0].zone == "*"


@pytest.mark.parametrize(
    ("device", "lines"),
    [
        (
            {"id": "a", "kind": "light", "zone": "bar", "driver": "mqtt"},
            ["devices.0.topic: required for an mqtt device"],
        ),
        (
            {"id": "a", "kind": "light", "zone": "bar", "driver": "hue"},
            ["devices.0.bridge: required for a hue device", "devices.0.light: required for a hue device"],
        ),
        (
            {"id": "a", "kind": "thermostat", "zone": "bar", "driver": "hue", "bridge": "main", "light": 1},
            [
                "devices.0.kind: must be light for a hue device (a bridge drives lights)",
                "devices.0.bridge: must be a key of hue_bridges (none configured)",
            ],
        ),
        (
            {"id": "a", "kind": "light", "zone": "bar", "driver": "mqtt", "topic": "a", "bridge": "main", "light": 1},
            ["devices.0.bridge: only for hue devices", "devices.0.light: only for hue devices"],
        ),
        (light("a", topic="bar/#"), ["devices.0.topic: must not contain the MQTT wildcards + or #"]),
        (light("a", topic="bar/+/x"), ["devices.0.topic: must not contain the MQTT wildcards + or #"]),
        (light("a", topic="/bar"), ["devices.0.topic: must not start or end with /"]),
        (light("a", topic="bar/"), ["devices.0.topic: must not start or end with /"]),
        (light("a", topic=""), ["devices.0.topic: must not be empty"]),
        (light("a", kind="lamp"), ["devices.0.kind: must be one of light, thermostat, speaker, scent"]),
        (light("a", driver="zwave"), ["devices.0.driver: must be one of mqtt, hue"]),
        (light("a", color_temp_range=[152, 454]), ["devices.0.color_temp_range.0: must be >= 153"]),
        (light("a", color_temp_range=[153, 501]), ["devices.0.color_temp_range.1: must be <= 500"]),
        (
            light("a", color_temp_range=[300, 300]),
            ["devices.0.color_temp_range: low must be below high, like [153, 454]"],
        ),
        (
            light("a", color_temp_range=[153]),
            ["devices.0.color_temp_range: must be two mireds [low, high], like [153, 454]"],
        ),
        (light("a", kind="speaker", color_temp_range=[153, 454]), ["devices.0.color_temp_range: only for lights"]),
        (light("a", Id="x"), ["devices.0.Id: unknown field"]),
    ],
)
def test_device_errors(device: dict[str, Any], lines: list[str]) -> None:
    assert venue_lines(with_devices(device)) == lines


def test_color_temp_range_bounds_are_accepted() -> None:
    config = parse_venue(with_devices(light("a", color_temp_range=[153, 500]), light("b", color_temp_range=[250, 454])))
    assert config.devices[0].color_temp_range == (153, 500)
    assert config.devices[1].color_temp_range == (250, 454)


def test_device_config_can_be_built_directly() -> None:
    device = DeviceConfig(id="hvac", kind="thermostat", zone="*", driver="mqtt", topic="hvac")
    assert device.bridge is None and device.light is None


def test_priority_entries_are_unique_slugs() -> None:
    assert venue_lines(with_devices(priority=["book-club", "book-club", "Bad"])) == [
        "priority.2: must be an id of 1-64 lowercase letters, digits, '-' or '_', starting with a letter or digit"
    ]
    assert venue_lines(with_devices(priority=["book-club", "book-club"])) == [
        "priority.1: must be unique (priority.0 is the same)"
    ]


def test_influx_url_must_be_http() -> None:
    assert parse_venue(with_devices(influx={"url": "http://localhost:8086"})).influx.url == "http://localhost:8086"
    lines = venue_lines(with_devices(influx={"url": "udp://localhost:8089"}))
    assert len(lines) == 1 and lines[0].startswith("influx.url: must be a URL like http://127.0.0.1:8086")


def test_unknown_venue_fields_are_rejected_at_any_depth() -> None:
    data = contract_venue()
    data["mqtt"]["qos"] = 1
    data["hue_bridges"]["main"]["port"] = 80
    data["venue"]["city"] = "x"
    data["extra"] = True
    assert venue_lines(data) == [
        "venue.city: unknown field",
        "mqtt.qos: unknown field",
        "hue_bridges.main.port: unknown field",
        "extra: unknown field",
    ]
