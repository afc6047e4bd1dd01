"""A venue's configuration (docs/contract.md §2): its broker, API, store, limits, policy, zones and devices.

Secrets never live in this file: it names environment variables (`password_env`, `admin_token_env`,
`token_env`, `username_env`) and the service reads them at start. Cross-field rules (a device's zone exists,
ids and topics are unique, a Hue device's bridge is configured) are checked here, with the error placed on the
offending field (`devices.2.zone`), so `ambience check` can say exactly which line to fix.
"""

from __future__ import annotations

from collections.abc import Collection, Sequence
from typing import Annotated, Any, Literal
from urllib.parse import SplitResult, urlsplit

from pydantic import Field, field_validator, model_validator
from pydantic_core import PydanticCustomError

from profiles._model import DocumentModel
from profiles.errors import ErrorCollector
from profiles.units import Celsius, EnvVarName, Mired, Percent, Slug

__all__ = [
    "ALL_ZONES",
    "ApiSettings",
    "DeviceConfig",
    "HomeAssistantSettings",
    "HueBridge",
    "InfluxSettings",
    "Limits",
    "MqttSettings",
    "Policy",
    "StoreSettings",
    "VenueConfig",
    "VenueInfo",
]

ALL_ZONES = "*"
"""A device whose zone is `*` serves every zone (a venue-wide thermostat)."""

MQTT_PORT = 1883
MQTTS_PORT = 8883

_Text = Annotated[str, Field(min_length=1)]


def _check_topic(value: str) -> str:
    """A device topic is a fixed name under the base topic, never a filter and never an absolute path."""
    if not value:
        raise PydanticCustomError("mqtt_topic", "must not be empty")
    if "+" in value or "#" in value:
        raise PydanticCustomError("mqtt_topic", "must not contain the MQTT wildcards + or #")
    if value.startswith("/") or value.endswith("/"):
        raise PydanticCustomError("mqtt_topic", "must not start or end with /")
    if "\x00" in value:
        raise PydanticCustomError("mqtt_topic", "must not contain a NUL character")
    return value


def _split_url(value: str, schemes: tuple[str, ...], example: str) -> SplitResult:
    """Parse a service URL, rejecting anything a connection could not use."""
    problem = f"must be a URL like {example}"
    try:
        parts = urlsplit(value)
        port = parts.port
    except ValueError:
        raise PydanticCustomError("url", problem + " (the port must be 1-65535)") from None
    if parts.scheme not in schemes:
        raise PydanticCustomError("url", problem + f" (scheme {' or '.join(schemes)})")
    if not parts.hostname:
        raise PydanticCustomError("url", problem + " (a host is missing)")
    if port == 0:
        raise PydanticCustomError("url", problem + " (the port must be 1-65535)")
    if parts.username is not None or parts.password is not None:
        raise PydanticCustomError(
            "url", "must not contain credentials: use username and an environment variable named in *_env"
        )
    return parts


class VenueInfo(DocumentModel):
    """Who this venue is; the id appears in MQTT topics (`ambience/<id>/...`)."""

    id: Slug
    name: Annotated[str, Field(min_length=1, max_length=100)]


class MqttSettings(DocumentModel):
    """The broker the devices (Zigbee2MQTT or simulated) and kiosks talk to."""

    url: str = "mqtt://127.0.0.1:1883"
    """`mqtt://host[:port]` or `mqtts://host[:port]` (TLS); the port defaults to 1883 / 8883."""
    username: _Text | None = None
    password: None = None
    """Always null: the password comes from the environment variable named in password_env."""
    password_env: EnvVarName | None = None
    """Environment variable that holds the broker password."""
    base_topic: str = "zigbee2mqtt"
    """Zigbee2MQTT's base topic; device topics live under it."""
    keepalive_s: Annotated[int, Field(ge=1, le=65535)] = 30

    @field_validator("url")
    @classmethod
    def _url(cls, value: str) -> str:
        parts = _split_url(value, ("mqtt", "mqtts"), "mqtt://127.0.0.1:1883")
        if parts.path not in ("", "/") or parts.query or parts.fragment:
            raise PydanticCustomError("url", "must be a URL like mqtt://127.0.0.1:1883 (no path or query)")
        return value

    @field_validator("password", mode="before")
    @classmethod
    def _no_password_in_file(cls, value: Any) -> None:
        """A password in a file ends up in backups and repositories; only its variable's name belongs here."""
        if value is not None:
            raise PydanticCustomError(
                "secret_in_file",
                "must be null: secrets never come from the file; "
                "put the password in an environment variable and name it in password_env",
            )

    @field_validator("base_topic")
    @classmethod
    def _base_topic(cls, value: str) -> str:
        return _check_topic(value)

    @property
    def host(self) -> str:
        """The broker's host name or address."""
        return urlsplit(self.url).hostname or ""

    @property
    def tls(self) -> bool:
        """True for `mqtts://`."""
        return urlsplit(self.url).scheme == "mqtts"

    @property
    def port(self) -> int:
        """The port in the URL, else 8883 with TLS and 1883 without."""
        return urlsplit(self.url).port or (MQTTS_PORT if self.tls else MQTT_PORT)


