"""Structured logs: JSON lines with the venue id when stderr is a pipe (journald), readable lines at a terminal."""

from __future__ import annotations

import io
import json
import logging
import re
from collections.abc import Iterator

import pytest

from controller.cli.logs import set_venue, setup_logging


class FakeTerminal(io.StringIO):
    def isatty(self) -> bool:
        return True


@pytest.fixture(autouse=True)
def restore_root_logger() -> Iterator[None]:
    """setup_logging() configures the root logger: put back what pytest had."""
    root = logging.getLogger()
    handlers, level = list(root.handlers), root.level
    yield
    for handler in root.handlers[:]:
        if handler not in handlers:
            root.removeHandler(handler)
    root.setLevel(level)
    set_venue(None)


def test_a_pipe_gets_one_json_object_per_line_with_the_venue() -> None:
    stream = io.StringIO()
    setup_logging("info", venue_id="teahouse-1", stream=stream)

    logging.getLogger("controller.shell.service").info("device %s online", "bar-pendant")
    logging.getLogger("controller.shell.bus").debug("not at info")

    [line] = stream.getvalue().splitlines()
    entry = json.loads(line)
    assert set(entry) == {"ts", "level", "logger", "venue", "msg"}
    assert entry["level"] == "INFO"
    assert entry["logger"] == "controller.shell.service"
    assert entry["venue"] == "teahouse-1"
    assert entry["msg"] == "device bar-pendant online"
    assert re.fullmatch(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}\+00:00", entry["ts"]), entry["ts"]


def test_the_venue_is_added_once_the_config_is_loaded() -> None:
    stream = io.StringIO()
    setup_logging("warning", stream=stream)

    logging.getLogger("ambience").warning("before")
    set_venue("farm-7")
    logging.getLogger("ambience").warning("after")

    assert [json.loads(line)["venue"] for line in stream.getvalue().splitlines()] == [None, "farm-7"]


def test_an_exception_is_in_the_same_json_line() -> None:
    stream = io.StringIO()
    setup_logging("info", venue_id="v", stream=stream)

    try:
        raise RuntimeError("broker gone")
    except RuntimeError:
        logging.getLogger("controller.shell.bus").exception("reconnecting")

    [line] = stream.getvalue().splitlines()
    entry = json.loads(line)
    assert entry["level"] == "ERROR" and entry["msg"] == "reconnecting"
    assert entry["exc_info"].startswith("Traceback (most recent call last):")
    assert "RuntimeError: broker gone" in entry["exc_info"]


def test_a_terminal_gets_readable_lines() -> None:
    stream = FakeTerminal()
    setup_logging("info", venue_id="teahouse-1", stream=stream)

    logging.getLogger("controller.shell.service").warning("hvac offline")

    assert re.fullmatch(r"\d\d:\d\d:\d\d WARNING controller\.shell\.service: hvac offline\n", stream.getvalue())


def test_the_format_can_be_forced_and_setup_twice_prints_once() -> None:
    first, second = FakeTerminal(), FakeTerminal()
    setup_logging("info", stream=first)
    setup_logging("info", stream=second, json_format=True)

    logging.getLogger("x").info("once")

    assert first.getvalue() == ""
    assert json.loads(second.getvalue())["msg"] == "once"
