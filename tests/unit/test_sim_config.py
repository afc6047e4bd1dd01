"""The simulator's reading of a venue config: only what it needs, errors with their path."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from firmware_sim.config import BrokerAddress, ConfigError, load_config, parse_config, with_overrides

VENUE: dict[str, Any] = {
    "venue": {"id": "teahouse-1", "name": "Teahouse"},
    "mqtt": {"url": "mqtt://127.0.0.1:1884", "base_topic": "z2m"},
    "limits": {"max_volume": 70},
    "devices": [
        {"id": "bar-pendant", "kind": "light", "zone": "bar", "driver": "mqtt", "topic": "bar_pendant"},
        {"id": "lounge-hue-1", "kind": "light", "zone": "lounge", "driver": "hue", "bridge": "main", "light": 1},
        {"id": "hvac", "kind": "thermostat", "zone": "*", "driver": "mqtt", "topic": "hvac"},
        {"id": "lamp", "kind": "light", "driver": "mqtt", "topic": "lamp", "color_temp_range": [250, 454]},
    ],
}


def test_only_mqtt_devices_are_simulated() -> None:
    config = parse_config(VENUE)
    assert [d.id for d in config.devices] == ["bar-pendant", "hvac", "lamp"]
    assert config.devices[2].color_temp_range == (250, 454)
    assert config.base_topic == "z2m"
    assert (config.broker.host, config.broker.port) == ("127.0.0.1", 1884)


def test_defaults() -> None:
    config = parse_config({"devices": []})
    assert config.base_topic == "zigbee2mqtt"
    assert config.broker.display() == "mqtt://127.0.0.1:1883"


@pytest.mark.parametrize(
    ("device", "path"),
    [
        ({"id": "x", "kind": "fan", "driver": "mqtt", "topic": "x"}, "devices.0.kind"),
        ({"id": "x", "kind": "light", "driver": "mqtt"}, "devices.0.topic"),
        ({"id": "x", "kind": "light", "driver": "mqtt", "topic": "a/#"}, "devices.0.topic"),
        ({"kind": "light", "driver": "mqtt", "topic": "x"}, "devices.0.id"),
        ({"id": "x", "kind": "light", "topic": "x", "color_temp_range": [454, 250]}, "devices.0.color_temp_range"),
        ({"id": "x", "kind": "light", "topic": "x", "color_temp_range": "warm"}, "devices.0.color_temp_range"),
    ],
)
def test_device_errors_name_their_path(device: dict[str, Any], path: str) -> None:
    with pytest.raises(ConfigError) as caught:
        parse_config({"devices": [device]})
    assert caught.value.path == path


def test_duplicate_topics_are_refused() -> None:
    devices = [{"id": "a", "kind": "light", "topic": "t"}, {"id": "b", "kind": "scent", "topic": "t"}]
    with pytest.raises(ConfigError, match=r"devices\.1\.topic"):
        parse_config({"devices": devices})


@pytest.mark.parametrize("url", ["http://host:1883", "mqtt://", "mqtt://host:notaport"])
def test_bad_urls(url: str) -> None:
    with pytest.raises(ConfigError, match=r"mqtt\.url"):
        BrokerAddress.parse(url)


def test_url_credentials_and_tls() -> None:
    address = BrokerAddress.parse("mqtts://user:p%40ss@broker.local")
    assert (address.host, address.port, address.tls, address.username, address.password) == (
        "broker.local",
        8883,
        True,
        "user",
        "p@ss",
    )
    assert "p@ss" not in address.display() and "p@ss" not in repr(address)


def test_overrides() -> None:
    config = with_overrides(parse_config(VENUE), url="mqtt://10.0.0.2:2000", base_topic="other")
    assert config.broker.display() == "mqtt://10.0.0.2:2000"
    assert config.base_topic == "other"
    with pytest.raises(ConfigError):
        with_overrides(config, base_topic="a/+")


def test_load_config_errors_are_one_line(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="cannot read"):
        load_config(tmp_path / "missing.yaml")
    broken = tmp_path / "broken.yaml"
    broken.write_text("devices: [\n", encoding="utf-8")
    with pytest.raises(ConfigError, match="not valid YAML"):
        load_config(broken)
    scalar = tmp_path / "scalar.yaml"
    scalar.write_text("42\n", encoding="utf-8")
    with pytest.raises(ConfigError, match="mapping"):
        load_config(scalar)
