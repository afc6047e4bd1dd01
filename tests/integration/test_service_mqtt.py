"""The service's MQTT behaviour: coalescing bursts, the retained status with last will, surviving a broker restart."""

from __future__ import annotations

import asyncio
import itertools
import os
import signal
import subprocess
import sys
from datetime import timedelta
from pathlib import Path

import pytest
import yaml

from controller.cli.broker import MosquittoBroker, free_port
from testkit.mqtt_clients import Observer
from testkit.waiting import wait_until
from tests.integration.harness import EXAMPLES, example_venue, run, running_venue

pytestmark = pytest.mark.integration


def test_a_burst_of_checkins_sends_at_most_one_command_per_device_per_window(
    mosquitto: MosquittoBroker, tmp_path: Path
) -> None:
    window = 0.25

    async def scenario() -> None:
        async with running_venue(example_venue(mosquitto.url, tmp_path), coalesce_window_s=window) as v:
            await wait_until(lambda: v.device("lounge-speaker")["playlist"] == "house-jazz", what="house profile")
            first_burst_event = v.service.record.committed_id if v.service.record else 0
            # 30 check-ins as fast as a kiosk can publish: the room flips between communities many times.
            for i in range(15):
                v.kiosk.checkin(f"b{i}", "book-club")
                v.kiosk.checkin(f"s{i}", "spicy-tech-gossip")
            await wait_until(lambda: len(v.events("checkin")) == 30, what="every check-in recorded")
            # 15 vs 15: tie -> book-club, eligible first. Latest state wins: the room ends in book-club's mood
            # (with occupancy: nothing in book-club's profile depends on it).
            await wait_until(lambda: v.device("diffuser")["scent"] == "lavender", what="final state: book-club")
            await wait_until(lambda: v.device("lounge-lamp-1")["brightness"] == round(80 * 2.54), what="lamp")
            sent = [e for e in v.events("command_sent") if e.id > first_burst_event]
            assert sent, "the burst sent commands"
            by_device: dict[str, list[float]] = {}
            for event in sent:
                by_device.setdefault(event.payload["device_id"], []).append(event.ts.timestamp())
            for device, times in by_device.items():
                gaps = [b - a for a, b in itertools.pairwise(times)]
                assert all(gap >= window * 0.95 for gap in gaps), f"{device} got commands {gaps} s apart"
            assert v.service.stats.commands_deferred > 0  # the burst really was coalesced

    run(scenario)


