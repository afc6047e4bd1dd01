"""The pieces behind the API's bounds, without a server: the log filter, the token cache, which paths need a token,
a page the Content-Security-Policy does not break, and how errors are cut short. No clock is slept on.
"""

from __future__ import annotations

import logging
from html.parser import HTMLParser
from importlib.resources import files
from pathlib import Path

import pytest

from api.app import create_app
from api.gate import needs_token
from api.log_filters import ACCEPT_FAILED, RepeatFilter
from api.models import DETAIL_MAX, cut, validation_problem
from api.tokens import TokenCache
from controller.shell.service import Service
from profiles.errors import FieldError
from tests.integration.harness import example_venue


class FakeClock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


def _record(message: str, *args: object) -> logging.LogRecord:
    return logging.LogRecord("asyncio", logging.ERROR, __file__, 1, message, args, None)


def test_the_accept_failure_is_logged_once_per_interval_with_the_count_left_out() -> None:
    clock = FakeClock()
    log_filter = RepeatFilter(ACCEPT_FAILED, every_s=60, clock=clock)
    line = f"{ACCEPT_FAILED}\nprotocol: <uvicorn>\nsocket: <socket fd=7>"

    assert log_filter.filter(_record(line))  # the first one is logged
    repeats = [log_filter.filter(_record(line)) for _ in range(1000)]
    clock.now += 59
    repeats.append(log_filter.filter(_record(line)))
    assert not any(repeats)
    assert log_filter.filter(_record("Task exception was never retrieved"))  # other lines are not touched

    clock.now += 1
    record = _record(line)
    assert log_filter.filter(record)
    first, *rest = record.getMessage().split("\n")
    assert first == f"{ACCEPT_FAILED} (1001 more like it in the 60 s before were not logged)"
    assert rest == ["protocol: <uvicorn>", "socket: <socket fd=7>"]

    clock.now += 61  # none left out since: the next one is logged as it is
    record = _record(line)
    assert log_filter.filter(record) and record.getMessage() == line


def test_the_token_cache_keeps_each_answer_for_a_while_and_a_bounded_number_of_them() -> None:
    clock = FakeClock()
    cache = TokenCache(ttl_s=60, size=3, clock=clock)
    assert cache.get("jazz.secret") == (False, None)
    cache.put("jazz.secret", "jazz")
    cache.put("jazz.wrong", None)
    assert cache.get("jazz.secret") == (True, "jazz")
    assert cache.get("jazz.wrong") == (True, None)

    clock.now += 60
    assert cache.get("jazz.secret") == (False, None)  # asked again after the TTL

    cache.put("jazz.secret", "jazz")
    for n in range(10):  # a flood of wrong tokens evicts only wrong tokens
        cache.put(f"guess.{n}", None)
    assert cache.get("jazz.secret") == (True, "jazz")
    assert [cache.get(f"guess.{n}")[0] for n in range(10)] == [False] * 7 + [True] * 3


@pytest.fixture
def openapi(tmp_path: Path) -> dict[str, dict[str, dict[str, object]]]:
    app = create_app(Service(example_venue("mqtt://127.0.0.1:1", tmp_path)), "admin-token")
    paths: dict[str, dict[str, dict[str, object]]] = app.openapi()["paths"]
    return paths


def test_exactly_the_operations_under_api_v1_need_a_token(openapi: dict[str, dict[str, dict[str, object]]]) -> None:
    """The gate refuses by path before the route runs; the document says which operations need a token."""
    for path, operations in openapi.items():
        for method, operation in operations.items():
            assert ("security" in operation) is needs_token(path), f"{method.upper()} {path}"
    assert needs_token("/api/v1") and needs_token("/api/v1/state")
    assert not any(needs_token(p) for p in ("/", "/healthz", "/metrics", "/static/dashboard.js", "/api/v10"))


def test_every_route_that_takes_a_body_declares_413(openapi: dict[str, dict[str, dict[str, object]]]) -> None:
    for path, operations in openapi.items():
        for method, operation in operations.items():
            responses = operation["responses"]
            assert isinstance(responses, dict)
            assert ("requestBody" in operation) is ("413" in responses), f"{method.upper()} {path}"


class _Inline(HTMLParser):
    """What a `default-src 'self'` policy would block in a page: inline scripts, styles and handlers."""

    def __init__(self) -> None:
        super().__init__()
        self.found: list[str] = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        names = dict(attrs)
        if tag == "script" and not names.get("src"):
            self.found.append("an inline <script>")
        if tag == "style":
            self.found.append("a <style> element")
        self.found += [f"{name}= on <{tag}>" for name in names if name == "style" or name.startswith("on")]


def test_the_dashboard_page_has_nothing_inline_its_policy_would_block() -> None:
    parser = _Inline()
    parser.feed(files("api").joinpath("static", "index.html").read_text())
    assert parser.found == []


def test_errors_are_cut_short() -> None:
    assert cut("short") == "short"
    long = cut("k" * 100_000)
    assert len(long) == DETAIL_MAX and long.endswith("…")
    problem = validation_problem([FieldError("k" * 100_000, "is not allowed")])
    assert problem == {"detail": [{"path": "k" * (DETAIL_MAX - 1) + "…", "message": "is not allowed"}]}