class ApiSettings(DocumentModel):
    """Where the HTTP API listens and which environment variable holds the admin token."""

    host: _Text = "127.0.0.1"
    port: Annotated[int, Field(ge=1, le=65535)] = 8000
    admin_token_env: EnvVarName = "AMBIENCE_ADMIN_TOKEN"


class StoreSettings(DocumentModel):
    """The embedded SQLite store (event record and profiles)."""

    path: _Text = "./data/ambience.db"
    """Relative paths are relative to the config file's folder."""
    retention_days: Annotated[int, Field(ge=1)] = 90
    """How long events are kept locally."""
    device_state_every_s: Annotated[float, Field(ge=0, le=86400)] = 60
    """A device's reports that change nothing beyond the comparison tolerances (a sensor's jitter, a fade's last
    step) are recorded at most this often; real changes are recorded at once. A device reporting 1,000 times a
    second would otherwise write hundreds of megabytes a day."""


class InfluxSettings(DocumentModel):
    """The optional InfluxDB v2 forwarder; off while `url` is null."""

    url: str | None = None
    """`http(s)://host:port` of InfluxDB, or null for no forwarding."""
    token_env: EnvVarName = "INFLUX_TOKEN"
    org: _Text = "venue"
    bucket: _Text = "ambience"

    @field_validator("url")
    @classmethod
    def _url(cls, value: str | None) -> str | None:
        if value is not None:
            _split_url(value, ("http", "https"), "http://127.0.0.1:8086")
        return value


class HomeAssistantSettings(DocumentModel):
    """Home Assistant MQTT discovery: the venue's headcount, active community and a profile selector appear in a
    Home Assistant that uses the same broker, with no YAML there."""

    discovery: bool = True
    """Publish the discovery messages (retained); false removes the entities they created."""
    prefix: str = "homeassistant"
    """Home Assistant's `discovery_prefix` (its MQTT integration's setting)."""

    @field_validator("prefix")
    @classmethod
    def _prefix(cls, value: str) -> str:
        return _check_topic(value)


class Limits(DocumentModel):
    """Bounds the resolved ambience is always clamped to, whatever a profile asks for."""

    max_volume: Percent = 100
    min_temp_c: Celsius = 5
    max_temp_c: Celsius = 35
    min_brightness: Percent = 0
    """Lowest brightness of a light that is on (safety: never pitch dark)."""

    @model_validator(mode="after")
    def _temps_ordered(self) -> Limits:
        if self.min_temp_c > self.max_temp_c:
            problems = ErrorCollector()
            problems.add(
                ("min_temp_c",),
                "limits_order",
                f"must be <= max_temp_c ({self.max_temp_c:g})",
                self.min_temp_c,
            )
            problems.raise_if_any("Limits")
        return self


class Policy(DocumentModel):
    """How the desired ambience is chosen when several communities (or none) are present."""

    multi_community: Literal["majority", "blend", "priority"] = "majority"
    checkin_ttl_hours: Annotated[float, Field(gt=0)] = 6
    """A member who never checks out is dropped after this long."""
    default_profile: Slug | None = None
    """Community whose profile applies when no community is eligible; null leaves devices as they are."""
    override_minutes: Annotated[float, Field(ge=0)] = 30
    """How long a manual change at a device is respected before the controller reasserts."""


