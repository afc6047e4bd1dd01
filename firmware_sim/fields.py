"""Checks for the values a `/set` may carry, one tiny function per value type.

Firmware must survive whatever arrives on its command topic, so every field is checked on its own: a bad field is
reported as a `FieldError` and skipped, the good fields of the same message still apply (as Zigbee2MQTT does,
key by key).
"""

from __future__ import annotations

import math
from collections.abc import Collection
from typing import Any

MAX_NAME_LENGTH = 200


class FieldError(ValueError):
    """One rejected field of a command; carries the field name so the log line says which one."""

    def __init__(self, field: str, reason: str) -> None:
        super().__init__(f"{field}: {reason}")
        self.field = field
        self.reason = reason


def as_number(field: str, value: Any, lo: float | None = None, hi: float | None = None) -> float:
    """A finite JSON number within [lo, hi]; booleans are not numbers here even though Python thinks so."""
    if isinstance(value, bool) or not isinstance(value, int | float):
        raise FieldError(field, f"expected a number, got {value!r}")
    number = float(value)
    if not math.isfinite(number):
        raise FieldError(field, f"expected a finite number, got {value!r}")
    if lo is not None and number < lo:
        raise FieldError(field, f"{value!r} is below {lo:g}")
    if hi is not None and number > hi:
        raise FieldError(field, f"{value!r} is above {hi:g}")
    return number


def as_int(field: str, value: Any, lo: int, hi: int) -> int:
    """A number rounded to an integer, then range-checked: devices take 127.6 as 128, not as an error."""
    number = round(as_number(field, value))
    if not lo <= number <= hi:
        raise FieldError(field, f"{value!r} is outside {lo}-{hi}")
    return number


def as_choice(field: str, value: Any, choices: Collection[str], *, upper: bool) -> str:
    """An enum string, case-insensitive, normalised to the case the device reports."""
    if not isinstance(value, str):
        raise FieldError(field, f"expected one of {sorted(choices)}, got {value!r}")
    normalised = value.upper() if upper else value.lower()
    if normalised not in choices:
        raise FieldError(field, f"expected one of {sorted(choices)}, got {value!r}")
    return normalised


def as_name(field: str, value: Any) -> str:
    """A free-text name (playlist, scent); bounded so a runaway payload cannot bloat every state message."""
    if not isinstance(value, str):
        raise FieldError(field, f"expected a string, got {value!r}")
    if len(value) > MAX_NAME_LENGTH:
        raise FieldError(field, f"longer than {MAX_NAME_LENGTH} characters")
    return value
