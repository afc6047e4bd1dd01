"""Profiles over HTTP: a community's PUT changes the simulated room; ETag / If-Match; history; 422 before any change."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from controller.cli.broker import MosquittoBroker
from testkit.waiting import wait_until
from tests.api.harness import Api, running_api
from tests.integration.harness import example_venue, run

pytestmark = pytest.mark.integration  # each test on a broker of its own: see test_auth.py


def z2m_brightness(pct: float) -> int:
    return round(pct * 254 / 100)


def jazz(brightness: int, **extra: Any) -> dict[str, Any]:
    return {
        "community_id": "jazz-night",
        "name": "Late jazz",
        "quorum": 2,
        "lighting": {"on": True, "brightness": brightness, "color_temp_k": 2200, "transition_s": 0},
        **extra,
    }


async def check_in(api: Api, member_id: str, community_id: str) -> dict[str, Any]:
    r = await api.admin("POST", "/api/v1/checkins", json={"member_id": member_id, "community_id": community_id})
    assert r.status_code in (200, 201), r.text
    body: dict[str, Any] = r.json()
    return body


def test_a_community_puts_its_profile_and_the_room_follows(private_mosquitto: MosquittoBroker, tmp_path: Path) -> None:
    async def scenario() -> None:
        async with running_api(example_venue(private_mosquitto.url, tmp_path)) as api:
            v = api.venue
            lamp = "lounge-lamp-1"
            # Nobody here: the house profile (60 %).
            await wait_until(lambda: v.device(lamp)["brightness"] == z2m_brightness(60), what="house lighting")

            token = await api.register("jazz-night", "Jazz night")
            put = await api.as_(token, "PUT", "/api/v1/communities/jazz-night/profile", json=jazz(35))
            assert put.status_code == 200, put.text
            assert put.json() == jazz(35) | {"lighting": {**jazz(35)["lighting"], "zones": {}}, "phases": []}
            first_etag = put.headers["ETag"]

            # One member is below the quorum of 2: the room stays the house's.
            assert (await check_in(api, "ana", "jazz-night"))["status"] == "checked_in"
            state = (await api.admin("GET", "/api/v1/state")).json()
            assert state["present"] == {"jazz-night": ["ana"]}
            assert state["active_profile"] == "house"
            await check_in(api, "ben", "jazz-night")
            await wait_until(lambda: v.device(lamp)["brightness"] == z2m_brightness(35), what="jazz-night at 35 %")
            assert v.device(lamp)["color_temp"] == round(1_000_000 / 2200)
            state = (await api.admin("GET", "/api/v1/state")).json()
            assert state["active_profile"] == "jazz-night"
            assert state["zones"]["lounge"]["lighting"]["brightness"] == 35

            # An edit of the active community's profile changes the room at once.
            edit = await api.as_(
                token,
                "PUT",
                "/api/v1/communities/jazz-night/profile",
                json=jazz(20),
                headers={"If-Match": first_etag},
            )
            assert edit.status_code == 200, edit.text
            assert edit.headers["ETag"] != first_etag
            await wait_until(lambda: v.device(lamp)["brightness"] == z2m_brightness(20), what="jazz-night at 20 %")

            devices = {d["id"]: d for d in (await api.admin("GET", "/api/v1/devices")).json()}
            assert devices[lamp]["desired"]["brightness"] == 20
            assert devices[lamp]["online"] is True
            assert devices[lamp]["last_seen"]
            updates = [e for e in v.events("profile_updated") if e.payload["community_id"] == "jazz-night"]
            assert [e.payload["author"] for e in updates] == ["community:jazz-night", "community:jazz-night"]

    run(scenario)


def test_etag_if_match_and_versions(private_mosquitto: MosquittoBroker, tmp_path: Path) -> None:
    async def scenario() -> None:
        async with running_api(example_venue(private_mosquitto.url, tmp_path)) as api:
            url = "/api/v1/communities/book-club/profile"
            got = await api.admin("GET", url)
            assert got.status_code == 200
            seeded = got.json()
            assert seeded["name"] == "Reading hour"
            assert seeded["quorum"] == 2
            etag = got.headers["ETag"]
            assert etag.startswith('"')
            assert etag.endswith('"')

            stale = await api.admin("PUT", url, json={**seeded, "name": "Stale"}, headers={"If-Match": '"0000"'})
            assert stale.status_code == 412
            assert stale.json() == {
                "detail": "the profile changed since it was read (If-Match does not match the current ETag): "
                "read it again and reapply the edit"
            }
            assert stale.headers["ETag"] == etag  # where to start again

            v2 = await api.admin("PUT", url, json={**seeded, "name": "Reading hour 2"}, headers={"If-Match": etag})
            assert v2.status_code == 200
            assert v2.headers["ETag"] != etag
            # The organiser who read the first version and edits now is refused, not silently overwritten.
            late = await api.admin("PUT", url, json={**seeded, "name": "Late edit"}, headers={"If-Match": etag})
            assert late.status_code == 412
            assert (await api.admin("GET", url)).json()["name"] == "Reading hour 2"

            token = await api.register("book-club", "Book club")
            v3 = await api.as_(token, "PUT", url, json={**seeded, "name": "Reading hour 3"}, headers={"If-Match": "*"})
            assert v3.status_code == 200
            # The same body again is no new version: same ETag.
            same = await api.as_(token, "PUT", url, json={**seeded, "name": "Reading hour 3"})
            assert same.headers["ETag"] == v3.headers["ETag"]
            # A list of ETags matches when one does; an unquoted one is accepted too.
            current = v3.headers["ETag"]
            listed = await api.admin(
                "PUT", url, json={**seeded, "name": "Reading hour 4"}, headers={"If-Match": f'"nope", {current}'}
            )
            assert listed.status_code == 200
            bare = await api.admin("PUT", url, json=seeded, headers={"If-Match": listed.headers["ETag"].strip('"')})
            assert bare.status_code == 200

            versions = await api.as_(token, "GET", url + "/versions")
            assert versions.status_code == 200
            history = versions.json()
            assert [h["version"] for h in history] == [5, 4, 3, 2, 1]
            assert [h["author"] for h in history] == [
                "admin",
                "admin",
                "community:book-club",
                "admin",
                "seed:book-club.yaml",
            ]
            assert [h["profile"]["name"] for h in history] == [
                "Reading hour",
                "Reading hour 4",
                "Reading hour 3",
                "Reading hour 2",
                "Reading hour",
            ]
            assert f'"{history[0]["etag"]}"' == bare.headers["ETag"]
            assert history[0]["etag"] != history[-1]["etag"]  # the same body at another version: another ETag
            assert all(h["created_at"] for h in history)

            # No profile: 404 for reading it and its history; If-Match: * does not match a missing profile.
            for path in ("/api/v1/communities/nobody/profile", "/api/v1/communities/nobody/profile/versions"):
                missing = await api.admin("GET", path)
                assert missing.status_code == 404
                assert missing.json() == {"detail": "community 'nobody' has no profile"}
            nobody = {"community_id": "nobody", "name": "Nobody"}
            star = await api.admin("PUT", "/api/v1/communities/nobody/profile", json=nobody, headers={"If-Match": "*"})
            assert star.status_code == 412
            # The admin may give a community its first profile.
            first = await api.admin("PUT", "/api/v1/communities/nobody/profile", json=nobody)
            assert first.status_code == 200
            assert first.json() == {"community_id": "nobody", "name": "Nobody", "quorum": 1, "phases": []}

    run(scenario)


def test_an_invalid_profile_is_422_with_every_error_and_changes_nothing(
    private_mosquitto: MosquittoBroker, tmp_path: Path
) -> None:
    async def scenario() -> None:
        async with running_api(example_venue(private_mosquitto.url, tmp_path)) as api:
            url = "/api/v1/communities/book-club/profile"
            before = await api.admin("GET", url)
            versions_before = len((await api.admin("GET", url + "/versions")).json())
            events_before = len(api.venue.events("profile_updated"))

            bad = {
                "community_id": "book-club",
                "name": "Broken",
                "lighting": {"brightness": 120, "zones": {"bar": {"brightness": 101, "color": "red"}}},
                "audio": {"volume": -1},
                "colour": "#ffffff",
            }
            r = await api.admin("PUT", url, json=bad, headers={"If-Match": before.headers["ETag"]})
            assert r.status_code == 422
            assert r.json() == {
                "detail": [
                    {"path": "lighting.brightness", "message": "must be <= 100"},
                    {"path": "lighting.zones.bar.brightness", "message": "must be <= 100"},
                    {"path": "lighting.zones.bar.color", "message": "must be a colour like #ff6a00"},
                    {"path": "audio.volume", "message": "must be >= 0"},
                    {"path": "colour", "message": "unknown field"},
                ]
            }

            other = await api.admin("PUT", url, json={"community_id": "house", "name": "Not mine"})
            assert other.status_code == 422
            assert other.json() == {
                "detail": [{"path": "community_id", "message": "must be 'book-club', the community in the URL"}]
            }
            both = await api.admin("PUT", url, json={"community_id": "house", "name": ""})
            assert both.json()["detail"] == [
                {"path": "name", "message": "must not be empty"},
                {"path": "community_id", "message": "must be 'book-club', the community in the URL"},
            ]
            for body, message in (
                (b"{not json", "must be valid JSON"),
                (b"", "required: the profile as a JSON object"),
            ):
                garbled = await api.admin("PUT", url, content=body, headers={"Content-Type": "application/json"})
                assert garbled.status_code == 422
                [problem] = garbled.json()["detail"]
                assert problem["path"] == "(body)"
                assert problem["message"].startswith(message)
            listed = await api.admin("PUT", url, json=[1, 2])
            assert listed.json() == {
                "detail": [{"path": "(root)", "message": "must be a mapping (key: value), not a list"}]
            }

            after = await api.admin("GET", url)
            assert after.headers["ETag"] == before.headers["ETag"]
            assert after.json() == before.json()
            assert len((await api.admin("GET", url + "/versions")).json()) == versions_before
            assert len(api.venue.events("profile_updated")) == events_before

    run(scenario)