class HueBridge(DocumentModel):
    """A Philips Hue bridge on the local network."""

    host: _Text
    """Host name or address, without `http://`."""
    username_env: EnvVarName = "HUE_USERNAME"
    """Environment variable holding the bridge username (from `ambience hue pair`)."""
    poll_interval_s: Annotated[float, Field(gt=0)] = 2.0

    @field_validator("host")
    @classmethod
    def _bare_host(cls, value: str) -> str:
        if "/" in value or " " in value:
            raise PydanticCustomError("host", "must be a host name or address like 192.168.1.20, without http://")
        return value


class DeviceConfig(DocumentModel):
    """One device: what it is, where it is, and how it is reached (an MQTT topic or a Hue bridge light)."""

    id: Slug
    kind: Literal["light", "thermostat", "speaker", "scent"]
    zone: _Text
    """One of the venue's zones, or `*` for all of them."""
    driver: Literal["mqtt", "hue"]
    topic: str | None = None
    """MQTT only: the Zigbee2MQTT friendly name under the base topic."""
    bridge: str | None = None
    """Hue only: a key of `hue_bridges`."""
    light: Annotated[int, Field(ge=1)] | None = None
    """Hue only: the bridge's light number."""
    color_temp_range: tuple[Mired, Mired] | None = None
    """Lights only: the mireds this light supports; narrows what Zigbee2MQTT or the Hue bridge says."""
    plug: bool = False
    """Scent only: a diffuser on a smart plug. `intensity` becomes a duty cycle: on for `intensity` % of each
    `cycle_s`, each on-phase sent with the plug's own `on_time`, so a service that stops cannot leave it on."""
    cycle_s: Annotated[float, Field(ge=10, le=86400)] = 300.0
    """With `plug`: the length of one on/off cycle, in seconds."""
    model: Annotated[str, Field(max_length=100)] | None = None
    """Informational: the device's Zigbee2MQTT model (its definition's `model`, e.g. `TV02-Zigbee`). The
    controller learns what a device can take from `bridge/devices`; the simulator plays this model."""

    @field_validator("topic")
    @classmethod
    def _topic(cls, value: str | None) -> str | None:
        return None if value is None else _check_topic(value)

    @field_validator("color_temp_range", mode="before")
    @classmethod
    def _pair(cls, value: Any) -> Any:
        """pydantic would say `color_temp_range.1: required`; a pair is clearer about what is expected."""
        if isinstance(value, list | tuple) and len(value) != 2:
            raise PydanticCustomError("mired_range", "must be two mireds [low, high], like [153, 454]")
        return value

    @model_validator(mode="after")
    def _driver_fields(self) -> DeviceConfig:
        """Each driver needs its own address fields and refuses the other's, so a half-edit is caught."""
        problems = ErrorCollector()
        if self.driver == "mqtt":
            if self.topic is None:
                problems.add(("topic",), "driver_required", "required for an mqtt device", None)
            for name in ("bridge", "light"):
                if getattr(self, name) is not None:
                    problems.add((name,), "driver_field", "only for hue devices", getattr(self, name))
        else:
            for name in ("bridge", "light"):
                if getattr(self, name) is None:
                    problems.add((name,), "driver_required", "required for a hue device", None)
            if self.topic is not None:
                problems.add(("topic",), "driver_field", "only for mqtt devices", self.topic)
            if self.kind != "light":
                problems.add(
                    ("kind",), "hue_light_only", "must be light for a hue device (a bridge drives lights)", self.kind
                )
        if self.color_temp_range is not None:
            low, high = self.color_temp_range
            if self.kind != "light":
                problems.add(("color_temp_range",), "light_only", "only for lights", self.color_temp_range)
            elif low >= high:
                problems.add(
                    ("color_temp_range",),
                    "mired_range",
                    "low must be below high, like [153, 454]",
                    [low, high],
                )
        if self.plug and (self.kind != "scent" or self.driver != "mqtt"):
            problems.add(("plug",), "plug_scent_only", "only for a scent device on mqtt (a diffuser on a plug)", True)
        problems.raise_if_any("DeviceConfig")
        return self


