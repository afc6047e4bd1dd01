"""The event catalogue is the one list: every type the venue records is in it, described, and shown everywhere."""

from __future__ import annotations

import json
import re
import subprocess
import sys
from pathlib import Path

from controller.core.events import CATALOGUE, TYPES, Checkin, CommandSent, events_schema, influx_keys

ROOT = Path(__file__).resolve().parents[2]


def test_types_are_unique_and_each_has_a_summary() -> None:
    assert len(set(TYPES)) == len(TYPES)
    assert all(cls.SUMMARY for cls in CATALOGUE)


def test_a_payload_leaves_out_only_what_is_marked_optional() -> None:
    assert Checkin("ana", "book-club", "mqtt", 1).body() == {
        "member_id": "ana",
        "community_id": "book-club",
        "source": "mqtt",
        "present": 1,
    }
    moved = Checkin("ana", "chess", "http", 1, moved_from="book-club", moved_from_present=0).body()
    assert moved["moved_from"] == "book-club" and moved["moved_from_present"] == 0
    assert CommandSent("lamp", {"state": "ON"}, topic="z2m/lamp/set").body() == {
        "device_id": "lamp",
        "payload": {"state": "ON"},
        "topic": "z2m/lamp/set",
    }


def test_every_emitted_type_is_in_the_catalogue() -> None:
    """The service emits typed events only: no type spelled as a string at an emission site."""
    service = (ROOT / "controller" / "shell" / "service.py").read_text()
    assert not re.search(r'_emit\(\s*"', service)


def test_the_forwarder_tags_what_the_catalogue_marks() -> None:
    tags, numbers = influx_keys()
    assert "member_id" not in tags  # unbounded and personal
    assert {"community_id", "device_id", "source"} <= tags and {"present", "version"} <= numbers


def test_docs_and_the_dashboard_know_every_type() -> None:
    architecture = (ROOT / "docs" / "architecture.md").read_text()
    telemetry = (ROOT / "docs" / "telemetry.md").read_text()
    dashboard = "\n".join(p.read_text() for p in (ROOT / "api" / "static").rglob("*.js"))
    for type_ in TYPES:
        assert f"`{type_}`" in architecture, f"docs/architecture.md does not name {type_}"
        assert f"`{type_}`" in telemetry, f"docs/telemetry.md does not list {type_}"
        assert f'"{type_}"' in dashboard, f"the dashboard has no text for {type_}"


def test_ambience_schema_events_prints_one_shape_per_type() -> None:
    printed = subprocess.run(
        [sys.executable, "-m", "controller", "schema", "events"], capture_output=True, text=True, check=True
    ).stdout
    schema = json.loads(printed)
    assert schema == events_schema()
    assert [shape["properties"]["type"]["const"] for shape in schema["oneOf"]] == list(TYPES)
    checkin = schema["oneOf"][0]
    assert checkin["required"] == ["id", "ts", "venue", "type", "member_id", "community_id", "source", "present"]


def test_every_exception_of_ours_is_an_ambience_error() -> None:
    """One root, so the CLI catches one type (profiles/exceptions.py draws the tree)."""
    from controller.cli.broker import BrokerError
    from controller.shell.record import RecordError, UnstorableEvent
    from devices.hue_client import HueApiError, HueError, HueLinkButtonNotPressed, HueUnauthorized, HueUnreachable
    from profiles import AmbienceError, CommunityExists, ProfileError
    from profiles.store import PreconditionFailed

    tree = (ROOT / "profiles" / "exceptions.py").read_text()
    for cls in (
        ProfileError,
        PreconditionFailed,
        CommunityExists,
        HueError,
        HueUnreachable,
        HueApiError,
        HueUnauthorized,
        HueLinkButtonNotPressed,
        RecordError,
        UnstorableEvent,
        BrokerError,
    ):
        assert issubclass(cls, AmbienceError), cls
        assert cls.__name__ in tree, f"{cls.__name__} is not drawn in the tree"
