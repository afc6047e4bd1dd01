"""Check-ins and check-outs over HTTP, the event record (paged and live over SSE), health and metrics."""

from __future__ import annotations

import asyncio
import contextlib
import json
from collections.abc import AsyncIterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import pytest

from api.server import serve
from controller.cli.broker import MosquittoBroker, free_port
from testkit.waiting import wait_until
from tests.api.harness import ADMIN, ADMIN_TOKEN, Api, running_api
from tests.integration.harness import example_venue, run, running_venue

pytestmark = pytest.mark.integration  # each test on a broker of its own: see test_auth.py


@dataclass(frozen=True)
class Frame:
    id: int
    event: str
    data: dict[str, Any]


class SseReader:
    """Server-Sent Events as a client parses them: fields until a blank line; comments and `retry` skipped."""

    def __init__(self, response: httpx.Response) -> None:
        self._lines: AsyncIterator[str] = response.aiter_lines()
        self.comments: list[str] = []

    async def next(self, timeout_s: float = 5.0) -> Frame:
        fields: dict[str, str] = {}
        async with asyncio.timeout(timeout_s):
            while True:
                line = await anext(self._lines)
                if line.startswith(":"):
                    self.comments.append(line)
                elif line:
                    name, _, value = line.partition(":")
                    fields[name] = value.removeprefix(" ")
                elif "data" in fields:
                    return Frame(int(fields["id"]), fields["event"], json.loads(fields["data"]))
                else:
                    fields = {}

    async def until(self, wanted: str, member_id: str, timeout_s: float = 5.0) -> tuple[Frame, list[Frame]]:
        """The first `wanted` event for `member_id`, and every frame read up to it."""
        frames: list[Frame] = []
        async with asyncio.timeout(timeout_s):
            while True:
                frame = await self.next(timeout_s)
                frames.append(frame)
                if frame.event == wanted and frame.data.get("member_id") == member_id:
                    return frame, frames


async def post(api: Api, path: str, body: dict[str, Any]) -> httpx.Response:
    return await api.admin("POST", path, json=body)


def test_checkins_and_checkouts(private_mosquitto: MosquittoBroker, tmp_path: Path) -> None:
    async def scenario() -> None:
        async with running_api(example_venue(private_mosquitto.url, tmp_path)) as api:
            ana = {"member_id": "ana", "community_id": "book-club"}
            first = await post(api, "/api/v1/checkins", ana)
            assert first.status_code == 201
            assert first.json() == {"member_id": "ana", "community_id": "book-club", "status": "checked_in"}
            again = await post(api, "/api/v1/checkins", ana)
            assert again.status_code == 200
            assert again.json() == {"member_id": "ana", "community_id": "book-club", "status": "already_present"}
            moved = await post(api, "/api/v1/checkins", {"member_id": "ana", "community_id": "spicy-tech-gossip"})
            assert moved.status_code == 201
            assert moved.json()["status"] == "checked_in"

            unknown = await post(api, "/api/v1/checkins", {"member_id": "ana", "community_id": "nope"})
            assert unknown.status_code == 404
            assert unknown.json() == {"detail": "unknown community 'nope'"}
            invalid = await post(api, "/api/v1/checkins", {"member_id": "  ", "community_id": "book-club"})
            assert invalid.status_code == 422
            assert invalid.json() == {"detail": [{"path": "member_id", "message": "must not be blank"}]}
            too_long = await post(api, "/api/v1/checkins", {"member_id": "x" * 129})
            assert too_long.json() == {
                "detail": [
                    {"path": "member_id", "message": "must be at most 128 characters"},
                    {"path": "community_id", "message": "required"},
                ]
            }

            out = await post(api, "/api/v1/checkouts", {"member_id": "ana"})
            assert out.status_code == 200
            assert out.json() == {"member_id": "ana", "status": "checked_out"}
            gone = await post(api, "/api/v1/checkouts", {"member_id": "ana"})
            assert gone.status_code == 404
            assert gone.json() == {"detail": "member 'ana' is not checked in"}

            # The same path as a kiosk's: the record says where each came from, in order.
            api.venue.kiosk.checkin("kim", "book-club")
            await wait_until(lambda: len(api.venue.events("checkin")) == 3, what="the kiosk check-in")
            sources = [(e.payload["member_id"], e.payload["source"]) for e in api.venue.events("checkin")]
            assert sources == [("ana", "http"), ("ana", "http"), ("kim", "mqtt")]
            assert api.venue.events("checkin")[1].payload["moved_from"] == "book-club"
            state = (await api.admin("GET", "/api/v1/state")).json()
            assert state["present"] == {"book-club": ["kim"]}

    run(scenario)


