"""The part of a venue config the simulator needs: broker, base topic and the `driver: mqtt` devices.

Read from the raw YAML on purpose, not through the controller's config model: the simulator stands on the
other side of the wire and knows only the protocol. Other keys of the venue file are ignored; what the
simulator uses is checked, and errors name the path (`devices.2.topic: required`).
"""

from __future__ import annotations

import os
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any
from urllib.parse import unquote, urlsplit

import yaml

from firmware_sim.definitions import is_switch, light_model, models, valve_model

KINDS = ("light", "thermostat", "speaker", "scent")
DEFAULT_BASE_TOPIC = "zigbee2mqtt"
DEFAULT_URL = "mqtt://127.0.0.1:1883"
PLAIN_SCHEMES = {"mqtt": 1883, "tcp": 1883}
TLS_SCHEMES = {"mqtts": 8883, "ssl": 8883}


class ConfigError(ValueError):
    """A venue config the simulator cannot run; `path` is where in the file (empty for the file itself)."""

    def __init__(self, path: str, reason: str) -> None:
        super().__init__(f"{path}: {reason}" if path else reason)
        self.path = path
        self.reason = reason


@dataclass(frozen=True, slots=True)
class BrokerAddress:
    """Where the devices connect; parsed once from `mqtt://[user:pass@]host[:port]`."""

    host: str
    port: int
    tls: bool = False
    username: str | None = None
    password: str | None = field(default=None, repr=False)

    @classmethod
    def parse(cls, url: str, username: str | None = None, password: str | None = None) -> BrokerAddress:
        parts = urlsplit(url)
        scheme = parts.scheme.lower()
        if scheme not in PLAIN_SCHEMES and scheme not in TLS_SCHEMES:
            raise ConfigError("mqtt.url", f"expected mqtt://host:port, got {url!r}")
        if not parts.hostname:
            raise ConfigError("mqtt.url", f"no host in {url!r}")
        try:
            port = parts.port or PLAIN_SCHEMES.get(scheme) or TLS_SCHEMES[scheme]
        except ValueError:
            raise ConfigError("mqtt.url", f"bad port in {url!r}") from None
        return cls(
            host=parts.hostname,
            port=port,
            tls=scheme in TLS_SCHEMES,
            username=username if username is not None else (unquote(parts.username) if parts.username else None),
            password=password if password is not None else (unquote(parts.password) if parts.password else None),
        )

    def display(self) -> str:
        """The URL without credentials, for log and console lines."""
        return f"{'mqtts' if self.tls else 'mqtt'}://{self.host}:{self.port}"


@dataclass(frozen=True, slots=True)
class DeviceSpec:
    """One simulated device, as the venue config describes it."""

    id: str
    kind: str
    topic: str
    color_temp_range: tuple[int, int] | None = None
    zone: str | None = None
    model: str | None = None
    plug: bool = False
    """A scent diffuser on a smart plug: the simulated device is the plug (state and on_time)."""
    """A real device's Zigbee2MQTT model (firmware_sim/definitions.json): the device behaves as its definition."""


@dataclass(frozen=True, slots=True)
class SimConfig:
    broker: BrokerAddress
    base_topic: str
    devices: tuple[DeviceSpec, ...]


def _check_topic_part(path: str, value: Any) -> str:
    if not isinstance(value, str) or not value.strip("/"):
        raise ConfigError(path, "must be a non-empty string")
    if any(char in value for char in "+#\0"):
        raise ConfigError(path, "must not contain MQTT wildcards (+, #)")
    return value.strip("/")


def _color_temp_range(path: str, value: Any) -> tuple[int, int]:
    if (
        not isinstance(value, Sequence)
        or isinstance(value, str)
        or len(value) != 2
        or not all(isinstance(v, int) and not isinstance(v, bool) for v in value)
    ):
        raise ConfigError(path, "must be [lo, hi] in mireds")
    lo, hi = int(value[0]), int(value[1])
    if not 0 < lo < hi:
        raise ConfigError(path, f"must be 0 < lo < hi, got [{lo}, {hi}]")
    return lo, hi


