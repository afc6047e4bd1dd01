"""`ambience check`, `ambience schema` and usage errors, run as a user runs them (docs/contract.md §1-3).

Exit codes: 0 ok, 1 invalid input (one clear line per error, never a traceback), 2 usage.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
import yaml

from profiles.loader import load_document
from tests.e2e.cli import EXAMPLES, ambience, lines

EXAMPLE_FILES = [EXAMPLES / "venue.yaml", *sorted((EXAMPLES / "profiles").glob("*.yaml"))]


def write(folder: Path, name: str, text: str | bytes) -> Path:
    path = folder / name
    if isinstance(text, bytes):
        path.write_bytes(text)
    else:
        path.write_text(text)
    return path


def example_venue_data() -> dict[str, Any]:
    return load_document(EXAMPLES / "venue.yaml")


def assert_no_traceback(result: Any) -> None:
    assert "Traceback" not in result.stderr, result.stderr
    assert "Traceback" not in result.stdout, result.stdout


# -- check: the examples ---------------------------------------------------------------------------------------


def test_check_passes_the_examples_with_a_line_per_file(tmp_path: Path) -> None:
    result = ambience("check", *map(str, EXAMPLE_FILES), cwd=tmp_path)

    assert result.returncode == 0, result.stdout + result.stderr
    assert lines(result.stdout) == [f"{path}: ok" for path in EXAMPLE_FILES]
    assert_no_traceback(result)


def test_check_accepts_a_json_profile(tmp_path: Path) -> None:
    profile = load_document(EXAMPLES / "profiles" / "house.yaml")  # YAML 1.2: `on:` stays a key
    write(tmp_path, "house.json", json.dumps(profile))

    result = ambience("check", "house.json", cwd=tmp_path)

    assert result.returncode == 0, result.stdout + result.stderr
    assert lines(result.stdout) == ["house.json: ok"]


# -- check: invalid files ----------------------------------------------------------------------------------------


def test_check_reports_an_out_of_range_zone_value_with_its_path(tmp_path: Path) -> None:
    write(tmp_path, "bright.yaml", "community_id: bright\nname: Bright\nlighting: {zones: {bar: {brightness: 140}}}\n")

    result = ambience("check", "bright.yaml", cwd=tmp_path)

    assert result.returncode == 1
    assert result.stdout == "bright.yaml: lighting.zones.bar.brightness: must be <= 100\n"
    assert_no_traceback(result)


def test_check_rejects_unknown_fields(tmp_path: Path) -> None:
    write(tmp_path, "typo.yaml", "community_id: typo\nname: Typo\nlighting: {brigthness: 50}\ncolour: red\n")

    result = ambience("check", "typo.yaml", cwd=tmp_path)

    assert result.returncode == 1
    assert sorted(lines(result.stdout)) == [
        "typo.yaml: colour: unknown field",
        "typo.yaml: lighting.brigthness: unknown field",
    ]
    assert_no_traceback(result)


def test_check_prints_every_error_of_every_file_and_still_checks_the_good_ones(tmp_path: Path) -> None:
    write(
        tmp_path,
        "one.yaml",
        "community_id: one\nname: One\naudio: {volume: 101}\nclimate: {target_c: 40}\nscent: {intensity: -1}\n",
    )
    write(tmp_path, "two.json", json.dumps({"community_id": "two", "lighting": {"color": "red", "color_temp_k": 9000}}))
    venue = example_venue_data()
    venue["limits"]["max_volume"] = 140
    venue["colour"] = "blue"
    write(tmp_path, "venue.yaml", yaml.safe_dump(venue, sort_keys=False))
    good = EXAMPLES / "profiles" / "book-club.yaml"

    result = ambience("check", "one.yaml", str(good), "two.json", "venue.yaml", cwd=tmp_path)

    assert result.returncode == 1
    out = lines(result.stdout)
    expected_errors = {
        "one.yaml: audio.volume: must be <= 100",
        "one.yaml: climate.target_c: must be <= 35",
        "one.yaml: scent.intensity: must be >= 0",
        "two.json: name: required",
        "two.json: lighting.color_temp_k: must be <= 6500",
        "venue.yaml: limits.max_volume: must be <= 100",
        "venue.yaml: colour: unknown field",
    }
    assert expected_errors <= set(out), out
    assert any(line.startswith("two.json: lighting.color: ") for line in out), out
    assert f"{good}: ok" in out
    assert len(out) == len(expected_errors) + 2  # plus the colour line and the good file
    assert_no_traceback(result)


def test_check_reports_field_and_cross_field_errors_of_a_venue_together(tmp_path: Path) -> None:
    venue = example_venue_data()
    venue["limits"]["max_volume"] = 140
    venue["devices"][0]["zone"] = "patio"
    write(tmp_path, "venue.yaml", yaml.safe_dump(venue, sort_keys=False))

    result = ambience("check", "venue.yaml", cwd=tmp_path)

    assert result.returncode == 1
    assert "venue.yaml: limits.max_volume: must be <= 100" in lines(result.stdout)
    assert any(line.startswith("venue.yaml: devices.0.zone: ") for line in lines(result.stdout)), result.stdout


BAD_FILES: list[tuple[str, str | bytes, str]] = [
    ("broken.yaml", "community_id: x\nlighting: [\n", "broken.yaml: (file): invalid YAML at line "),
    ("broken.json", '{"community_id": ', "broken.json: (file): invalid JSON at line 1, column "),
    ("empty.yaml", "", "empty.yaml: (file): the top level must be a mapping"),
    ("list.yaml", "- a\n- b\n", "list.yaml: (file): the top level must be a mapping"),
    ("neither.yaml", "colour: red\n", "neither.yaml: (root): neither a venue config"),
    ("binary.yaml", b"\xff\xfe\x00garbage", "binary.yaml: (file): cannot read: not UTF-8 text"),
    ("notes.txt", "community_id: x\n", "notes.txt: (file): unsupported file type '.txt'"),
    ("dupe.yaml", "community_id: x\nname: X\nname: Y\n", "dupe.yaml: (file): invalid YAML at line "),
]


@pytest.mark.parametrize(("name", "content", "line"), BAD_FILES, ids=[b[0] for b in BAD_FILES])
def test_check_bad_file_is_one_line_and_exit_1(tmp_path: Path, name: str, content: str | bytes, line: str) -> None:
    write(tmp_path, name, content)

    result = ambience("check", name, cwd=tmp_path)

    assert result.returncode == 1, result.stdout + result.stderr
    out = lines(result.stdout)
    assert len(out) == 1, out
    assert out[0].startswith(line), out
    assert_no_traceback(result)


def test_check_missing_file_and_folder(tmp_path: Path) -> None:
    (tmp_path / "profiles").mkdir()

    result = ambience("check", "missing.yaml", "profiles", cwd=tmp_path)

    assert result.returncode == 1
    assert lines(result.stdout) == [
        "missing.yaml: (file): cannot read: No such file or directory",
        "profiles: (file): is a folder: pass the files in it",
    ]
    assert_no_traceback(result)


# -- usage ------------------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "args",
    [
        pytest.param([], id="no-command"),
        pytest.param(["check"], id="check-without-files"),
        pytest.param(["schema"], id="schema-without-kind"),
        pytest.param(["schema", "community"], id="schema-bad-kind"),
        pytest.param(["frobnicate"], id="unknown-command"),
        pytest.param(["run"], id="run-without-config"),
        pytest.param(["events", "--config", "v.yaml", "--since", "yesterday"], id="events-since-not-a-number"),
    ],
)
def test_usage_errors_exit_2_with_usage(tmp_path: Path, args: list[str]) -> None:
    result = ambience(*args, cwd=tmp_path)

    assert result.returncode == 2, result.stdout + result.stderr
    assert "usage: ambience" in result.stderr
    assert result.stdout == ""
    assert_no_traceback(result)


# -- schema -----------------------------------------------------------------------------------------------------

PROFILE_PROPERTIES = {"community_id", "name", "quorum", "lighting", "climate", "audio", "scent", "phases", "occupancy"}
VENUE_PROPERTIES = {
    "venue",
    "mqtt",
    "api",
    "store",
    "influx",
    "limits",
    "policy",
    "priority",
    "zones",
    "hue_bridges",
    "devices",
}


def schema(kind: str, tmp_path: Path) -> dict[str, Any]:
    result = ambience("schema", kind, cwd=tmp_path)
    assert result.returncode == 0, result.stderr
    document = json.loads(result.stdout)
    assert isinstance(document, dict)
    return document


def resolve(document: dict[str, Any], node: dict[str, Any]) -> dict[str, Any]:
    """Follow `$ref` (also inside an `anyOf` with null) to the object schema it names."""
    for option in node.get("anyOf", [node]):
        ref = option.get("$ref")
        if ref:
            assert ref.startswith("#/$defs/"), ref
            target = document["$defs"][ref.removeprefix("#/$defs/")]
            assert isinstance(target, dict)
            return target
    return node


def number_range(node: dict[str, Any]) -> tuple[Any, Any]:
    for option in node.get("anyOf", [node]):
        if "maximum" in option:
            return option.get("minimum"), option["maximum"]
    raise AssertionError(f"no range in {node}")


def test_schema_profile(tmp_path: Path) -> None:
    document = schema("profile", tmp_path)

    assert document["additionalProperties"] is False
    assert document["type"] == "object"
    assert set(document["properties"]) >= PROFILE_PROPERTIES
    assert {"community_id"} <= set(document.get("required", []))
    for name, definition in document.get("$defs", {}).items():
        if definition.get("type") == "object":
            assert definition.get("additionalProperties") is False, f"{name} accepts unknown fields"
    lighting = resolve(document, document["properties"]["lighting"])
    assert number_range(lighting["properties"]["brightness"]) == (0, 100)
    assert number_range(lighting["properties"]["color_temp_k"]) == (2000, 6500)
    assert number_range(lighting["properties"]["transition_s"]) == (0, 3600)
    audio = resolve(document, document["properties"]["audio"])
    assert number_range(audio["properties"]["volume"]) == (0, 100)
    climate = resolve(document, document["properties"]["climate"])
    assert number_range(climate["properties"]["target_c"]) == (5, 35)
    scent = resolve(document, document["properties"]["scent"])
    assert number_range(scent["properties"]["intensity"]) == (0, 100)


def test_schema_venue(tmp_path: Path) -> None:
    document = schema("venue", tmp_path)

    assert document["additionalProperties"] is False
    assert document["type"] == "object"
    assert set(document["properties"]) >= VENUE_PROPERTIES
    for name, definition in document.get("$defs", {}).items():
        if definition.get("type") == "object":
            assert definition.get("additionalProperties") is False, f"{name} accepts unknown fields"
    policy = resolve(document, document["properties"]["policy"])
    assert {"multi_community", "checkin_ttl_hours", "default_profile", "override_minutes"} <= set(policy["properties"])
    limits = resolve(document, document["properties"]["limits"])
    assert {"max_volume", "min_temp_c", "max_temp_c", "min_brightness"} <= set(limits["properties"])
