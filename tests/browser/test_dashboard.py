"""The dashboard in a real headless Chromium (Debian's), against a real venue: service, Mosquitto, simulated devices.

Playwright's sync API drives the browser from the test's thread; the venue and its API run in a thread of their own
with their own event loop (the sync API refuses to run inside one). Every wait is bounded.

The page's slow safety re-read is turned off (`window.ambienceSafetyRefreshMs = 0`) and the page does not re-read
after its own check-ins, so a tile that changes after a check-in was changed by the event stream.
"""

from __future__ import annotations

import asyncio
import json
import os
import secrets
import shutil
import threading
import time
import urllib.error
import urllib.request
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest

from controller.cli.broker import MosquittoBroker, free_port
from testkit.waiting import wait_until_sync
from tests.integration.harness import Venue, example_venue, running_venue

pytestmark = pytest.mark.integration

CHROMIUM = "/usr/bin/chromium"
CHROMIUM_FLAGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]
LAMP = "lounge-lamp-1"
SHOT = Path("/tmp/ambience-dashboard.png")
SHOT_ERRORS = Path("/tmp/ambience-dashboard-profile-error.png")


@dataclass
class LiveVenue:
    """A running venue with its API on loopback, in a thread with its own loop."""

    url: str
    token: str
    venue: Venue | None = None
    errors: list[BaseException] = field(default_factory=list)

    def get(self, path: str) -> Any:
        request = urllib.request.Request(self.url + path, headers={"Authorization": f"Bearer {self.token}"})
        with urllib.request.urlopen(request, timeout=5) as response:
            return json.load(response)

    def send(self, method: str, path: str, body: Any, **headers: str) -> int:
        request = urllib.request.Request(
            self.url + path,
            data=json.dumps(body).encode(),
            method=method,
            headers={"Authorization": f"Bearer {self.token}", "Content-Type": "application/json", **headers},
        )
        with urllib.request.urlopen(request, timeout=5) as response:
            status: int = response.status
            return status

    def device(self, device_id: str) -> dict[str, Any]:
        return next(d for d in self.get("/api/v1/devices") if d["id"] == device_id)


@contextmanager
def venue_with_api(mosquitto: MosquittoBroker, tmp_path: Path) -> Iterator[LiveVenue]:
    from api.server import serve

    port = free_port()
    live = LiveVenue(f"http://127.0.0.1:{port}", secrets.token_urlsafe(24))
    config = example_venue(mosquitto.url, tmp_path)
    started = threading.Event()
    loop_box: dict[str, Any] = {}

    async def main() -> None:
        stop = asyncio.Event()
        loop_box["loop"], loop_box["stop"] = asyncio.get_running_loop(), stop
        async with running_venue(config) as venue:
            live.venue = venue
            started.set()
            await serve(venue.service, "127.0.0.1", port, live.token, stop)

    def run() -> None:
        try:
            asyncio.run(main())
        except BaseException as exc:
            live.errors.append(exc)
        finally:
            started.set()

    thread = threading.Thread(target=run, name="venue", daemon=True)
    thread.start()
    try:
        assert started.wait(30), "the venue did not start"
        if live.errors:
            raise live.errors[0]

        def healthy() -> bool:
            if live.errors:
                raise live.errors[0]
            try:
                with urllib.request.urlopen(live.url + "/healthz", timeout=2) as response:
                    return bool(response.status == 200)
            except (urllib.error.URLError, ConnectionError):
                return False

        wait_until_sync(healthy, 15, "the API to answer /healthz")
        yield live
    finally:
        if "loop" in loop_box:
            loop_box["loop"].call_soon_threadsafe(loop_box["stop"].set)
        thread.join(20)
        assert not thread.is_alive(), "the venue thread did not stop"
    assert not live.errors, f"the venue thread failed: {live.errors[0]!r}"


