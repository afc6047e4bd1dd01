"""Clients that are broken or hostile, over real sockets against the real server: what each costs is bounded.

A body is never read for a request without a valid token, nor past the size cap (413, chunked or not); a request
head or body that does not arrive in time, an idle keep-alive connection and a connection beyond the bound are
closed; what an error repeats of its input is cut short. Small limits (api/limits.py) make each bound act in seconds.
"""

from __future__ import annotations

import asyncio
import json
from pathlib import Path

import pytest

from api.deps import BAD_TOKEN, NO_TOKEN
from api.limits import MAX_BODY_BYTES, Limits
from controller.cli.broker import MosquittoBroker
from tests.api.harness import ADMIN, ADMIN_TOKEN, Api, running_api
from tests.api.wire import Answer, Wire, chunk, request_head, wire
from tests.integration.harness import example_venue, run

pytestmark = pytest.mark.integration

FIFTY_MB = 50 * 1024 * 1024
JSON = {"Content-Type": "application/json"}
CHUNKED = {"Transfer-Encoding": "chunked"}
SMALL = 2048
"""An error about a huge input is smaller than this."""


def _headers(token: str | None, **extra: str) -> dict[str, str]:
    auth = {"Authorization": f"Bearer {token}"} if token is not None else {}
    return {**auth, **JSON, **extra}


async def _refused_unread(api: Api, path: str, token: str | None, method: str = "POST") -> Answer:
    """Announce 50 MB, send a few bytes of it, and take the answer, which must come (and close) without the rest."""
    async with wire(api.port) as conn:
        await conn.send(request_head(method, path, _headers(token, **{"Content-Length": str(FIFTY_MB)})))
        await conn.send(b'{"member_id": "ana", ')
        answer = await conn.answer()
        assert answer.headers["connection"] == "close", answer
        assert await conn.closed_by_server(within_s=5)
    return answer


def test_a_body_is_read_neither_without_a_valid_token_nor_past_the_cap(
    mosquitto: MosquittoBroker, tmp_path: Path
) -> None:
    async def scenario() -> None:
        async with running_api(example_venue(mosquitto.url, tmp_path)) as api:
            community = await api.register("jazz-night", "Jazz night")
            forged = community.split(".")[0] + ".not-the-secret"
            for token, detail in ((None, NO_TOKEN), ("wrong", BAD_TOKEN), (forged, BAD_TOKEN)):
                for method, path in (("POST", "/api/v1/checkins"), ("PUT", "/api/v1/communities/jazz-night/profile")):
                    answer = await _refused_unread(api, path, token, method)
                    assert answer.status == 401, answer
                    assert answer.json() == {"detail": detail}
                    assert answer.headers["www-authenticate"] == "Bearer"

            # A valid token passes the gate; 50 MB is still never read, on any route.
            too_large = f"the request body is larger than {MAX_BODY_BYTES} bytes, the most the API takes"
            for token, method, path in (
                (ADMIN_TOKEN, "POST", "/api/v1/checkins"),
                (community, "PUT", "/api/v1/communities/jazz-night/profile"),
                (None, "POST", "/healthz"),
            ):
                answer = await _refused_unread(api, path, token, method)
                assert (answer.status, answer.json()) == (413, {"detail": too_large}), (path, answer)

            # The service is none the worse: a check-in of ordinary size goes through.
            ok = await api.admin("POST", "/api/v1/checkins", json={"member_id": "ana", "community_id": "book-club"})
            assert ok.status_code == 201, ok.text

    run(scenario)


