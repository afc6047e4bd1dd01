"""Validation errors as one human line each: `lighting.zones.bar.brightness: must be <= 100`.

Venue staff and community members read these (in `ambience check` and in the API's 422 bodies), so pydantic's
developer-facing messages are rewritten into short phrases and the location is a dotted path.

    AmbienceError (profiles/exceptions.py), ValueError
     +-- ProfileError    a profile or venue config is unreadable or invalid; carries FieldErrors
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from pydantic import ValidationError
from pydantic_core import ErrorDetails, InitErrorDetails, PydanticCustomError

from profiles.exceptions import AmbienceError

__all__ = ["ROOT", "FieldError", "ProfileError", "field_errors"]

ROOT = "(root)"
"""The path of an error about the document as a whole."""


@dataclass(frozen=True, slots=True)
class FieldError:
    """One problem at one place: `path` is dotted (`phases.0.name`), `message` a short phrase."""

    path: str
    message: str

    def __str__(self) -> str:
        return f"{self.path}: {self.message}"


class ProfileError(AmbienceError, ValueError):
    """A profile or venue config could not be read or is invalid; `errors` lists every problem found.

    `source` names the file when there is one, so a caller can print `venue.yaml: zones: required`.
    It is a `ValueError` so that code validating input can treat it like any other bad value.
    """

    def __init__(self, errors: Iterable[FieldError], source: str | None = None) -> None:
        self.errors: list[FieldError] = list(errors)
        self.source = source
        super().__init__(str(self))

    @classmethod
    def single(cls, path: str, message: str, source: str | None = None) -> ProfileError:
        """The common case of one problem, e.g. a file that cannot be read."""
        return cls([FieldError(path, message)], source)

    def lines(self) -> list[str]:
        """One printable line per error, prefixed with the file when known."""
        prefix = f"{self.source}: " if self.source else ""
        return [f"{prefix}{error}" for error in self.errors]

    def __str__(self) -> str:
        return "\n".join(self.lines()) or "invalid document"


def _plain(value: Any) -> str:
    """`5.0` reads as `5` to a person."""
    if isinstance(value, float) and value.is_integer():
        return str(int(value))
    return str(value)


def _one_of(ctx: Mapping[str, Any]) -> str:
    """pydantic says `'off', 'heat' or 'auto'`; we list the choices plainly."""
    expected = str(ctx.get("expected", ""))
    choices = re.findall(r"'([^']*)'", expected) or [part.strip() for part in re.split(r",| or ", expected)]
    return "must be one of " + ", ".join(choice for choice in choices if choice)


def _items(count: Any) -> str:
    return "item" if count == 1 else "items"


def _too_short(ctx: Mapping[str, Any]) -> str:
    if ctx.get("min_length") == 1:
        return "must not be empty"
    return f"must have at least {ctx.get('min_length')} {_items(ctx.get('min_length'))}"


def _string_too_short(ctx: Mapping[str, Any]) -> str:
    if ctx.get("min_length") == 1:
        return "must not be empty"
    return f"must be at least {ctx.get('min_length')} characters"


def _from_exception(ctx: Mapping[str, Any]) -> str:
    """A plain `ValueError` raised in a validator: its own text is the message."""
    return str(ctx.get("error", "is invalid"))


_MESSAGES: dict[str, Callable[[Mapping[str, Any]], str]] = {
    "missing": lambda ctx: "required",
    "extra_forbidden": lambda ctx: "unknown field",
    "greater_than_equal": lambda ctx: f"must be >= {_plain(ctx.get('ge'))}",
    "greater_than": lambda ctx: f"must be > {_plain(ctx.get('gt'))}",
    "less_than_equal": lambda ctx: f"must be <= {_plain(ctx.get('le'))}",
    "less_than": lambda ctx: f"must be < {_plain(ctx.get('lt'))}",
    "int_type": lambda ctx: "must be a whole number",
    "int_parsing": lambda ctx: "must be a whole number",
    "int_from_float": lambda ctx: "must be a whole number",
    "int_parsing_size": lambda ctx: "must be a whole number of sensible size",
    "float_type": lambda ctx: "must be a number",
    "float_parsing": lambda ctx: "must be a number",
    "finite_number": lambda ctx: "must be a finite number",
    "bool_type": lambda ctx: "must be true or false",
    "bool_parsing": lambda ctx: "must be true or false",
    "string_type": lambda ctx: "must be text",
    "string_unicode": lambda ctx: "must be text",
    "string_too_short": _string_too_short,
    "string_too_long": lambda ctx: f"must be at most {ctx.get('max_length')} characters",
    "string_pattern_mismatch": lambda ctx: f"must match {ctx.get('pattern')}",
    "literal_error": _one_of,
    "enum": _one_of,
    "dict_type": lambda ctx: "must be a mapping (key: value)",
    "model_type": lambda ctx: "must be a mapping (key: value)",
    "model_attributes_type": lambda ctx: "must be a mapping (key: value)",
    "list_type": lambda ctx: "must be a list",
    "tuple_type": lambda ctx: "must be a list",
    "too_short": _too_short,
    "too_long": lambda ctx: f"must have at most {ctx.get('max_length')} {_items(ctx.get('max_length'))}",
    "none_required": lambda ctx: "must be null",
    "value_error": _from_exception,
    "assertion_error": _from_exception,
    "frozen_instance": lambda ctx: "cannot be changed",
}


def _path(loc: Sequence[int | str]) -> str:
    return ".".join(str(part) for part in loc) if loc else ROOT


def _message(error: ErrorDetails) -> str:
    render = _MESSAGES.get(error["type"])
    if render is None:
        # Our own PydanticCustomErrors already speak human; anything else keeps pydantic's wording.
        message = error["msg"]
        return message[:1].lower() + message[1:] if message[:1].isupper() else message
    return render(error.get("ctx") or {})


def field_errors(exc: ValidationError) -> list[FieldError]:
    """Every error of a pydantic `ValidationError` as a `FieldError`, in pydantic's order."""
    return [FieldError(_path(error["loc"]), _message(error)) for error in exc.errors(include_url=False)]


class ErrorCollector:
    """Gathers cross-field problems with their exact locations and raises them together.

    A plain `ValueError` in a model validator would be reported at the model itself; raising a
    `ValidationError` built from located details instead lets pydantic report `devices.2.zone`.
    """

    def __init__(self) -> None:
        self._errors: list[InitErrorDetails] = []

    def add(self, loc: tuple[int | str, ...], kind: str, message: str, value: Any) -> None:
        """Record `message` at `loc` (relative to the model being validated); `kind` is the error type."""
        error = PydanticCustomError(kind, "{message}", {"message": message})
        self._errors.append(InitErrorDetails(type=error, loc=loc, input=value))

    def field_errors(self) -> list[FieldError]:
        """What was gathered, as printable errors (for callers that report rather than raise)."""
        return [FieldError(_path(e["loc"]), e["type"].message()) for e in self._errors]  # type: ignore[union-attr]

    def raise_if_any(self, title: str) -> None:
        if self._errors:
            raise ValidationError.from_exception_data(title, self._errors)