def parse_devices(entries: Any, path: str = "devices") -> tuple[DeviceSpec, ...]:
    """The `driver: mqtt` entries (a missing driver means mqtt); others (hue) are left to their own drivers."""
    if entries is None:
        return ()
    if not isinstance(entries, Sequence) or isinstance(entries, str):
        raise ConfigError(path, "must be a list")
    specs: list[DeviceSpec] = []
    ids: set[str] = set()
    topics: set[str] = set()
    for index, entry in enumerate(entries):
        where = f"{path}.{index}"
        if not isinstance(entry, Mapping):
            raise ConfigError(where, "must be a mapping")
        if entry.get("driver", "mqtt") != "mqtt":
            continue
        device_id = entry.get("id")
        if not isinstance(device_id, str) or not device_id:
            raise ConfigError(f"{where}.id", "required, a non-empty string")
        if device_id in ids:
            raise ConfigError(f"{where}.id", f"duplicate id {device_id!r}")
        kind = entry.get("kind")
        if kind not in KINDS:
            raise ConfigError(f"{where}.kind", f"must be one of {', '.join(KINDS)}, got {kind!r}")
        if "topic" not in entry:
            raise ConfigError(f"{where}.topic", "required for driver mqtt")
        topic = _check_topic_part(f"{where}.topic", entry["topic"])
        if topic in topics:
            raise ConfigError(f"{where}.topic", f"duplicate topic {topic!r}")
        range_value = entry.get("color_temp_range")
        mireds = None if range_value is None else _color_temp_range(f"{where}.color_temp_range", range_value)
        model = entry.get("model")
        if model is not None:
            if model not in models():
                raise ConfigError(f"{where}.model", f"no definition of {model!r}; known: {', '.join(models())}")
            if kind == "light":
                fits = light_model(model) is not None
            elif kind == "thermostat":
                fits = valve_model(model) is not None
            else:  # a diffuser is only ever a real Zigbee device as the plug it hangs on
                fits = kind == "scent" and entry.get("plug") is True and is_switch(model)
            if not fits:
                raise ConfigError(f"{where}.model", f"{model!r} is not a {kind}")
        ids.add(device_id)
        topics.add(topic)
        zone = entry.get("zone")
        plug = entry.get("plug", False) is True
        spec = DeviceSpec(device_id, str(kind), topic, mireds, str(zone) if zone is not None else None, model, plug)
        specs.append(spec)
    return tuple(specs)


def parse_config(raw: Any) -> SimConfig:
    """A loaded venue YAML document to what the simulator runs."""
    if not isinstance(raw, Mapping):
        raise ConfigError("", "a venue config must be a YAML mapping")
    mqtt = raw.get("mqtt") or {}
    if not isinstance(mqtt, Mapping):
        raise ConfigError("mqtt", "must be a mapping")
    url = mqtt.get("url") or DEFAULT_URL
    if not isinstance(url, str):
        raise ConfigError("mqtt.url", "must be a string")
    username = mqtt.get("username")
    password = mqtt.get("password")
    password_env = mqtt.get("password_env")
    if password is None and isinstance(password_env, str):
        password = os.environ.get(password_env)
    base_topic = mqtt.get("base_topic") or DEFAULT_BASE_TOPIC
    return SimConfig(
        broker=BrokerAddress.parse(
            url,
            username=username if isinstance(username, str) else None,
            password=password if isinstance(password, str) else None,
        ),
        base_topic=_check_topic_part("mqtt.base_topic", base_topic),
        devices=parse_devices(raw.get("devices")),
    )


def with_overrides(config: SimConfig, url: str | None = None, base_topic: str | None = None) -> SimConfig:
    """The config with the command line's broker URL and base topic, checked like the file's."""
    broker = config.broker
    if url is not None:
        broker = BrokerAddress.parse(url, username=broker.username, password=broker.password)
    topic = config.base_topic if base_topic is None else _check_topic_part("--base-topic", base_topic)
    return replace(config, broker=broker, base_topic=topic)


def load_config(path: str | Path) -> SimConfig:
    """Read and check a venue YAML file; every failure is a `ConfigError` with a one-line message."""
    try:
        text = Path(path).read_text(encoding="utf-8")
    except OSError as error:
        raise ConfigError("", f"cannot read {path}: {error.strerror or error}") from None
    try:
        raw = yaml.safe_load(text)
    except yaml.YAMLError as error:
        mark = getattr(error, "problem_mark", None)
        where = f" (line {mark.line + 1})" if mark is not None else ""
        raise ConfigError("", f"{path}: not valid YAML{where}") from None
    if raw is None:
        raise ConfigError("", f"{path}: empty file")
    try:
        return parse_config(raw)
    except ConfigError as error:
        if error.path:
            raise
        raise ConfigError("", f"{path}: {error.reason}") from None