def test_a_chunked_body_past_the_cap_is_413_and_no_longer_read(mosquitto: MosquittoBroker, tmp_path: Path) -> None:
    limits = Limits(max_body_bytes=4096)

    async def scenario() -> None:
        async with running_api(example_venue(mosquitto.url, tmp_path), limits=limits) as api:
            for path, method in (
                ("/api/v1/checkins", "POST"),  # FastAPI reads the body
                ("/api/v1/communities/book-club/profile", "PUT"),  # the route reads it itself
            ):
                async with wire(api.port) as conn:
                    await conn.send(request_head(method, path, _headers(ADMIN_TOKEN, **CHUNKED)))
                    await conn.send(chunk(b'{"member_id": "' + b"a" * 1000))
                    for _ in range(4):  # 5000 bytes: past the cap
                        await conn.send(chunk(b"a" * 1000))
                    answer = await conn.answer()
                    assert answer.status == 413, (path, answer)
                    assert answer.json() == {
                        "detail": "the request body is larger than 4096 bytes, the most the API takes"
                    }
                    assert await conn.closed_by_server(within_s=5)

            # Under the cap, chunked or not, a body is read as before.
            async with wire(api.port) as conn:
                body = json.dumps({"member_id": "ana", "community_id": "book-club"}).encode()
                await conn.send(request_head("POST", "/api/v1/checkins", _headers(ADMIN_TOKEN, **CHUNKED)))
                await conn.send(chunk(body[:10]) + chunk(body[10:]) + b"0\r\n\r\n")
                answer = await conn.answer()
                assert answer.status == 201, answer
            at_cap = await api.admin("PUT", "/api/v1/forced-profile", content=b" " * 4096, headers=JSON)
            assert at_cap.status_code == 422, at_cap.text  # read, and found empty
            over = await api.admin("PUT", "/api/v1/forced-profile", content=b" " * 4097, headers=JSON)
            assert over.status_code == 413, over.text

    run(scenario)


def test_slow_requests_are_cut_off(mosquitto: MosquittoBroker, tmp_path: Path) -> None:
    limits = Limits(head_timeout_s=0.5, body_timeout_s=0.5)

    async def scenario() -> None:
        async with running_api(example_venue(mosquitto.url, tmp_path), limits=limits) as api:
            async with wire(api.port) as silent, wire(api.port) as half:
                await half.send("GET /heal")  # half a request line, and then nothing
                assert await half.closed_by_server(within_s=5)
                assert await silent.closed_by_server(within_s=5)  # nothing at all

            async with wire(api.port) as trickle:
                head = _headers(ADMIN_TOKEN, **{"Content-Length": "100"})
                await trickle.send(request_head("POST", "/api/v1/checkins", head))
                await trickle.send(b'{"member_id"')  # 12 of the 100 bytes promised
                answer = await trickle.answer()
                assert answer.status == 408, answer
                assert answer.json() == {"detail": "the request body did not arrive within 0.5 s"}
                assert await trickle.closed_by_server(within_s=5)

            # A client that keeps pace is served as ever, keep-alive included.
            async with wire(api.port) as brisk:
                for _ in range(3):
                    await brisk.send(request_head("GET", "/healthz"))
                    assert (await brisk.answer()).status == 200

    run(scenario)


def test_an_idle_keep_alive_connection_is_closed(mosquitto: MosquittoBroker, tmp_path: Path) -> None:
    limits = Limits(keep_alive_s=1, head_timeout_s=60)

    async def scenario() -> None:
        async with running_api(example_venue(mosquitto.url, tmp_path), limits=limits) as api, wire(api.port) as idle:
            await idle.send(request_head("GET", "/healthz"))
            answer = await idle.answer()
            assert answer.status == 200 and "connection" not in answer.headers  # kept alive...
            assert await idle.closed_by_server(within_s=5)  # ...until idle for a second

    run(scenario)


def test_connections_beyond_the_bound_are_closed_at_once(mosquitto: MosquittoBroker, tmp_path: Path) -> None:
    limits = Limits(max_connections=4, head_timeout_s=60)
    extra = 8

    async def scenario() -> None:
        async with running_api(example_venue(mosquitto.url, tmp_path), limits=limits) as api:
            await api.client.aclose()  # only the raw connections below count
            opened = [await asyncio.open_connection("127.0.0.1", api.port) for _ in range(extra)]
            try:
                closed = await asyncio.gather(*(Wire(r, w).closed_by_server(within_s=1) for r, w in opened))
                assert limits.max_connections - 1 <= closed.count(False) <= limits.max_connections, closed
            finally:
                for _, writer in opened:
                    writer.close()

            async def answers() -> bool:
                async with wire(api.port) as conn:
                    await conn.send(request_head("GET", "/healthz", {"Connection": "close"}))
                    try:
                        return (await conn.answer()).status == 200
                    except (asyncio.IncompleteReadError, ConnectionError):
                        return False  # closed at once: the server has not yet seen all of ours go

            # Once those are gone, the API answers again.
            for _ in range(100):
                if await answers():
                    break
                await asyncio.sleep(0.05)
            else:
                raise AssertionError("the API did not answer after the extra connections closed")

    run(scenario)


