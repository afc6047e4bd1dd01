"""Who may do what: 401 without a valid token, 403 for another community or an admin-only route, and tokens
never repeated after the response that issued them (not in responses, not in the event record, not in the store).
"""

from __future__ import annotations

import json
from pathlib import Path

import httpx
import pytest

from controller.cli.broker import MosquittoBroker
from tests.api.harness import ADMIN_TOKEN, bearer, running_api
from tests.integration.harness import example_venue, run

pytestmark = pytest.mark.integration
# Each test has a broker of its own: an accepted profile is published retained on the venue-independent topic
# `ambience/profiles/<community>`, which a shared broker would hand to every later test's venue.

PROFILE = {"community_id": "jazz-night", "name": "Late jazz", "lighting": {"brightness": 30}}


def test_no_token_or_a_wrong_one_is_401_with_a_bearer_challenge(
    private_mosquitto: MosquittoBroker, tmp_path: Path
) -> None:
    async def scenario() -> None:
        async with running_api(example_venue(private_mosquitto.url, tmp_path)) as api:
            token = await api.register("jazz-night", "Jazz night")
            forged = token.split(".")[0] + ".not-the-secret"
            for headers in (
                {},
                bearer("wrong"),
                bearer(forged),
                bearer("nosuch.community"),
                {"Authorization": f"Basic {ADMIN_TOKEN}"},  # the admin token, but not as a bearer token
                {"Authorization": "Bearer"},
            ):
                for method, path in (
                    ("GET", "/api/v1/state"),
                    ("GET", "/api/v1/communities/jazz-night/profile"),
                    ("POST", "/api/v1/checkins"),
                ):
                    r = await api.client.request(method, path, headers=headers, json={})
                    assert r.status_code == 401, (headers, path, r.text)
                    assert r.headers["WWW-Authenticate"] == "Bearer"
                    detail = r.json()["detail"]
                    assert detail in {
                        "a bearer token is required (Authorization: Bearer <token>)",
                        "the token is not valid",
                    }
            # Anyone may ask whether the venue is alive, and scrape its metrics.
            assert (await api.client.get("/healthz")).status_code == 200
            assert (await api.client.get("/metrics")).status_code == 200

    run(scenario)


def test_a_community_token_reaches_only_its_own_community(private_mosquitto: MosquittoBroker, tmp_path: Path) -> None:
    async def scenario() -> None:
        async with running_api(example_venue(private_mosquitto.url, tmp_path)) as api:
            token = await api.register("jazz-night", "Jazz night")
            # Its own profile: allowed (404 until it has one, then 200).
            own = await api.as_(token, "GET", "/api/v1/communities/jazz-night/profile")
            assert own.status_code == 404
            assert own.json() == {"detail": "community 'jazz-night' has no profile"}
            put = await api.as_(token, "PUT", "/api/v1/communities/jazz-night/profile", json=PROFILE)
            assert put.status_code == 200, put.text

            # Another community's profile, existing or not: 403, whatever the method.
            for method, path, body in (
                ("GET", "/api/v1/communities/book-club/profile", None),
                ("GET", "/api/v1/communities/book-club/profile/versions", None),
                ("PUT", "/api/v1/communities/book-club/profile", {**PROFILE, "community_id": "book-club"}),
                ("GET", "/api/v1/communities/nobody/profile", None),
            ):
                r = await api.as_(token, method, path, json=body)
                assert r.status_code == 403, (path, r.text)
                assert r.json() == {"detail": "this token belongs to another community"}

            # Admin-only routes: 403 for any community token.
            admin_only: tuple[tuple[str, str, object], ...] = (
                ("GET", "/api/v1/state", None),
                ("GET", "/api/v1/devices", None),
                ("GET", "/api/v1/events", None),
                ("GET", "/api/v1/events/stream", None),
                ("GET", "/api/v1/communities", None),
                ("POST", "/api/v1/communities", {"id": "other", "name": "Other"}),
                ("POST", "/api/v1/checkins", {"member_id": "ana", "community_id": "jazz-night"}),
                ("POST", "/api/v1/checkouts", {"member_id": "ana"}),
            )
            for method, path, payload in admin_only:
                r = await api.as_(token, method, path, json=payload)
                assert r.status_code == 403, (path, r.text)
                assert r.json() == {"detail": "only the venue admin may do this"}
            # Nothing the community was refused happened.
            listed = await api.admin("GET", "/api/v1/communities")
            assert "other" not in {c["id"] for c in listed.json()}
            assert (await api.admin("GET", "/api/v1/state")).json()["present"] == {}

    run(scenario)