def test_status_is_retained_online_and_the_last_will_says_offline_when_the_service_dies(
    mosquitto: MosquittoBroker, tmp_path: Path
) -> None:
    venue = example_venue(mosquitto.url, tmp_path)
    config = yaml.safe_load((EXAMPLES / "venue.yaml").read_text())
    config["venue"]["id"] = venue.venue.id
    config["mqtt"] = {"url": mosquitto.url, "base_topic": venue.mqtt.base_topic}
    config["store"]["path"] = str(tmp_path / "ambience.db")
    config["api"]["port"] = free_port()
    config["profiles_dir"] = str(EXAMPLES / "profiles")
    path = tmp_path / "venue.yaml"
    path.write_text(yaml.safe_dump(config))
    status = f"ambience/{venue.venue.id}/status"
    listener = Observer(mosquitto.url, [status])
    proc = subprocess.Popen(
        [sys.executable, "-m", "controller", "run", "--config", str(path)],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    try:

        async def online() -> None:
            await wait_until(lambda: listener.last.get(status) == b"online", what="status online")

        run(online)
        os.kill(proc.pid, signal.SIGKILL)  # no goodbye: only the broker's last will can tell
        proc.wait(10)

        async def offline() -> None:
            await wait_until(lambda: listener.last.get(status) == b"offline", what="last will: offline")

        run(offline)
        late = Observer(mosquitto.url, [status])  # a client that connects later still sees it (retained)

        async def retained() -> None:
            await wait_until(lambda: late.last.get(status) == b"offline", what="retained offline")

        run(retained)
        late.close()
    finally:
        if proc.poll() is None:
            proc.kill()
        listener.close()


def test_the_service_reconnects_after_a_broker_restart_and_keeps_working(
    private_mosquitto: MosquittoBroker, tmp_path: Path
) -> None:
    broker = private_mosquitto

    async def scenario() -> None:
        config = example_venue(broker.url, tmp_path)
        async with running_venue(config, max_reconnect_delay_s=2) as v:
            status = f"ambience/{config.venue.id}/status"
            await wait_until(lambda: v.listener.last.get(status) == b"online", what="birth message")
            births_before = v.listener.messages(status).count(b"online")
            await asyncio.to_thread(broker.stop)
            await wait_until(lambda: v.service.bus is not None and not v.service.bus.connected, what="disconnect seen")
            await asyncio.sleep(1.0)
            await asyncio.to_thread(broker.start)
            await wait_until(
                lambda: v.service.bus is not None and v.service.bus.connected, timeout_s=15, what="service reconnected"
            )
            # The birth message is published again on the new connection (the listener reconnects by itself).
            await wait_until(
                lambda: v.listener.messages(status).count(b"online") > births_before,
                timeout_s=15,
                what="birth message after reconnect",
            )
            await wait_until(
                lambda: all(d.connected for d in v.sim.devices.values()), timeout_s=15, what="devices reconnected"
            )
            # Subscriptions were restored: a kiosk check-in after the restart still changes the room.
            for member in ("ana", "ben"):
                v.kiosk.checkin(member, "book-club")
            await wait_until(
                lambda: v.device("diffuser")["scent"] == "lavender",
                timeout_s=15,
                what="check-in handled after the broker restart",
            )

    run(scenario)


def test_checkins_expire_after_the_venue_ttl(mosquitto: MosquittoBroker, tmp_path: Path) -> None:
    """A member who never checks out leaves after checkin_ttl_hours (venue time here runs on a test clock)."""
    from datetime import UTC, datetime

    offset = [timedelta(0)]

    def clock() -> datetime:
        return datetime.now(UTC) + offset[0]

    async def scenario() -> None:
        async with running_venue(example_venue(mosquitto.url, tmp_path), clock=clock, tick_s=0.1) as v:
            for member in ("ana", "ben"):
                v.kiosk.checkin(member, "book-club")
            await wait_until(lambda: v.device("diffuser")["scent"] == "lavender", what="book-club's room")
            offset[0] = timedelta(hours=6, minutes=1)  # the example venue's ttl is 6 h
            await wait_until(lambda: len(v.events("checkin_expired")) == 2, what="both check-ins expired")
            await wait_until(lambda: v.device("diffuser")["scent"] == "white-tea", what="back to the house profile")
            assert v.service.state.presence.total == 0

    run(scenario)


def test_a_held_command_goes_out_when_its_window_ends_not_at_the_next_tick(
    mosquitto: MosquittoBroker, tmp_path: Path
) -> None:
    """Leading edge: the first change goes out at once; one that follows inside the window goes out at its end."""

    async def scenario() -> None:
        async with running_venue(example_venue(mosquitto.url, tmp_path), tick_s=5.0, coalesce_window_s=0.25) as v:
            await wait_until(lambda: v.device("diffuser")["scent"] == "white-tea", what="house profile")
            for cycle in range(3):  # each cycle: two changes inside one window, the second must not wait 5 s
                for member in ("ana", "ben"):
                    v.kiosk.checkin(f"{member}{cycle}", "book-club")
                await wait_until(lambda: v.device("diffuser")["scent"] == "lavender", timeout_s=2.0, what="book-club")
                v.kiosk.checkout(f"ana{cycle}")
                v.kiosk.checkout(f"ben{cycle}")
                await wait_until(lambda: v.device("diffuser")["scent"] == "white-tea", timeout_s=2.0, what="house")

    run(scenario)


def test_a_change_made_at_the_device_is_respected_for_override_minutes_then_reasserted(
    mosquitto: MosquittoBroker, tmp_path: Path
) -> None:
    config = example_venue(mosquitto.url, tmp_path)
    config = config.model_copy(update={"policy": config.policy.model_copy(update={"override_minutes": 0.05})})

    async def scenario() -> None:
        async with running_venue(config) as v:
            for member in ("ana", "ben"):
                v.kiosk.checkin(member, "book-club")
            wanted = round(80 * 2.54)
            await wait_until(lambda: v.device("lounge-lamp-1")["brightness"] == wanted, what="book-club's lamp")
            await asyncio.sleep(0.5)  # every echo of ours is in: what follows is a person at the wall switch
            v.sim.devices["lounge-lamp-1"].manual_change({"brightness": 100})
            [override] = await wait_until(lambda: v.events("manual_override"), what="the override recorded")
            assert override.payload["device_id"] == "lounge-lamp-1"
            assert override.payload["changed"] == {"brightness": round(100 / 2.54, 2)}
            assert v.service.record is not None and "lounge-lamp-1" in v.service.record.state("overrides")
            # Respected: for the override's 3 s the controller sends the lamp nothing...
            await asyncio.sleep(1.5)
            assert v.device("lounge-lamp-1")["brightness"] == 100
            assert not [
                e for e in v.events("command_sent") if e.id > override.id and e.payload["device_id"] == "lounge-lamp-1"
            ]
            # ...then it reasserts the community's light.
            await wait_until(lambda: v.device("lounge-lamp-1")["brightness"] == wanted, timeout_s=8, what="reassert")

    run(scenario)
