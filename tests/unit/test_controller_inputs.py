"""Kiosk input parsed at the edge: every problem with its field, nothing the record cannot store, echoes bounded."""

from __future__ import annotations

import json

import pytest

from controller.core.inputs import Kiosk, decode_object, invalid_text, parse_kiosk, shown


def kiosk(payload: bytes | dict[str, object], need_community: bool = True) -> tuple[Kiosk | None, list[str]]:
    raw = payload if isinstance(payload, bytes) else json.dumps(payload).encode()
    parsed, errors = parse_kiosk(raw, need_community=need_community, knows=lambda c: c == "book-club")
    return parsed, [f"{e.path}: {e.message}" for e in errors]


def test_a_good_checkin_and_checkout() -> None:
    assert kiosk({"member_id": "ana", "community_id": "book-club"}) == (Kiosk("ana", "book-club"), [])
    assert kiosk({"member_id": "ana"}, need_community=False) == (Kiosk("ana", ""), [])


@pytest.mark.parametrize(
    ("payload", "error"),
    [
        (b'{"member_id": "ana\\ud800", "community_id": "book-club"}', "member_id: must be valid Unicode text"),
        (b'{"member_id": "ana", "community_id": "\\udc00"}', "community_id: must be valid Unicode text"),
        (b'{"member_id": "ana", "\\ud800": 1}', "(key): must be valid Unicode text"),
        (b"[1]", "(payload): must be a JSON object"),
        (b'{"member_id": NaN}', "(payload): must be a JSON object"),
        (b"\xff", "(payload): must be a JSON object"),
    ],
)
def test_what_cannot_be_stored_is_refused_with_its_field(payload: bytes, error: str) -> None:
    parsed, errors = kiosk(payload)
    assert parsed is None
    assert errors[0].startswith(error)


def test_a_huge_unknown_community_is_refused_without_repeating_it() -> None:
    _, errors = kiosk({"member_id": "ana", "community_id": "x" * 5_000_000})
    assert len(errors) == 1 and len(errors[0]) < 200
    _, errors = kiosk({"member_id": "ana", "community_id": "chess-club"})
    assert errors == ["community_id: unknown community 'chess-club'"]


def test_shown_cuts_long_values_and_keeps_short_ones() -> None:
    assert shown("book-club") == "'book-club'"
    assert len(shown("y" * 10_000)) == 80 and shown("y" * 10_000).endswith("…")
    assert shown("ana\ud800") == "'ana\\ud800'"  # the repr escapes what UTF-8 cannot hold


def test_invalid_text_names_the_path() -> None:
    assert invalid_text({"a": [{"b": "ok"}, {"c": "\ud800"}]}) == "a.1.c"
    assert invalid_text({"a": "汉字", "b": ["😀"]}) is None
    assert decode_object(b'{"a": "\\ud83d\\ude00"}', "{}") == ({"a": "😀"}, [])  # a surrogate *pair* is fine