def test_registering_twice_is_409_and_a_bad_id_is_422(private_mosquitto: MosquittoBroker, tmp_path: Path) -> None:
    async def scenario() -> None:
        async with running_api(example_venue(private_mosquitto.url, tmp_path)) as api:
            await api.register("jazz-night", "Jazz night")
            again = await api.admin("POST", "/api/v1/communities", json={"id": "jazz-night", "name": "Again"})
            assert again.status_code == 409
            assert again.json() == {"detail": "community 'jazz-night' is registered already"}

            bad = await api.admin("POST", "/api/v1/communities", json={"id": "Jazz Night!", "name": "", "x": 1})
            assert bad.status_code == 422
            assert bad.json() == {
                "detail": [
                    {
                        "path": "id",
                        "message": "must be an id of 1-64 lowercase letters, digits, '-' or '_', "
                        "starting with a letter or digit",
                    },
                    {"path": "name", "message": "must not be empty"},
                    {"path": "x", "message": "unknown field"},
                ]
            }
            missing = await api.admin("POST", "/api/v1/communities", json={})
            assert missing.json() == {
                "detail": [{"path": "id", "message": "required"}, {"path": "name", "message": "required"}]
            }
            garbled = await api.admin(
                "POST", "/api/v1/communities", content=b"{nope", headers={"Content-Type": "application/json"}
            )
            assert garbled.status_code == 422
            [problem] = garbled.json()["detail"]
            assert problem["path"] == "(body)"
            assert problem["message"].startswith("must be valid JSON")

            # A community known only by its profile (from the venue's files) can be given a token.
            book_club = await api.register("book-club", "Book club")
            assert book_club.startswith("book-club.")
            listed = {c["id"]: c for c in (await api.admin("GET", "/api/v1/communities")).json()}
            assert listed["book-club"] == {
                "id": "book-club",
                "name": "Book club",
                "registered": True,
                "has_profile": True,
            }
            assert listed["jazz-night"] == {
                "id": "jazz-night",
                "name": "Jazz night",
                "registered": True,
                "has_profile": False,
            }
            assert listed["house"] == {"id": "house", "name": "House calm", "registered": False, "has_profile": True}

    run(scenario)


def test_tokens_never_appear_after_the_response_that_issued_them(
    private_mosquitto: MosquittoBroker, tmp_path: Path
) -> None:
    async def scenario() -> None:
        async with running_api(example_venue(private_mosquitto.url, tmp_path)) as api:
            token = await api.register("jazz-night", "Jazz night")
            secret = token.partition(".")[2]
            seen: list[httpx.Response] = []

            async def call(who: str, method: str, path: str, body: object = None) -> httpx.Response:
                r = await api.as_(who, method, path, json=body)
                seen.append(r)
                return r

            put = await call(token, "PUT", "/api/v1/communities/jazz-night/profile", PROFILE)
            etag = put.headers["ETag"]
            await call(token, "GET", "/api/v1/communities/jazz-night/profile")
            await call(token, "GET", "/api/v1/communities/jazz-night/profile/versions")
            await call(token, "PUT", "/api/v1/communities/jazz-night/profile", {**PROFILE, "name": 7})  # 422
            await call(token, "GET", "/api/v1/communities/book-club/profile")  # 403
            await call(token, "GET", "/api/v1/state")  # 403
            await call(token + "x", "GET", "/api/v1/communities/jazz-night/profile")  # 401
            await call(ADMIN_TOKEN, "POST", "/api/v1/checkins", {"member_id": "ana", "community_id": "jazz-night"})
            await call(ADMIN_TOKEN, "GET", "/api/v1/communities")
            await call(ADMIN_TOKEN, "GET", "/api/v1/state")
            await call(ADMIN_TOKEN, "GET", "/api/v1/devices")
            await call(ADMIN_TOKEN, "GET", "/api/v1/events?limit=1000")
            await call(ADMIN_TOKEN, "GET", "/api/v1/communities/jazz-night/profile/versions")
            await call(ADMIN_TOKEN, "POST", "/api/v1/communities", {"id": "jazz-night", "name": "Again"})  # 409
            seen.append(await api.client.get("/healthz"))
            seen.append(await api.client.get("/metrics"))
            seen.append(await api.client.get("/openapi.json"))
            assert [r.status_code for r in seen[:8]] == [200, 200, 200, 422, 403, 403, 401, 201]
            assert etag

            for r in seen:
                text = r.text + json.dumps(dict(r.headers))
                for needle in (token, secret, ADMIN_TOKEN):
                    assert needle not in text, f"{r.request.method} {r.request.url} leaks a token"

            # Nor in the event record, nor anywhere in the venue's database (only the secret's hash is stored).
            record = api.venue.service.record
            assert record is not None
            events = [json.dumps(e.to_json()) for e in record.iter_all()]
            assert any('"checkin"' in e for e in events)
            assert not [e for e in events if secret in e or ADMIN_TOKEN in e]
            store = Path(api.venue.config.store.path)
            for path in store.parent.glob(store.name + "*"):
                data = path.read_bytes()
                assert secret.encode() not in data, path
                assert ADMIN_TOKEN.encode() not in data, path

    run(scenario)