def test_events_page_with_a_cursor(private_mosquitto: MosquittoBroker, tmp_path: Path) -> None:
    async def scenario() -> None:
        async with running_api(example_venue(private_mosquitto.url, tmp_path)) as api:
            for member in ("ana", "ben", "cat"):
                assert (await post(api, "/api/v1/checkins", {"member_id": member, "community_id": "house"})).is_success

            seen: list[str] = []
            since = 0
            pages = 0
            while True:
                page = await api.admin("GET", "/api/v1/events", params={"since": since, "type": "checkin", "limit": 1})
                assert page.status_code == 200
                body = page.json()
                if not body["events"]:
                    assert body["next_since"] == since
                    break
                [event] = body["events"]
                assert event["type"] == "checkin"
                assert event["id"] > since
                assert body["next_since"] == event["id"]
                seen.append(event["member_id"])
                since = body["next_since"]
                pages += 1
            assert seen == ["ana", "ben", "cat"]
            assert pages == 3

            everything = (await api.admin("GET", "/api/v1/events", params={"limit": 1000})).json()["events"]
            ids = [e["id"] for e in everything]
            assert ids == sorted(ids)
            assert {"profile_updated", "profile_activated", "checkin"} <= {e["type"] for e in everything}
            assert all(e["venue"] == api.venue.config.venue.id and e["ts"] for e in everything)

            for params, path, message in (
                ({"limit": 0}, "query.limit", "must be >= 1"),
                ({"limit": 1001}, "query.limit", "must be <= 1000"),
                ({"since": -1}, "query.since", "must be >= 0"),
                ({"since": "x"}, "query.since", "must be a whole number"),
            ):
                r = await api.admin("GET", "/api/v1/events", params=params)
                assert r.status_code == 422
                assert r.json() == {"detail": [{"path": path, "message": message}]}

    run(scenario)


def test_the_event_stream_is_live_and_resumes(private_mosquitto: MosquittoBroker, tmp_path: Path) -> None:
    async def scenario() -> None:
        async with running_api(example_venue(private_mosquitto.url, tmp_path)) as api:
            record = api.venue.service.record
            assert record is not None
            before = record.committed_id
            stream = "/api/v1/events/stream"
            async with api.client.stream("GET", stream, headers=ADMIN, timeout=10) as live:
                assert live.status_code == 200
                assert live.headers["content-type"].startswith("text/event-stream")
                assert live.headers["cache-control"] == "no-cache"
                reader = SseReader(live)
                # Published after connecting, it arrives; nothing from before connecting does.
                assert (await post(api, "/api/v1/checkins", {"member_id": "ana", "community_id": "house"})).is_success
                ana, frames = await reader.until("checkin", "ana")
                assert all(f.id > before for f in frames)
                assert ana.data["id"] == ana.id
                assert ana.data["type"] == "checkin"
                assert ana.data["community_id"] == "house"
                assert ana.data["source"] == "http"

            # While nobody listens, two more; a client that reconnects with Last-Event-ID gets exactly what it missed.
            for member in ("ben", "cat"):
                assert (await post(api, "/api/v1/checkins", {"member_id": member, "community_id": "house"})).is_success
            resume = {**ADMIN, "Last-Event-ID": str(ana.id)}
            async with api.client.stream("GET", stream, headers=resume, timeout=10) as again:
                reader = SseReader(again)
                _, frames = await reader.until("checkin", "cat")
                ids = [f.id for f in frames]
                assert ids == sorted(set(ids))
                assert ids[0] == ana.id + 1
                assert [f.data["member_id"] for f in frames if f.event == "checkin"] == ["ben", "cat"]
                # Every event in between, as the record has it.
                assert [f.data for f in frames] == [e.to_json() for e in record.read(ana.id, None, len(frames))]

            # `?since=` starts after an id too (for clients that are not EventSource).
            async with api.client.stream("GET", stream, params={"since": ana.id}, headers=ADMIN, timeout=10) as since:
                first = await SseReader(since).next()
                assert first.id == ana.id + 1

            bad = await api.admin("GET", stream, headers={"Last-Event-ID": "yesterday"})
            assert bad.status_code == 422
            assert bad.json()["detail"][0]["path"] == "header.Last-Event-ID"
            # Leaving running_api stops the server within its bound: the streams above ended with their clients.

    run(scenario)