def test_an_error_never_repeats_a_huge_input_whole(mosquitto: MosquittoBroker, tmp_path: Path) -> None:
    huge = "x" * 200_000

    async def scenario() -> None:
        async with running_api(example_venue(mosquitto.url, tmp_path)) as api:
            for method, path, body in (
                ("POST", "/api/v1/checkins", {"member_id": "ana", "community_id": huge}),
                ("POST", "/api/v1/checkins", {"member_id": huge, "community_id": "book-club"}),
                ("POST", "/api/v1/checkins", {"member_id": "ana", "community_id": "book-club", huge: 1}),
                ("POST", "/api/v1/checkouts", {"member_id": huge}),
                ("POST", "/api/v1/communities", {"id": huge, "name": "x"}),
                ("PUT", "/api/v1/forced-profile", {"community_id": huge}),
                ("GET", f"/api/v1/communities/{huge[:5000]}/profile", None),
                ("GET", f"/api/v1/communities/{huge[:5000]}/profile/versions", None),
                ("PUT", f"/api/v1/communities/{huge[:5000]}/profile", {"community_id": "book-club"}),
                ("PUT", "/api/v1/communities/book-club/profile", {"community_id": "book-club", "name": "B", huge: 1}),
                ("GET", f"/static/{huge[:5000]}", None),
            ):
                r = await api.admin(method, path, json=body)
                assert r.status_code == 422, (path, r.status_code)
                assert len(r.content) < SMALL, (path, r.content[:300])

            # What an error does repeat is the value, in quotes, or its start and an ellipsis.
            unknown = await api.admin("PUT", "/api/v1/forced-profile", json={"community_id": "no-such"})
            assert unknown.json() == {"detail": [{"path": "community_id", "message": "no profile for 'no-such'"}]}
            absent = await api.admin("POST", "/api/v1/checkouts", json={"member_id": "m" * 128})
            assert absent.status_code == 404
            assert absent.json()["detail"] == f"member '{'m' * 78}… is not checked in"
            asset = await api.client.get(f"/static/{'y' * 60}")
            assert asset.status_code == 404 and len(asset.content) < 200

    run(scenario)


def test_methods_and_the_dashboards_headers(mosquitto: MosquittoBroker, tmp_path: Path) -> None:
    async def scenario() -> None:
        async with running_api(example_venue(mosquitto.url, tmp_path)) as api:
            for path in ("/", "/static/dashboard.js", "/static/dashboard.css"):
                r = await api.client.get(path)
                assert r.status_code == 200
                assert r.headers["Content-Security-Policy"].startswith("default-src 'self';"), path
                assert "frame-ancestors 'none'" in r.headers["Content-Security-Policy"]
                assert r.headers["X-Frame-Options"] == "DENY"
                assert r.headers["X-Content-Type-Options"] == "nosniff"
                assert r.headers["Referrer-Policy"] == "no-referrer"
                head = await api.client.head(path)
                assert head.status_code == 200 and head.content == b"", path
                assert head.headers["Content-Type"] == r.headers["Content-Type"]

            allow = {
                "/": "GET, HEAD, OPTIONS",
                "/healthz": "GET, OPTIONS",
                "/api/v1/forced-profile": "GET, OPTIONS, PUT",
                "/api/v1/communities": "GET, OPTIONS, POST",
                "/api/v1/communities/book-club/profile": "GET, OPTIONS, PUT",
            }
            for path, methods in allow.items():
                options = await api.admin("OPTIONS", path)
                assert (options.status_code, options.headers.get("Allow")) == (204, methods), path
                refused = await api.admin("DELETE", path)
                assert (refused.status_code, refused.headers.get("Allow")) == (405, methods), path
                assert refused.json() == {"detail": "Method Not Allowed"}
            # Under /api/v1 every method needs a token, OPTIONS too.
            assert (await api.client.options("/api/v1/state")).status_code == 401
            assert (await api.client.request("OPTIONS", "/api/v1/state", headers=ADMIN)).status_code == 204

    run(scenario)
