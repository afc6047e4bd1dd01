"""Reading venue configs and profiles from YAML or JSON files, with every problem as a located line.

YAML is read with YAML 1.2 booleans (only `true`/`false`): under PyYAML's default YAML 1.1 rules the key
`on:` of a lighting section would silently become the boolean `True`, and `yes`/`no`/`off` values too.
Duplicate keys are an error rather than last-one-wins, for the same reason unknown fields are.
"""

from __future__ import annotations

import json
import os
import re
from collections.abc import Hashable, Iterable, Mapping
from pathlib import Path
from typing import Any, Literal

import yaml
from pydantic import ValidationError
from yaml.constructor import ConstructorError
from yaml.nodes import MappingNode

from profiles.errors import ROOT, ErrorCollector, FieldError, ProfileError, field_errors
from profiles.profile import Profile
from profiles.venue import VenueConfig, check_devices_fit

__all__ = [
    "FILE",
    "DocumentKind",
    "check_files",
    "detect_kind",
    "load_document",
    "load_profile",
    "load_venue",
    "parse_document",
    "parse_profile",
    "parse_venue",
    "profile_schema",
    "read_document",
    "venue_schema",
]

FILE = "(file)"
"""The path of an error about the file itself (unreadable, not YAML/JSON, not a mapping)."""

YAML_SUFFIXES = (".yaml", ".yml")
JSON_SUFFIXES = (".json",)
JSON_SCHEMA_DIALECT = "https://json-schema.org/draft/2020-12/schema"

DocumentKind = Literal["venue", "profile"]


class _Loader(yaml.SafeLoader):
    """SafeLoader with YAML 1.2 booleans and duplicate keys rejected."""

    def construct_mapping(self, node: MappingNode, deep: bool = False) -> dict[Hashable, Any]:
        seen: set[Any] = set()
        for key_node, _ in node.value:
            key = self.construct_object(key_node, deep=deep)
            if isinstance(key, Hashable) and key in seen:
                raise ConstructorError(
                    "while reading a mapping",
                    node.start_mark,
                    f"found duplicate key {key!r}",
                    key_node.start_mark,
                )
            if isinstance(key, Hashable):
                seen.add(key)
        return super().construct_mapping(node, deep=deep)


_BOOL_TAG = "tag:yaml.org,2002:bool"
_Loader.yaml_implicit_resolvers = {
    first: [(tag, regexp) for tag, regexp in resolvers if tag != _BOOL_TAG]
    for first, resolvers in yaml.SafeLoader.yaml_implicit_resolvers.items()
}
_Loader.add_implicit_resolver(_BOOL_TAG, re.compile(r"^(?:true|True|TRUE|false|False|FALSE)$"), list("tTfF"))


def _yaml_problem(exc: yaml.YAMLError) -> str:
    if isinstance(exc, yaml.MarkedYAMLError) and exc.problem_mark is not None:
        mark = exc.problem_mark
        return f"invalid YAML at line {mark.line + 1}, column {mark.column + 1}: {exc.problem}"
    return f"invalid YAML: {exc}"


def _kind_of(value: Any) -> str:
    if value is None:
        return "nothing (the file is empty)"
    if isinstance(value, list):
        return "a list"
    if isinstance(value, str):
        return "a string"
    if isinstance(value, bool):
        return "true or false"
    if isinstance(value, int | float):
        return "a number"
    return f"a {type(value).__name__}"


def _suffix(path: str | os.PathLike[str], source: str) -> str:
    suffix = Path(path).suffix.lower()
    if suffix not in YAML_SUFFIXES + JSON_SUFFIXES:
        raise ProfileError.single(
            FILE, f"unsupported file type {suffix or '(none)'!r}: use .yaml, .yml or .json", source
        )
    return suffix


def parse_document(text: str, suffix: str, source: str | None = None) -> dict[str, Any]:
    """Parse YAML (`.yaml`/`.yml`) or JSON (`.json`) text whose top level is a mapping.

    Separate from `load_document` so a caller that already holds the bytes (the store hashes them) parses
    exactly what it hashed.
    """
    data: Any
    if suffix.lower() in JSON_SUFFIXES:
        try:
            data = json.loads(text)
        except json.JSONDecodeError as exc:
            problem = f"invalid JSON at line {exc.lineno}, column {exc.colno}: {exc.msg}"
            raise ProfileError.single(FILE, problem, source) from None
    else:
        try:
            data = yaml.load(text, Loader=_Loader)  # _Loader is a SafeLoader
        except yaml.YAMLError as exc:
            raise ProfileError.single(FILE, _yaml_problem(exc), source) from None
    if not isinstance(data, dict):
        raise ProfileError.single(FILE, f"the top level must be a mapping (key: value), not {_kind_of(data)}", source)
    return data


def read_document(path: str | os.PathLike[str]) -> tuple[bytes, dict[str, Any]]:
    """The file's bytes and its parsed mapping; problems are `ProfileError`s at `(file)` naming the file."""
    source = str(path)
    if Path(path).is_dir():
        raise ProfileError.single(FILE, "is a folder: pass the files in it", source)
    suffix = _suffix(path, source)
    try:
        raw = Path(path).read_bytes()
    except OSError as exc:
        raise ProfileError.single(FILE, f"cannot read: {exc.strerror or exc}", source) from None
    try:
        text = raw.decode("utf-8-sig")
    except UnicodeDecodeError:
        raise ProfileError.single(FILE, "cannot read: not UTF-8 text", source) from None
    return raw, parse_document(text, suffix, source)


