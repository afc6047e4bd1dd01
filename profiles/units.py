"""Human units as reusable constrained types.

Profiles are written by people, so they speak Percent, Kelvin and Celsius; device units (0-254, mireds) only
appear at the protocol boundary in `devices/`. Each type carries its range, so a model field declares what it
is and the range check, the error message and the JSON Schema all follow from that one place.
"""

from __future__ import annotations

import re
from typing import Annotated

from pydantic import AfterValidator, Field, WithJsonSchema
from pydantic_core import PydanticCustomError

__all__ = [
    "HEX_COLOR_PATTERN",
    "SLUG_PATTERN",
    "Celsius",
    "EnvVarName",
    "HexColor",
    "Kelvin",
    "Mired",
    "Percent",
    "Slug",
    "TransitionS",
]

HEX_COLOR_PATTERN = r"^#[0-9a-fA-F]{6}$"
SLUG_PATTERN = r"^[a-z0-9][a-z0-9_-]{0,63}$"
_ENV_VAR_PATTERN = r"^[A-Za-z_][A-Za-z0-9_]*$"

_HEX_COLOR_RE = re.compile(HEX_COLOR_PATTERN)
_SLUG_RE = re.compile(SLUG_PATTERN)
_ENV_VAR_RE = re.compile(_ENV_VAR_PATTERN)


def _hex_color(value: str) -> str:
    """Accept `#RRGGBB` in either case and store lowercase, so equal colours compare (and hash) equal."""
    if not _HEX_COLOR_RE.fullmatch(value):
        raise PydanticCustomError("hex_color", "must be a colour like #ff6a00")
    return value.lower()


def _slug(value: str) -> str:
    """Ids end up in MQTT topics, URLs and file names, so they are kept to a portable alphabet."""
    if not _SLUG_RE.fullmatch(value):
        raise PydanticCustomError(
            "slug",
            "must be an id of 1-64 lowercase letters, digits, '-' or '_', starting with a letter or digit",
        )
    return value


def _env_var_name(value: str) -> str:
    """Secrets are named, never written, in the config; the name must be one a shell can export."""
    if not _ENV_VAR_RE.fullmatch(value):
        raise PydanticCustomError("env_var_name", "must be an environment variable name like AMBIENCE_ADMIN_TOKEN")
    return value


Percent = Annotated[int, Field(ge=0, le=100)]
"""Brightness, volume, intensity: whole percent, 0-100."""

Kelvin = Annotated[int, Field(ge=2000, le=6500)]
"""Colour temperature of white light; 2000 K (candle) to 6500 K (daylight)."""

Celsius = Annotated[float, Field(ge=5, le=35)]
"""A room temperature setpoint; outside 5-35 C nothing sensible is meant."""

TransitionS = Annotated[float, Field(ge=0, le=3600)]
"""Fade time in seconds; at most an hour."""

Mired = Annotated[int, Field(ge=153, le=500)]
"""Zigbee colour temperature (1e6 / K); 153-500 is the widest range Zigbee2MQTT lights report."""

HexColor = Annotated[
    str,
    AfterValidator(_hex_color),
    WithJsonSchema({"type": "string", "pattern": HEX_COLOR_PATTERN, "examples": ["#ff6a00"]}),
]
"""`#rrggbb`, normalised to lowercase."""

Slug = Annotated[
    str,
    AfterValidator(_slug),
    WithJsonSchema({"type": "string", "pattern": SLUG_PATTERN, "minLength": 1, "maxLength": 64}),
]
"""An id: lowercase letters, digits, `-` and `_`, 1-64 characters, starting with a letter or digit."""

EnvVarName = Annotated[
    str,
    AfterValidator(_env_var_name),
    WithJsonSchema({"type": "string", "pattern": _ENV_VAR_PATTERN}),
]
"""The name of an environment variable that holds a secret."""
