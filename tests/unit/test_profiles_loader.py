"""Reading files: YAML/JSON, file-level errors with line numbers, kind detection, paths, `check_files`, schemas."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from profiles import (
    FieldError,
    ProfileError,
    check_files,
    detect_kind,
    load_document,
    load_profile,
    load_venue,
    parse_document,
    profile_schema,
    venue_schema,
)

VENUE_YAML = """
venue: {id: v, name: V}
store: {path: STORE}
zones: [bar]
devices:
  - {id: lamp, kind: light, zone: bar, driver: mqtt, topic: lamp}
"""


def write(path: Path, text: str) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text, encoding="utf-8")
    return path


def file_error(path: Path) -> ProfileError:
    with pytest.raises(ProfileError) as caught:
        load_document(path)
    assert [error.path for error in caught.value.errors] == ["(file)"]
    assert caught.value.source == str(path)
    return caught.value


def test_yaml_and_json_give_the_same_document(tmp_path: Path) -> None:
    data = {"community_id": "c", "name": "n", "lighting": {"on": True, "brightness": 50}}
    as_json = write(tmp_path / "p.json", json.dumps(data))
    as_yaml = write(tmp_path / "p.yaml", "community_id: c\nname: n\nlighting: {on: true, brightness: 50}\n")
    as_yml = write(tmp_path / "p.yml", "community_id: c\nname: n\nlighting:\n  on: true\n  brightness: 50\n")
    assert load_document(as_json) == load_document(as_yaml) == load_document(as_yml) == data
    assert load_profile(as_yaml) == load_profile(as_json)


def test_yaml_on_key_is_a_string_not_a_boolean(tmp_path: Path) -> None:
    """Under YAML 1.1 `on:` would be the key True and the profile would fail (or worse, mean nothing)."""
    document = load_document(write(tmp_path / "p.yaml", "lighting: {on: off, brightness: 5}\nflag: yes\nok: true\n"))
    assert document == {"lighting": {"on": "off", "brightness": 5}, "flag": "yes", "ok": True}
    profile = load_profile(write(tmp_path / "q.yaml", "community_id: c\nname: n\nlighting: {on: off}\n"))
    assert profile.lighting is not None and profile.lighting.on is False


def test_bad_yaml_reports_the_line(tmp_path: Path) -> None:
    error = file_error(write(tmp_path / "bad.yaml", "community_id: c\nname: n\nlighting: {on: true\n"))
    assert "invalid YAML at line 4" in error.errors[0].message
    error = file_error(write(tmp_path / "bad2.yaml", "a: 1\n  b: 2\n"))
    assert error.errors[0].message.startswith("invalid YAML at line 2, column 4:")


def test_duplicate_yaml_keys_are_an_error(tmp_path: Path) -> None:
    error = file_error(write(tmp_path / "dup.yaml", "community_id: c\nname: n\nname: m\n"))
    assert error.errors[0].message.startswith("invalid YAML at line 3")
    assert "duplicate key 'name'" in error.errors[0].message


def test_bad_json_reports_the_line(tmp_path: Path) -> None:
    error = file_error(write(tmp_path / "bad.json", '{\n  "community_id": "c",\n  "name": }\n'))
    assert error.errors[0].message == "invalid JSON at line 3, column 11: Expecting value"
    assert str(error) == f"{tmp_path / 'bad.json'}: (file): invalid JSON at line 3, column 11: Expecting value"


@pytest.mark.parametrize(
    ("name", "text", "message"),
    [
        ("list.yaml", "- a\n- b\n", "the top level must be a mapping (key: value), not a list"),
        ("empty.yaml", "", "the top level must be a mapping (key: value), not nothing (the file is empty)"),
        (
            "comment.yml",
            "# only a comment\n",
            "the top level must be a mapping (key: value), not nothing (the file is empty)",
        ),
        ("scalar.yaml", "hello\n", "the top level must be a mapping (key: value), not a string"),
        ("list.json", "[1, 2]", "the top level must be a mapping (key: value), not a list"),
        ("number.json", "3", "the top level must be a mapping (key: value), not a number"),
        ("profile.txt", "community_id: c\n", "unsupported file type '.txt': use .yaml, .yml or .json"),
    ],
)
def test_file_level_errors(tmp_path: Path, name: str, text: str, message: str) -> None:
    assert file_error(write(tmp_path / name, text)).errors == [FieldError("(file)", message)]


def test_unreadable_file(tmp_path: Path) -> None:
    error = file_error(tmp_path / "missing.yaml")
    assert error.errors[0].message == "cannot read: No such file or directory"
    (tmp_path / "binary.yaml").write_bytes(b"\xff\xfe\x00bad")
    assert file_error(tmp_path / "binary.yaml").errors[0].message == "cannot read: not UTF-8 text"


def test_a_folder_is_not_a_document(tmp_path: Path) -> None:
    assert file_error(tmp_path).errors == [FieldError("(file)", "is a folder: pass the files in it")]


def test_parse_document_from_text() -> None:
    assert parse_document('{"a": 1}', ".json") == {"a": 1}
    assert parse_document("a: 1\n", ".yaml") == {"a": 1}


@pytest.mark.parametrize(
    ("data", "kind"),
    [
        ({"venue": {}}, "venue"),
        ({"devices": []}, "venue"),
        ({"community_id": "c"}, "profile"),
        ({"venue": {}, "community_id": "c"}, "venue"),
    ],
)
def test_detect_kind(data: dict[str, Any], kind: str) -> None:
    assert detect_kind(data) == kind


def test_detect_kind_explains_when_it_cannot_tell() -> None:
    with pytest.raises(ProfileError) as caught:
        detect_kind({"name": "x"})
    assert caught.value.errors[0].path == "(root)"
    assert "venue" in caught.value.errors[0].message and "community_id" in caught.value.errors[0].message


def test_load_venue_resolves_relative_paths_against_the_config_folder(tmp_path: Path) -> None:
    config_path = write(
        tmp_path / "site" / "venue.yaml", VENUE_YAML.replace("STORE", "./data/a.db") + "profiles_dir: moods\n"
    )
    config = load_venue(config_path)
    assert config.store.path == str(tmp_path / "site" / "data" / "a.db")
    assert config.profiles_dir == str(tmp_path / "site" / "moods")


def test_load_venue_works_from_a_relative_config_path(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    write(tmp_path / "site" / "venue.yaml", VENUE_YAML.replace("STORE", "db/../x.db") + "profiles_dir: ../moods\n")
    monkeypatch.chdir(tmp_path)
    config = load_venue("site/venue.yaml")
    assert config.store.path == str(tmp_path / "site" / "x.db")
    assert config.profiles_dir == str(tmp_path / "moods")


def test_load_venue_keeps_absolute_paths(tmp_path: Path) -> None:
    store = tmp_path / "elsewhere" / "a.db"
    config = load_venue(
        write(tmp_path / "venue.yaml", VENUE_YAML.replace("STORE", str(store)) + f"profiles_dir: {tmp_path / 'p'}\n")
    )
    assert config.store.path == str(store)
    assert config.profiles_dir == str(tmp_path / "p")


def test_load_venue_without_profiles_dir(tmp_path: Path) -> None:
    config = load_venue(write(tmp_path / "venue.yaml", VENUE_YAML.replace("STORE", "a.db")))
    assert config.profiles_dir is None
    assert config.store.path == str(tmp_path / "a.db")


def test_load_errors_name_the_file(tmp_path: Path) -> None:
    path = write(tmp_path / "p.yaml", "community_id: c\nname: n\nquorum: 0\n")
    with pytest.raises(ProfileError) as caught:
        load_profile(path)
    assert caught.value.source == str(path)
    assert caught.value.lines() == [f"{path}: quorum: must be >= 1"]
    with pytest.raises(ProfileError) as venue_error:
        load_venue(write(tmp_path / "v.yaml", "venue: {id: v, name: V}\ndevices: []\n"))
    assert venue_error.value.lines() == [f"{tmp_path / 'v.yaml'}: zones: required"]


def test_check_files_reports_every_error_of_every_file(tmp_path: Path) -> None:
    good_venue = write(tmp_path / "venue.yaml", VENUE_YAML.replace("STORE", "a.db") + "profiles_dir: profiles\n")
    write(tmp_path / "profiles" / "ignored.yaml", "community_id: c\nname: n\nquorum: 0\n")  # not followed
    good_profile = write(tmp_path / "good.json", '{"community_id": "c", "name": "n"}')
    bad_profile = write(
        tmp_path / "bad.yaml", "community_id: c\nname: n\nlighting: {zones: {bar: {brightness: 101}}, colour: red}\n"
    )
    bad_venue = write(tmp_path / "bad-venue.yaml", "venue: {id: v, name: V}\nzones: [bar]\ndevices: [{id: x}]\n")
    broken = write(tmp_path / "broken.json", "{")
    unknown = write(tmp_path / "unknown.yaml", "name: what am I\n")
    problems = check_files([good_venue, good_profile, bad_profile, bad_venue, broken, unknown])
    lines = [f"{Path(file).name}: {error}" for file, error in problems]
    assert lines == [
        "bad.yaml: lighting.zones.bar.brightness: must be <= 100",
        "bad.yaml: lighting.colour: unknown field",
        "bad-venue.yaml: devices.0.kind: required",
        "bad-venue.yaml: devices.0.zone: required",
        "bad-venue.yaml: devices.0.driver: required",
        "broken.json: (file): invalid JSON at line 1, column 2: Expecting property name enclosed in double quotes",
        "unknown.yaml: (root): neither a venue config (it would have `venue:` and `devices:`)"
        " nor a profile (it would have `community_id:`)",
    ]
    assert problems[0][0] == str(bad_profile)
    assert check_files([]) == []


def test_profile_schema() -> None:
    schema = profile_schema()
    assert schema["$schema"] == "https://json-schema.org/draft/2020-12/schema"
    assert schema["title"] == "Ambience profile"
    assert schema["additionalProperties"] is False
    assert set(schema["properties"]) == {
        "community_id",
        "name",
        "quorum",
        "lighting",
        "climate",
        "audio",
        "scent",
        "phases",
        "occupancy",
    }
    assert set(schema["required"]) == {"community_id", "name"}
    defs = schema["$defs"]
    assert all(definition["additionalProperties"] is False for definition in defs.values())
    assert set(defs["Lighting"]["properties"]) == {"on", "brightness", "color_temp_k", "color", "transition_s", "zones"}
    brightness = defs["LightingZone"]["properties"]["brightness"]["anyOf"][0]
    assert (brightness["minimum"], brightness["maximum"]) == (0, 100)
    color = defs["LightingZone"]["properties"]["color"]["anyOf"][0]
    assert color["pattern"] == "^#[0-9a-fA-F]{6}$"
    assert defs["Climate"]["properties"]["mode"]["anyOf"][0]["enum"] == ["off", "heat", "cool", "auto"]
    assert schema["properties"]["community_id"]["pattern"] == "^[a-z0-9][a-z0-9_-]{0,63}$"
    json.dumps(schema)


def test_venue_schema() -> None:
    schema = venue_schema()
    assert schema["$schema"] == "https://json-schema.org/draft/2020-12/schema"
    assert schema["title"] == "Ambience venue config"
    assert schema["additionalProperties"] is False
    assert set(schema["properties"]) == {
        "venue",
        "mqtt",
        "api",
        "store",
        "influx",
        "home_assistant",
        "limits",
        "policy",
        "priority",
        "zones",
        "hue_bridges",
        "devices",
        "profiles_dir",
    }
    assert set(schema["required"]) == {"venue", "zones", "devices"}
    assert all(definition["additionalProperties"] is False for definition in schema["$defs"].values())
    assert schema["$defs"]["MqttSettings"]["properties"]["password"] == {
        "default": None,
        "description": "Always null: the password comes from the environment variable named in password_env.",
        "title": "Password",
        "type": "null",
    }
    json.dumps(schema)