def load_document(path: str | os.PathLike[str]) -> dict[str, Any]:
    """Read a `.yaml`/`.yml`/`.json` file whose top level is a mapping; problems are errors at `(file)`."""
    return read_document(path)[1]


def _not_a_mapping(data: object) -> ProfileError | None:
    if isinstance(data, Mapping):
        return None
    return ProfileError.single(ROOT, f"must be a mapping (key: value), not {_kind_of(data)}")


def parse_profile(data: Mapping[str, Any]) -> Profile:
    """Validate a profile document; every problem is a `FieldError` of the raised `ProfileError`."""
    if error := _not_a_mapping(data):
        raise error
    try:
        return Profile.model_validate(dict(data))
    except ValidationError as exc:
        raise ProfileError(field_errors(exc)) from None


def parse_venue(data: Mapping[str, Any]) -> VenueConfig:
    """Validate a venue config document; paths are left as written (see `load_venue`)."""
    if error := _not_a_mapping(data):
        raise error
    try:
        return VenueConfig.model_validate(dict(data))
    except ValidationError as exc:
        errors = field_errors(exc)
        # pydantic skips the cross-field rules when a field is invalid; run them on the raw document too, so one
        # `ambience check` reports every error, not a second batch after the first is fixed.
        reported = {e.path for e in errors}
        errors += [e for e in _raw_cross_field_errors(data) if e.path not in reported]
        raise ProfileError(errors) from None


def _raw_cross_field_errors(data: Mapping[str, Any]) -> list[FieldError]:
    devices, zones, bridges = data.get("devices"), data.get("zones"), data.get("hue_bridges") or {}
    if not isinstance(devices, list) or not isinstance(zones, list) or not isinstance(bridges, Mapping):
        return []
    refs = [
        tuple(d.get(k) for k in ("id", "zone", "topic", "bridge", "light")) if isinstance(d, Mapping) else (None,) * 5
        for d in devices
    ]
    problems = ErrorCollector()
    check_devices_fit(refs, zones, bridges, problems)  # type: ignore[arg-type]
    return problems.field_errors()


def detect_kind(data: Mapping[str, Any]) -> DocumentKind:
    """`venue` when the document has `venue` or `devices`, `profile` when it has `community_id`."""
    if error := _not_a_mapping(data):
        raise error
    if "venue" in data or "devices" in data:
        return "venue"
    if "community_id" in data:
        return "profile"
    raise ProfileError.single(
        ROOT,
        "neither a venue config (it would have `venue:` and `devices:`) nor a profile (it would have `community_id:`)",
    )


def _relative_to(base: Path, value: str) -> str:
    """Paths in a config mean the same wherever the service is started from: relative to the file's folder."""
    if value == ":memory:":
        return value
    expanded = Path(value).expanduser()
    return os.path.normpath(expanded if expanded.is_absolute() else base / expanded)


def load_venue(path: str | os.PathLike[str]) -> VenueConfig:
    """Load and validate a venue config; `store.path` and `profiles_dir` come back absolute."""
    source = str(path)
    try:
        config = parse_venue(load_document(path))
    except ProfileError as exc:
        raise ProfileError(exc.errors, source) from None
    base = Path(path).absolute().parent
    store = config.store.model_copy(update={"path": _relative_to(base, config.store.path)})
    profiles_dir = None if config.profiles_dir is None else _relative_to(base, config.profiles_dir)
    return config.model_copy(update={"store": store, "profiles_dir": profiles_dir})


def load_profile(path: str | os.PathLike[str]) -> Profile:
    """Load and validate one profile file."""
    source = str(path)
    try:
        return parse_profile(load_document(path))
    except ProfileError as exc:
        raise ProfileError(exc.errors, source) from None


def check_files(paths: Iterable[str | os.PathLike[str]]) -> list[tuple[str, FieldError]]:
    """Validate each file as what it is (venue config or profile); every error of every file, in order.

    A venue's `profiles_dir` is not followed: pass its files too (`ambience check venue.yaml profiles/*`).
    """
    problems: list[tuple[str, FieldError]] = []
    for path in paths:
        try:
            data = load_document(path)
            if detect_kind(data) == "venue":
                parse_venue(data)
            else:
                parse_profile(data)
        except ProfileError as exc:
            problems.extend((str(path), error) for error in exc.errors)
    return problems


def _schema(model: type[Profile] | type[VenueConfig], title: str, description: str) -> dict[str, Any]:
    schema = model.model_json_schema()
    schema.update(title=title, description=description)
    return {"$schema": JSON_SCHEMA_DIALECT, **schema}


def profile_schema() -> dict[str, Any]:
    """JSON Schema of an ambience profile, for editors and the hub."""
    return _schema(Profile, "Ambience profile", "A community's mood: lighting, climate, audio, scent, phases.")


def venue_schema() -> dict[str, Any]:
    """JSON Schema of a venue config."""
    return _schema(VenueConfig, "Ambience venue config", "A venue's broker, API, store, limits, zones and devices.")