class VenueConfig(DocumentModel):
    """The whole venue config file."""

    venue: VenueInfo
    mqtt: MqttSettings = MqttSettings()
    api: ApiSettings = ApiSettings()
    store: StoreSettings = StoreSettings()
    influx: InfluxSettings = InfluxSettings()
    home_assistant: HomeAssistantSettings = HomeAssistantSettings()
    limits: Limits = Limits()
    policy: Policy = Policy()
    priority: tuple[Slug, ...] = ()
    """Community ids in order of precedence, for policy `priority` (bookings)."""
    zones: Annotated[tuple[_Text, ...], Field(min_length=1)]
    """The venue's zone names; a profile's `lighting.zones` entries refer to these."""
    hue_bridges: dict[_Text, HueBridge] = {}
    devices: tuple[DeviceConfig, ...]
    profiles_dir: _Text | None = None
    """Folder of profile files seeded into the store at start; relative to the config file's folder."""

    @field_validator("zones")
    @classmethod
    def _zones(cls, zones: tuple[str, ...]) -> tuple[str, ...]:
        problems = ErrorCollector()
        seen: dict[str, int] = {}
        for index, zone in enumerate(zones):
            if zone == ALL_ZONES:
                problems.add((index,), "zone", "'*' means every zone and cannot be a zone name", zone)
            elif zone in seen:
                problems.add((index,), "duplicate", f"must be unique (zones.{seen[zone]} is the same)", zone)
            else:
                seen[zone] = index
        problems.raise_if_any("VenueConfig")
        return zones

    @field_validator("priority")
    @classmethod
    def _priority(cls, priority: tuple[str, ...]) -> tuple[str, ...]:
        problems = ErrorCollector()
        seen: dict[str, int] = {}
        for index, community in enumerate(priority):
            if community in seen:
                problems.add(
                    (index,),
                    "duplicate",
                    f"must be unique (priority.{seen[community]} is the same)",
                    community,
                )
            seen.setdefault(community, index)
        problems.raise_if_any("VenueConfig")
        return priority

    @model_validator(mode="after")
    def _devices_fit_venue(self) -> VenueConfig:
        """Ids and topics unique, zones known, Hue bridges configured and each bridge light used once."""
        problems = ErrorCollector()
        refs = [(d.id, d.zone, d.topic, d.bridge, d.light) for d in self.devices]
        check_devices_fit(refs, self.zones, self.hue_bridges, problems)
        problems.raise_if_any("VenueConfig")
        return self


def check_devices_fit(
    devices: Sequence[tuple[Any, Any, Any, Any, Any]],
    zones: Sequence[Any],
    hue_bridges: Collection[Any],
    problems: ErrorCollector,
) -> None:
    """The venue's cross-field rules over plain `(id, zone, topic, bridge, light)` values.

    Plain values, so the loader can run the same rules on a raw document whose other fields are invalid (pydantic
    skips after-validators then) and `ambience check` reports every error at once. Values of the wrong type are
    left to the field validators.
    """
    ids: dict[Any, int] = {}
    topics: dict[Any, int] = {}
    hue_lights: dict[tuple[Any, Any], int] = {}
    for index, (device_id, zone, topic, bridge, light) in enumerate(devices):
        if isinstance(device_id, str):
            if device_id in ids:
                problems.add(
                    ("devices", index, "id"),
                    "duplicate",
                    f"must be unique (devices.{ids[device_id]} has the same id)",
                    device_id,
                )
            ids.setdefault(device_id, index)
        if isinstance(zone, str) and zone != ALL_ZONES and zone not in zones:
            problems.add(
                ("devices", index, "zone"), "unknown_zone", f"must be one of {', '.join(map(str, zones))} or *", zone
            )
        if isinstance(topic, str):
            if topic in topics:
                problems.add(
                    ("devices", index, "topic"),
                    "duplicate",
                    f"must be unique (devices.{topics[topic]} has the same topic)",
                    topic,
                )
            topics.setdefault(topic, index)
        if isinstance(bridge, str):
            if bridge not in hue_bridges:
                known = ", ".join(map(str, hue_bridges)) or "none configured"
                problems.add(
                    ("devices", index, "bridge"), "unknown_bridge", f"must be a key of hue_bridges ({known})", bridge
                )
            elif isinstance(light, int):
                key = (bridge, light)
                if key in hue_lights:
                    problems.add(
                        ("devices", index, "light"),
                        "duplicate",
                        f"must be unique per bridge (devices.{hue_lights[key]} is the same light)",
                        light,
                    )
                hue_lights.setdefault(key, index)