@pytest.fixture
def chromium() -> str:
    if shutil.which(CHROMIUM) is None:
        if os.environ.get("CI"):
            pytest.fail(f"{CHROMIUM} is not installed; scripts/bootstrap.sh --test installs Debian's chromium")
        pytest.skip(f"{CHROMIUM} is not installed (Debian's chromium package)")
    return CHROMIUM


def test_dashboard_follows_the_room_live(
    mosquitto: MosquittoBroker, tmp_path: Path, chromium: str, capsys: pytest.CaptureFixture[str]
) -> None:
    from playwright.sync_api import ConsoleMessage, expect, sync_playwright

    expect.set_options(timeout=10_000)
    with venue_with_api(mosquitto, tmp_path) as live, sync_playwright() as p:
        # A fresh profile folder of the test's own (Playwright passes it as --user-data-dir).
        browser = p.chromium.launch_persistent_context(
            tmp_path / "chromium-profile",
            executable_path=chromium,
            args=CHROMIUM_FLAGS,
            headless=True,
            viewport={"width": 1280, "height": 900},
            timeout=20_000,
        )
        try:
            page = browser.new_page()
            page.set_default_timeout(10_000)
            problems: list[str] = []

            def on_console(msg: ConsoleMessage) -> None:
                # Chromium logs every 4xx answer; the wrong token (401) and the refused saves (412, 422) are expected.
                expected = any(f"the server responded with a status of {code}" in msg.text for code in (401, 412, 422))
                if msg.type in ("error", "warning") and not expected:
                    problems.append(f"console {msg.type}: {msg.text}")

            resumed_from: list[str | None] = []  # the Last-Event-ID of each request for the event stream
            page.on(
                "request",
                lambda r: resumed_from.append(r.headers.get("last-event-id")) if "/events/stream" in r.url else None,
            )
            page.on("pageerror", lambda exc: problems.append(f"page error: {exc}"))
            page.on("console", on_console)
            # Prove the stream: no slow safety re-read, so only the event stream can update a tile after start.
            page.add_init_script("window.ambienceSafetyRefreshMs = 0;")
            page.goto(live.url + "/")

            # Sign in: a wrong token is refused, the admin token is accepted.
            expect(page.locator("#token-dialog")).to_be_visible()
            page.fill("#token-input", "not-the-token")
            page.click("#token-submit")
            expect(page.locator("#token-error")).to_contain_text("not accepted")
            page.fill("#token-input", live.token)
            page.click("#token-submit")
            expect(page.locator("#token-dialog")).to_be_hidden()
            assert page.evaluate("localStorage.getItem('ambience.token')") == live.token

            # Every device of examples/venue.yaml as a tile; the stream is live.
            tiles = page.locator("[data-device-id]")
            expect(tiles).to_have_count(7)
            expect(page.locator("#connection")).to_have_attribute("data-state", "live")
            expect(page.locator("#venue-name")).to_have_attribute("data-venue", live.get("/api/v1/state")["venue"])

            # The house profile (60 %, 3000 K) is what the lamp reports before anyone is here.
            lamp = page.locator(f'[data-device-id="{LAMP}"]')

            def lamp_reports(brightness: float, kelvin: float) -> str | None:
                reported = live.device(LAMP)["reported"] or {}
                ok = (
                    reported.get("on")
                    and abs(reported.get("brightness", -1) - brightness) < 1
                    and abs(reported.get("color_temp_k", -1) - kelvin) < 30
                )
                return str(reported["color_hex"]) if ok else None

            house_hex = wait_until_sync(lambda: lamp_reports(60, 3000), 15, "the lamp to report the house profile")
            expect(page.locator("#active-profile")).to_have_attribute("data-profile", "house")
            expect(lamp).to_have_attribute("data-color", house_hex)
            expect(lamp).to_have_attribute("data-online", "true")
            expect(lamp.locator(".swatch")).to_have_css("background-color", _rgb(house_hex))

            # Two book-club members check in from the page's form (book-club's quorum is 2).
            for member in ("reader-1", "reader-2"):
                page.fill("#member-id", member)
                page.select_option("#community-select", "book-club")
                page.click("#checkin-button")
                expect(page.locator("#checkin-result")).to_have_text(f"{member} checked in (book-club).")

            # The lamp turns to book-club's 80 %, 2700 K; the tile follows, driven by the event stream.
            club_hex = wait_until_sync(lambda: lamp_reports(80, 2700), 15, "the lamp to report book-club's profile")
            assert club_hex != house_hex
            expect(lamp).to_have_attribute("data-color", club_hex)
            assert lamp.get_attribute("data-color") == live.device(LAMP)["reported"]["color_hex"]
            expect(lamp.locator(".swatch")).to_have_css("background-color", _rgb(club_hex))
            # In sync by the server's own judgement (`in_sync`), so no "differs" badge.
            expect(lamp).to_have_attribute("data-sync", "true")
            expect(lamp.locator(".badge.drift")).to_be_hidden()
            expect(page.locator("#active-profile")).to_have_attribute("data-profile", "book-club")
            club = page.locator('#presence li[data-community="book-club"]')
            expect(club).to_have_attribute("data-count", "2")
            expect(club.locator("[data-member-id] .member-name")).to_have_text(["reader-1", "reader-2"])

            # The event log shows the check-ins, newest first.
            checkins = page.locator('#event-log li[data-event-type="checkin"] .text')
            expect(checkins).to_have_count(2)
            expect(checkins.nth(0)).to_contain_text("reader-2 checked in to book-club")
            expect(checkins.nth(1)).to_contain_text("reader-1 checked in to book-club")
            expect(page.locator('#event-log li[data-event-type="device_state"]')).to_have_count(0)
            page.check("#log-traffic")  # commands and device reports too, on request
            expect(
                page.locator('#event-log li[data-event-type="device_state"]', has_text=f"{LAMP} reports").first
            ).to_contain_text("on · 80 % · 2700 K")
            page.uncheck("#log-traffic")

            # An invalid profile edit: the server's field error is shown, and its line is marked in the editor.
            page.select_option("#profile-community", "book-club")
            page.click("#profile-load")
            editor = page.locator("#profile-text")
            expect(editor).to_be_enabled()
            expect(editor).to_have_value(_contains('"community_id": "book-club"'))
            profile = json.loads(editor.input_value())
            # Text that is not JSON is refused before anything is sent, and the line where it stops being JSON is
            # marked (Chromium's message names no position for an unexpected token: the page finds the line).
            broken = editor.input_value().replace('"book-club",', "book-club,", 1)
            editor.fill(broken)
            page.click("#profile-save")
            broken_line = next(i for i, line in enumerate(broken.splitlines(), 1) if " book-club," in line)
            expect(page.locator("#profile-errors li")).to_have_attribute("data-path", f"line {broken_line}")
            expect(page.locator("#profile-backdrop .bad")).to_have_attribute("data-line", str(broken_line))
            expect(page.locator("#profile-status")).to_contain_text("not valid JSON")
            profile["lighting"]["brightness"] = 140
            edited = json.dumps(profile, indent=2)
            editor.fill(edited)
            page.click("#profile-save")
            error = page.locator('#profile-errors li[data-path="lighting.brightness"]')
            expect(error).to_have_text("lighting.brightness: must be <= 100")
            bad_line = next(i for i, line in enumerate(edited.splitlines(), 1) if '"brightness": 140' in line)
            expect(page.locator("#profile-backdrop .bad")).to_have_attribute("data-line", str(bad_line))
            expect(page.locator("#profile-status")).to_contain_text("Not saved")
            editor.scroll_into_view_if_needed()
            page.screenshot(path=str(tmp_path / "dashboard-profile-error.png"))
            shutil.copyfile(tmp_path / "dashboard-profile-error.png", SHOT_ERRORS)
            assert live.device(LAMP)["desired"]["brightness"] == 80, "a refused profile changed the room"

            # Meanwhile someone else saves book-club: the stream tells the page, and a save is refused (412) rather
            # than overwriting their version; reloading shows theirs.
            etag = page.locator("#profile-etag").get_attribute("data-etag")
            assert etag
            theirs = live.get("/api/v1/communities/book-club/profile")
            theirs["name"] = "Reading hour, edited at the bar"
            assert live.send("PUT", "/api/v1/communities/book-club/profile", theirs, **{"If-Match": etag}) == 200
            expect(page.locator("#profile-status")).to_contain_text("changed elsewhere")
            profile["lighting"]["brightness"] = 90
            editor.fill(json.dumps(profile, indent=2))
            page.click("#profile-save")
            expect(page.locator("#profile-conflict")).to_be_visible()
            expect(page.locator("#profile-status")).to_contain_text("someone else changed this profile")
            page.click("#profile-reload")
            expect(editor).to_have_value(_contains("edited at the bar"))
            expect(page.locator("#profile-conflict")).to_be_hidden()
            expect(page.locator("#profile-errors li")).to_have_count(0)

            # A device goes offline: its tile is greyed and says so.
            assert live.venue is not None
            live.venue.sim.devices["diffuser"].stop()
            diffuser = page.locator('[data-device-id="diffuser"]')
            expect(diffuser).to_have_attribute("data-online", "false")
            expect(diffuser.locator(".badge.offline")).to_have_text("offline")
            expect(diffuser.locator(".swatch")).to_have_css("filter", "grayscale(1)")
            expect(page.locator('#event-log li[data-event-type="device_offline"]')).to_contain_text(
                "diffuser went offline"
            )

            # The connection drops: the page says so, reconnects with back-off, and resumes after the last event it
            # saw (Last-Event-ID), so a check-in made while it was away still reaches its log.
            browser.set_offline(True)
            expect(page.locator("#connection")).not_to_have_attribute("data-state", "live")
            assert live.send("POST", "/api/v1/checkins", {"member_id": "walk-in", "community_id": "house"}) == 201
            time.sleep(0.5)  # the check-in is in the record while the page cannot reach the stream
            streams_before = len(resumed_from)
            browser.set_offline(False)
            expect(page.locator("#connection")).to_have_attribute("data-state", "live")
            last_seen = resumed_from[-1]
            assert len(resumed_from) > streams_before and last_seen is not None and int(last_seen) > 0
            expect(page.locator('#event-log li[data-event-type="checkin"]').first).to_contain_text(
                "walk-in checked in to house"
            )
            expect(page.locator('#presence li[data-community="house"]')).to_have_attribute("data-count", "1")

            page.evaluate("window.scrollTo(0, 0)")
            shot = tmp_path / "dashboard.png"
            page.screenshot(path=str(shot), full_page=True)
            shutil.copyfile(shot, SHOT)
            with capsys.disabled():
                print(f"\ndashboard screenshots: {shot} (copied to {SHOT}), {SHOT_ERRORS}")
            assert not problems, problems

            # A member leaves from the page (x on their chip): book-club is below its quorum, the house mood returns.
            page.click('[data-member-id="reader-2"] button')
            expect(club).to_have_attribute("data-count", "1")
            wait_until_sync(lambda: lamp_reports(60, 3000), 15, "the lamp to report the house profile again")
            expect(lamp).to_have_attribute("data-color", house_hex)

            # Sign out: the token is forgotten and asked for again.
            page.click("#sign-out")
            expect(page.locator("#token-dialog")).to_be_visible()
            assert page.evaluate("localStorage.getItem('ambience.token')") is None
        finally:
            browser.close()


def _rgb(hex_color: str) -> str:
    """'#rrggbb' as the computed style writes it."""
    r, g, b = (int(hex_color[i : i + 2], 16) for i in (1, 3, 5))
    return f"rgb({r}, {g}, {b})"


def _contains(text: str) -> Any:
    import re

    return re.compile(re.escape(text))