def test_an_open_stream_ends_when_the_server_stops(private_mosquitto: MosquittoBroker, tmp_path: Path) -> None:
    """uvicorn waits for open responses before it shuts the app down, so a stream must end on `stop` by itself."""

    async def scenario() -> None:
        async with running_venue(example_venue(private_mosquitto.url, tmp_path)) as v:
            stop = asyncio.Event()
            port = free_port()
            server = asyncio.create_task(serve(v.service, "127.0.0.1", port, ADMIN_TOKEN, stop))
            url = f"http://127.0.0.1:{port}/api/v1/events/stream"
            async with httpx.AsyncClient(trust_env=False) as client:
                for _ in range(200):
                    with contextlib.suppress(httpx.TransportError):
                        if (await client.get(f"http://127.0.0.1:{port}/healthz")).is_success:
                            break
                    await asyncio.sleep(0.025)
                async with client.stream("GET", url, headers=ADMIN, params={"since": 0}) as response:
                    reader = SseReader(response)
                    await reader.next()  # streaming
                    stop.set()
                    await asyncio.wait_for(server, 5)
                    with pytest.raises((StopAsyncIteration, httpx.RemoteProtocolError)):
                        while True:
                            await reader.next()

    run(scenario)


def test_health_and_metrics(private_mosquitto: MosquittoBroker, tmp_path: Path) -> None:
    async def scenario() -> None:
        async with running_api(example_venue(private_mosquitto.url, tmp_path)) as api:
            health = await api.client.get("/healthz")
            assert health.status_code == 200
            body = health.json()
            assert body["status"] == "ok"
            assert body["mqtt"] == "connected"
            assert body["record_backlog"] >= 0
            assert body["uptime_s"] >= 0

            await wait_until(lambda: api.venue.service.stats.commands_sent > 0, what="the house profile applied")
            assert (await post(api, "/api/v1/checkins", {"member_id": "ana", "community_id": "book-club"})).is_success
            metrics = await api.client.get("/metrics")
            assert metrics.status_code == 200
            assert metrics.headers["content-type"].startswith("text/plain")
            values = {
                line.rsplit(" ", 1)[0]: float(line.rsplit(" ", 1)[1])
                for line in metrics.text.splitlines()
                if line and not line.startswith("#")
            }
            assert values["ambience_checkins_total"] == 1
            assert values["ambience_commands_sent_total"] >= 1
            assert values["ambience_events_written_total"] >= 1
            assert values["ambience_record_backlog"] >= 0
            assert values['ambience_members_present{community="book-club"}'] == 1
            assert values["ambience_headcount"] == 1
            assert values["ambience_devices"] == 7
            assert values["ambience_devices_online"] == 7
            assert values["ambience_mqtt_connected"] == 1
            assert "ambience_commands_deferred_total" in values
            assert "ambience_inputs_rejected_total" in values
            assert "ambience_mqtt_messages_total" in values
            assert "# HELP ambience_checkins_total" in metrics.text

    run(scenario)


def test_an_admin_forces_a_profile_and_lets_the_room_go_back(
    private_mosquitto: MosquittoBroker, tmp_path: Path
) -> None:
    async def scenario() -> None:
        async with running_api(example_venue(private_mosquitto.url, tmp_path)) as api:
            for member in ("ana", "ben"):
                assert (
                    await post(api, "/api/v1/checkins", {"member_id": member, "community_id": "book-club"})
                ).is_success
            await wait_until(lambda: api.venue.device("lounge-speaker")["playlist"] == "quiet-piano", what="book-club")
            assert (await api.admin("GET", "/api/v1/forced-profile")).json() == {"community_id": None}

            forced = await api.admin("PUT", "/api/v1/forced-profile", json={"community_id": "spicy-tech-gossip"})
            assert forced.status_code == 200 and forced.json() == {"community_id": "spicy-tech-gossip"}
            await wait_until(lambda: api.venue.device("lounge-speaker")["playlist"] == "lofi-gossip", what="forced")
            state = (await api.admin("GET", "/api/v1/state")).json()
            assert (state["source"], state["forced"], state["active_profile"]) == (
                "forced",
                "spicy-tech-gossip",
                "spicy-tech-gossip",
            )
            assert state["present"] == {"book-club": ["ana", "ben"]}

            unknown = await api.admin("PUT", "/api/v1/forced-profile", json={"community_id": "karaoke"})
            assert unknown.status_code == 422
            assert unknown.json()["detail"] == [{"path": "community_id", "message": "no profile for 'karaoke'"}]
            misspelt = await api.admin("PUT", "/api/v1/forced-profile", json={"community": "house"})
            assert misspelt.status_code == 422
            assert (await api.admin("GET", "/api/v1/forced-profile")).json() == {"community_id": "spicy-tech-gossip"}
            no_token = await api.client.put("/api/v1/forced-profile", json={"community_id": None})
            assert no_token.status_code == 401

            back = await api.admin("PUT", "/api/v1/forced-profile", json={"community_id": None})
            assert back.json() == {"community_id": None}
            await wait_until(lambda: api.venue.device("lounge-speaker")["playlist"] == "quiet-piano", what="back")
            assert [(e.payload["community_id"], e.payload["source"]) for e in api.venue.events("profile_forced")] == [
                ("spicy-tech-gossip", "http"),
                (None, "http"),
            ]

    run(scenario)
