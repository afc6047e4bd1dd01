"""Fault survival against real processes on loopback: the service killed with SIGKILL mid-evening and restarted,
Mosquitto restarted (with and without its persistence), victoria-metrics (the InfluxDB-protocol server) stopped
for an outage, the service restarted while a person's override lasts, a device that keeps losing power.

What a venue relies on (DESIGN.md, docs/contract.md §4 and §6): a kiosk's QoS 1 check-in is never lost (persistent
session, acknowledged only after it is in the record), every event in the SQLite record reaches the time-series
server, the room ends in the mood of who is there, a person's change survives a restart, and a flapping device is
not flooded with commands.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import os
import signal
import sqlite3
import subprocess
import sys
import threading
import time
import uuid
from collections import Counter
from collections.abc import AsyncIterator, Callable, Coroutine, Iterator
from contextlib import asynccontextmanager
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import psutil
import pytest
import yaml

from controller.cli.broker import MosquittoBroker, die_with_parent, free_port
from controller.core import messages
from controller.shell.bus import BrokerAddress
from controller.shell.forwarder import InfluxForwarder
from controller.shell.record import EventRecord
from controller.shell.service import Service
from firmware_sim import SimulatedVenue
from firmware_sim.device import SimDevice
from profiles.loader import load_document, load_venue
from profiles.venue import InfluxSettings, VenueConfig
from testkit.mqtt_clients import Kiosk, Observer
from testkit.victoria import VictoriaMetrics
from testkit.waiting import wait_until, wait_until_sync
from tests.e2e.cli import alive, cli_env
from tests.integration.harness import EXAMPLES, example_venue, running_venue

pytestmark = pytest.mark.integration

LIGHTS = ("bar-pendant", "bar-strip", "lounge-lamp-1", "lounge-lamp-2")
BOOK_CLUB_BRIGHTNESS = round(80 * 2.54)  # book-club's 80 % on Zigbee2MQTT's 0-254 scale
HOUSE_BRIGHTNESS = round(60 * 2.54)


def book_club_room(sim: SimulatedVenue) -> bool:
    """Every device in book-club's mood (examples/profiles/book-club.yaml, the reading hour)."""
    states = {device_id: device.state for device_id, device in sim.devices.items()}
    lights_ok = all(
        states[d]["state"] == "ON"
        and states[d]["brightness"] == BOOK_CLUB_BRIGHTNESS
        and states[d]["color_temp"] == 370
        for d in LIGHTS
    )
    hvac, speaker, diffuser = states["hvac"], states["lounge-speaker"], states["diffuser"]
    return (
        lights_ok
        and hvac["current_heating_setpoint"] == 22
        and hvac["system_mode"] == "heat"  # book-club asks auto; the TV02 valve has off and heat
        and (speaker["state"], speaker["playlist"], speaker["volume"]) == ("PLAY", "quiet-piano", 15)
        and (diffuser["state"], diffuser["scent"], diffuser["intensity"]) == ("ON", "lavender", 40)
    )


HANG_HINT = "a service that does not stop is one known cause: see test_a_service_stops_even_when_woken_as_it_is_stopped"


def run(scenario: Callable[[], Coroutine[Any, Any, None]], timeout_s: float = 30.0) -> None:
    """Run an in-process scenario, bounded: one that hangs fails the test instead of blocking the whole run."""

    async def bounded() -> None:
        limit = asyncio.timeout(timeout_s)
        try:
            async with limit:
                await scenario()
        except TimeoutError:
            if not limit.expired():
                raise
        # Also when the scenario ended "normally" after the limit: Service.__aexit__ swallows the cancellation
        # that the limit sends while it waits for its tasks (contextlib.suppress(CancelledError) around them).
        if limit.expired():
            raise AssertionError(f"the scenario did not end within {timeout_s} s; {HANG_HINT}")

    asyncio.run(bounded())


# -- the real processes and what a test reads from them -------------------------------------------------------------


def write_venue_file(folder: Path, broker_url: str, *, influx_url: str | None = None) -> Path:
    """examples/venue.yaml with its own venue id, base topic, record and API port, seeded from examples/profiles."""
    data = load_document(EXAMPLES / "venue.yaml")
    tag = uuid.uuid4().hex[:8]
    data["venue"]["id"] = f"survival-{tag}"
    data["mqtt"]["url"] = broker_url
    data["mqtt"]["base_topic"] = f"z2m-survival-{tag}"
    data["store"]["path"] = str(folder / "data" / "ambience.db")
    data["profiles_dir"] = str(EXAMPLES / "profiles")
    data["api"]["port"] = free_port()
    data["influx"]["url"] = influx_url
    path = folder / "venue.yaml"
    path.write_text(yaml.safe_dump(data, sort_keys=False))
    return path


class ServiceProcess:
    """`ambience run --config FILE` in a process group of its own, so that the whole group can be killed at once."""

    def __init__(self, config: Path, workdir: Path, name: str) -> None:
        self.name = name
        self.err_path = workdir / f"{name}.stderr"
        with (workdir / f"{name}.stdout").open("wb") as out, self.err_path.open("wb") as err:
            self.popen = subprocess.Popen(
                [sys.executable, "-m", "controller", "run", "--config", str(config)],
                cwd=workdir,
                env=cli_env(workdir),
                stdin=subprocess.DEVNULL,
                stdout=out,
                stderr=err,
                start_new_session=True,  # its own process group (and session): killpg reaches every child
                preexec_fn=die_with_parent,  # noqa: PLW1509 - one prctl call; the test thread outlives it
            )
        self.pgid = self.popen.pid
        self.seen: dict[int, psutil.Process] = {}

    @property
    def stderr(self) -> str:
        return self.err_path.read_text(errors="replace")

    def describe(self) -> str:
        return f"{self.name}: exit {self.popen.poll()}\nstderr:\n{self.stderr[-4000:]}"

    def running(self) -> bool:
        return self.popen.poll() is None

    def failed(self) -> bool:
        """A service that exits at all while a test waits on it has failed (testkit.waiting.Watched)."""
        return not self.running()

    def group(self) -> list[psutil.Process]:
        """The service and every descendant, now; each is remembered for `survivors()`."""
        try:
            parent = psutil.Process(self.popen.pid)
            found = [parent, *parent.children(recursive=True)]
        except psutil.NoSuchProcess:
            found = []
        for process in found:
            self.seen.setdefault(process.pid, process)
        return found

    def survivors(self) -> list[psutil.Process]:
        """Processes seen in the service's tree, or still in its process group, that are alive."""
        found = [p for p in self.seen.values() if alive(p)]
        for process in psutil.process_iter():
            with contextlib.suppress(psutil.Error, ProcessLookupError):
                if os.getpgid(process.pid) == self.pgid and alive(process) and process not in found:
                    found.append(process)
        return found

    def signal_group(self, sig: signal.Signals) -> None:
        self.group()
        os.killpg(self.pgid, sig)

    def kill(self) -> None:
        """SIGKILL to the whole group: no goodbye, no flush, no clean disconnect."""
        self.signal_group(signal.SIGKILL)
        self.popen.wait(10)

    def terminate(self, timeout_s: float = 10.0) -> int:
        self.popen.send_signal(signal.SIGTERM)
        try:
            return self.popen.wait(timeout_s)
        except subprocess.TimeoutExpired:
            raise AssertionError(f"{self.name} still running {timeout_s} s after SIGTERM; {HANG_HINT}") from None

    def close(self) -> None:
        """Whatever happened in the test: nothing of it is left running (only its own group, by id)."""
        if self.running():
            with contextlib.suppress(ProcessLookupError):
                os.killpg(self.pgid, signal.SIGCONT)  # a paused service must be able to die
            self.popen.terminate()
            try:
                self.popen.wait(5)
            except subprocess.TimeoutExpired:
                self.popen.kill()
                self.popen.wait(5)
        for process in self.survivors():
            with contextlib.suppress(psutil.NoSuchProcess):
                process.kill()


@contextlib.contextmanager
def service_process(config: Path, workdir: Path, name: str) -> Iterator[ServiceProcess]:
    proc = ServiceProcess(config, workdir, name)
    try:
        yield proc
    finally:
        proc.close()


@dataclass(frozen=True)
class Row:
    id: int
    ts: datetime
    type: str
    payload: dict[str, Any]


def read_record(db: Path, type_: str | None = None) -> list[Row]:
    """The committed event record, read as any other program reads the SQLite file (the service may be running)."""
    conn = sqlite3.connect(db, timeout=10)
    try:
        sql = "SELECT id, ts, type, payload FROM events"
        rows = conn.execute(
            sql + " WHERE type = ? ORDER BY id" if type_ else sql + " ORDER BY id", (type_,) if type_ else ()
        )
        return [Row(int(i), datetime.fromisoformat(t), k, json.loads(p)) for i, t, k, p in rows.fetchall()]
    finally:
        conn.close()


@contextlib.contextmanager
def write_locked(db: Path) -> Iterator[None]:
    """Hold the SQLite file's write lock (readers go on; a writer waits for its busy timeout)."""
    conn = sqlite3.connect(db, timeout=10, isolation_level=None)
    try:
        conn.execute("BEGIN IMMEDIATE")
        yield
        conn.execute("ROLLBACK")
    finally:
        conn.close()


def total(state: Any) -> int:
    """The headcount in a retained `ambience/<venue>/state` message (0 before there is one)."""
    return int(state.get("total", 0)) if isinstance(state, dict) else 0


def integrity(db: Path) -> str:
    conn = sqlite3.connect(db, timeout=10)
    try:
        return str(conn.execute("PRAGMA integrity_check").fetchone()[0])
    finally:
        conn.close()


class SteadyKiosk:
    """A kiosk checking members in at a steady pace from its own thread, QoS 1; a member counts as published once
    the broker has acknowledged it. Two of three go to book-club, one to spicy-tech-gossip."""

    def __init__(self, url: str, venue_id: str, every_s: float = 0.04) -> None:
        self.kiosk = Kiosk(url, venue_id)
        self.every_s = every_s
        self.published: list[tuple[str, str]] = []
        self.error: BaseException | None = None
        self._lock = threading.Lock()
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name="steady-kiosk", daemon=True)

    def start(self) -> None:
        self._thread.start()

    def _run(self) -> None:
        i = 0
        try:
            while not self._stop.wait(self.every_s):
                member, community = f"m{i:04d}", "spicy-tech-gossip" if i % 3 == 2 else "book-club"
                self.kiosk.checkin(member, community)
                with self._lock:
                    self.published.append((member, community))
                i += 1
        except BaseException as exc:  # surfaced by count() and stop(): a kiosk that silently stopped proves nothing
            self.error = exc

    def count(self) -> int:
        assert self.error is None, f"the kiosk failed: {self.error!r}"
        with self._lock:
            return len(self.published)

    def stop(self) -> list[tuple[str, str]]:
        if not self._stop.is_set():
            self._stop.set()
            if self._thread.is_alive():
                self._thread.join(10)
            self.kiosk.close()
        assert self.error is None, f"the kiosk failed: {self.error!r}"
        return list(self.published)


# -- 1. the service killed mid-evening, the time-series server away for part of it ---------------------------------


def test_a_service_killed_mid_evening_loses_no_checkin_and_no_event(
    mosquitto: MosquittoBroker, vm: VictoriaMetrics, tmp_path: Path
) -> None:
    config_path = write_venue_file(tmp_path, mosquitto.url, influx_url=vm.url)
    venue = load_venue(config_path)
    vid, db = venue.venue.id, Path(venue.store.path)
    status, state = f"ambience/{vid}/status", f"ambience/{vid}/state"
    sim = SimulatedVenue([d.model_dump() for d in venue.devices], mosquitto.url, venue.mqtt.base_topic)
    sim.start()
    listener = Observer(mosquitto.url, [status, state])
    kiosk = SteadyKiosk(mosquitto.url, vid)
    try:
        assert sim.wait_connected(10), "simulated devices did not connect"
        with service_process(config_path, tmp_path, "run-1") as first:
            wait_until_sync(lambda: listener.last.get(status) == b"online", 20, "the service online", first)
            speaker = sim.devices["lounge-speaker"]
            wait_until_sync(lambda: speaker.state["playlist"] == "house-jazz", 10, "the house profile applied", first)

            kiosk.start()
            wait_until_sync(lambda: len(read_record(db, "checkin")) >= 5, 10, "check-ins being recorded", first)
            vm.stop()  # the time-series server goes away while the evening goes on (its SIGTERM takes ~1.5 s)
            arrived = kiosk.count()
            wait_until_sync(lambda: kiosk.count() >= arrived + 10, 10, "more check-ins while the server is away", first)

            # The kill lands while check-ins are received but not yet stored: another program holds the record's
            # write lock, so they wait for their commit; they must not have been acknowledged to the broker.
            with write_locked(db):
                locked_at = kiosk.count()
                wait_until_sync(
                    lambda: total(listener.json(state)) >= locked_at + 3, 10, "check-ins seen, not stored", first
                )
                first.kill()
            assert first.survivors() == [], "a process of the killed service survived"
        # Only the broker can say so now: the last will.
        wait_until_sync(lambda: listener.last.get(status) == b"offline", 10, "the last will: offline")
        assert integrity(db) == "ok"
        before_kill = read_record(db)
        last_id_before = before_kill[-1].id
        published_at_kill = kiosk.count()
        wait_until_sync(
            lambda: kiosk.count() >= published_at_kill + 15, 10, "check-ins published while the service is dead"
        )

        with service_process(config_path, tmp_path, "run-2") as second:
            wait_until_sync(lambda: listener.last.get(status) == b"online", 20, "the restarted service online", second)
            restarted_at = kiosk.count()
            wait_until_sync(lambda: kiosk.count() >= restarted_at + 10, 10, "check-ins after the restart", second)
            vm.start()  # the server is back: what it missed follows from the record's cursor
            back_at = kiosk.count()
            wait_until_sync(lambda: kiosk.count() >= back_at + 10, 10, "check-ins after the server's return", second)
            published = kiosk.stop()

            # Every check-in the kiosk published is in the record, exactly once.
            members = {m for m, _ in published}
            assert len(members) == len(published)

            def recorded() -> Counter[str]:
                return Counter(r.payload["member_id"] for r in read_record(db, "checkin"))

            wait_until_sync(lambda: members <= set(recorded()), 20, "every published check-in in the record", second)
            counts = recorded()
            assert set(counts) == members, f"unexpected members {sorted(set(counts) - members)[:10]}"
            twice = [m for m, n in counts.items() if n != 1]
            assert not twice, f"recorded more than once: {twice[:10]}"
            for row in read_record(db, "checkin"):
                assert (row.payload["member_id"], row.payload["community_id"]) in published

            # The room is book-club's (two of three members), and the retained state says who is here.
            wait_until_sync(lambda: book_club_room(sim), 15, "every device in book-club's mood", second)
            per_community = Counter(c for _, c in published)

            def headcount() -> Any:
                current = listener.json(state) or {}
                return current.get("headcount") == dict(per_community) and current

            current = wait_until_sync(headcount, 10, "the retained state's headcount", second)
            assert current["active_profile"] == "book-club"

            # Every event in the record reached the time-series server: none lost through the kill or the outage.
            everything = read_record(db)
            ids = {row.id for row in everything}
            seen = vm.wait_for_ids(ids, timeout_s=30)
            assert ids <= seen, f"never forwarded: {sorted(ids - seen)[:20]}"

            # Event ids only grow: nothing after the restart reuses or precedes one committed before the kill.
            assert [r.id for r in everything[: len(before_kill)]] == [r.id for r in before_kill]
            after = [r.id for r in everything if r.id > last_id_before]
            assert after and len(after) == len(everything) - len(before_kill)
            assert len(ids) == len(everything)

            # A last member arrives just before closing time; the service is stopped as soon as it is recorded.
            closing = Kiosk(mosquitto.url, vid)
            try:
                closing.checkin("last-guest", "book-club")
            finally:
                closing.close()
            wait_until_sync(lambda: "last-guest" in recorded(), 10, "the last check-in recorded", second)
            assert second.terminate() == 0, second.describe()
            assert "Traceback" not in second.stderr, second.describe()
        assert integrity(db) == "ok"
        # After a clean stop too: what was recorded until the very end was forwarded before the service exited.
        final = {row.id for row in read_record(db)}
        seen = vm.wait_for_ids(final, timeout_s=10)
        assert final <= seen, f"left behind at the clean stop: {sorted(final - seen)[:20]}"
    finally:
        kiosk.stop()
        listener.close()
        sim.stop()


# -- 2. Mosquitto restarted: check-ins published while the service cannot receive them ------------------------------


def test_checkins_published_during_a_broker_restart_reach_a_service_that_reconnects_late(tmp_path: Path) -> None:
    """The broker is killed and restarted while the service is paused (SIGSTOP, so it cannot reconnect before the
    kiosk publishes): its persistent session, kept in the broker's persistence file, holds the check-ins for it."""
    broker = MosquittoBroker(tmp_path / "mosquitto", save_every_change=True)
    broker.start()
    config_path = write_venue_file(tmp_path, broker.url)
    venue = load_venue(config_path)
    vid, db = venue.venue.id, Path(venue.store.path)
    status, state = f"ambience/{vid}/status", f"ambience/{vid}/state"
    base = venue.mqtt.base_topic
    sim = SimulatedVenue([d.model_dump() for d in venue.devices], broker.url, base)
    sim.start()
    observers: list[Observer] = []
    try:
        assert sim.wait_connected(10), "simulated devices did not connect"
        first = Observer(broker.url, [status])  # before the service starts: its birth is then a live message
        observers.append(first)
        with service_process(config_path, tmp_path, "run") as service:
            wait_until_sync(lambda: b"online" in first.live(status), 20, "the service online", service)
            lamp = sim.devices["lounge-lamp-1"]
            wait_until_sync(
                lambda: lamp.state["brightness"] == HOUSE_BRIGHTNESS, 10, "the house profile applied", service
            )

            service.signal_group(signal.SIGSTOP)
            broker.kill()  # no goodbye from the broker either; its persistence file is all that is left
            broker.start()
            assert broker.port == BrokerAddress.parse(venue.mqtt.url).port, "the broker's port was taken; rerun"
            observer = Observer(broker.url, [status, state, f"{base}/lounge_lamp_1/set"])
            observers.append(observer)
            kiosk = Kiosk(broker.url, vid)
            try:
                kiosk.checkin("ana", "book-club")
                kiosk.checkin("ben", "book-club")
            finally:
                kiosk.close()
            assert not read_record(db, "checkin"), "the paused service cannot have seen them yet"
            service.signal_group(signal.SIGCONT)

            # It reconnects by itself, says `online` again (a live birth, not the retained one) ...
            wait_until_sync(lambda: b"online" in observer.live(status), 15, "a new birth message", service)
            # ... and the check-ins the broker kept for it turn the room to book-club.
            wait_until_sync(lambda: book_club_room(sim), 15, "book-club's room after the restart", service)
            wait_until_sync(
                lambda: observer.live(f"{base}/lounge_lamp_1/set"), 5, "the lamp's command on the broker", service
            )
            members = Counter(r.payload["member_id"] for r in read_record(db, "checkin"))
            assert members == {"ana": 1, "ben": 1}
            # A newcomer sees the current state, retained.
            retained_state = json.loads(listener_retained(broker.url, state) or b"{}")
            assert retained_state["headcount"] == {"book-club": 2}
            assert retained_state["active_profile"] == "book-club"

            # Live check-ins keep working on the new connection: spicy-tech-gossip takes over (3 against 2).
            kiosk = Kiosk(broker.url, vid)
            try:
                for member in ("cy", "di", "ed"):
                    kiosk.checkin(member, "spicy-tech-gossip")
            finally:
                kiosk.close()
            pendant = sim.devices["bar-pendant"]
            wait_until_sync(lambda: pendant.state["brightness"] == round(40 * 2.54), 15, "spicy's bar light", service)
            assert service.terminate() == 0, service.describe()
    finally:
        for observer in observers:
            observer.close()
        sim.stop()
        broker.stop()


def listener_retained(url: str, topic: str, timeout_s: float = 5.0) -> bytes | None:
    """What a client that subscribes now gets on `topic`: its retained message (None if there is none)."""
    listener = Observer(url, [topic])
    try:
        deadline = time.monotonic() + timeout_s
        while time.monotonic() < deadline:
            if (payload := listener.last.get(topic)) is not None:
                return payload
            time.sleep(0.02)
        return None
    finally:
        listener.close()


@asynccontextmanager
async def venue_devices(config: VenueConfig, *topics: str) -> AsyncIterator[tuple[SimulatedVenue, Observer]]:
    """The venue's simulated devices and a listener on `topics`, outliving the services a test starts and stops."""
    sim = SimulatedVenue([d.model_dump() for d in config.devices], config.mqtt.url, config.mqtt.base_topic)
    sim.start()
    listener: Observer | None = None
    try:
        assert await asyncio.to_thread(sim.wait_connected, 10), "simulated devices did not connect"
        listener = await asyncio.to_thread(Observer, config.mqtt.url, list(topics))
        yield sim, listener
    finally:
        if listener is not None:
            listener.close()
        await asyncio.to_thread(sim.stop)


async def connected(service: Service) -> None:
    assert service.bus is not None
    assert await service.bus.wait_connected(10), "the service did not connect"


def test_checkins_published_while_the_service_is_stopped_survive_a_broker_restart(tmp_path: Path) -> None:
    """The service is stopped, the broker killed and restarted, a kiosk publishes, then the service starts: the
    check-ins were kept for its persistent session (stable client id, clean session off) through the restart."""
    broker = MosquittoBroker(tmp_path / "mosquitto", save_every_change=True)
    broker.start()
    config = example_venue(broker.url, tmp_path)

    async def scenario() -> None:
        async with venue_devices(config, f"ambience/{config.venue.id}/#") as (sim, _):
            async with Service(config, max_reconnect_delay_s=2) as first:
                await connected(first)
                lamp = sim.devices["lounge-lamp-1"]
                await wait_until(lambda: lamp.state["brightness"] == HOUSE_BRIGHTNESS, what="the house profile")
            await asyncio.to_thread(broker.kill)
            await asyncio.to_thread(broker.start)
            kiosk = await asyncio.to_thread(Kiosk, broker.url, config.venue.id)
            try:
                for member in ("ana", "ben"):
                    await asyncio.to_thread(kiosk.checkin, member, "book-club")
            finally:
                await asyncio.to_thread(kiosk.close)
            await wait_until(lambda: all(d.connected for d in sim.devices.values()), 15, "devices reconnected")
            async with Service(config, max_reconnect_delay_s=2) as second:
                await connected(second)
                await wait_until(lambda: book_club_room(sim), 15, "book-club's room from the kept check-ins")
                assert second.record is not None and second.record.flush(5)
                members = Counter(e.payload["member_id"] for e in second.record.iter_all("checkin"))
                assert members == {"ana": 1, "ben": 1}

    try:
        run(scenario)
    finally:
        broker.stop()


def test_a_broker_that_lost_everything_gets_subscriptions_birth_and_retained_state_again(tmp_path: Path) -> None:
    """A Mosquitto replaced by an empty one (no persistence file, no sessions, no retained messages) on the same
    port: the service reconnects with back-off, subscribes again, says `online` and re-publishes its retained state;
    a kiosk check-in then changes the lights."""
    broker = MosquittoBroker(tmp_path / "mosquitto")
    broker.start()
    config = example_venue(broker.url, tmp_path)
    vid = config.venue.id
    status, state = f"ambience/{vid}/status", f"ambience/{vid}/state"
    replacement = MosquittoBroker(tmp_path / "mosquitto-new", port=broker.port)

    async def scenario() -> None:
        async with running_venue(config, max_reconnect_delay_s=2) as v:
            lamp = v.sim.devices["lounge-lamp-1"]
            await wait_until(lambda: lamp.state["brightness"] == HOUSE_BRIGHTNESS, what="the house profile")
            await wait_until(lambda: v.listener.json(state), what="the retained state")
            await asyncio.to_thread(broker.kill)
            await asyncio.to_thread(replacement.start)
            assert replacement.port == broker.port, "the port was taken meanwhile; rerun"
            await wait_until(lambda: v.service.bus is not None and v.service.bus.connected, 15, "service reconnected")
            # A newcomer sees the birth and the venue's state, retained on the new broker by the service itself.
            assert await asyncio.to_thread(listener_retained, replacement.url, status) == b"online"
            retained_state = await asyncio.to_thread(listener_retained, replacement.url, state)
            assert retained_state is not None
            assert json.loads(retained_state)["active_profile"] == "house"
            await wait_until(lambda: all(d.connected for d in v.sim.devices.values()), 15, "devices reconnected")
            # The subscriptions are back: a kiosk check-in on the new broker changes the light.
            kiosk = await asyncio.to_thread(Kiosk, replacement.url, vid)
            try:
                for member in ("ana", "ben"):
                    await asyncio.to_thread(kiosk.checkin, member, "book-club")
            finally:
                await asyncio.to_thread(kiosk.close)
            await wait_until(lambda: lamp.state["brightness"] == BOOK_CLUB_BRIGHTNESS, 15, "book-club's lamp")

    try:
        run(scenario)
    finally:
        replacement.stop()
        broker.stop()


# -- 3. a person's change outlives a restart of the service ---------------------------------------------------------


def test_an_override_survives_a_restart_and_is_reasserted_only_when_it_expires(
    mosquitto: MosquittoBroker, tmp_path: Path
) -> None:
    config = example_venue(mosquitto.url, tmp_path)
    config = config.model_copy(update={"policy": config.policy.model_copy(update={"override_minutes": 0.1})})
    lamp_set = f"{config.mqtt.base_topic}/lounge_lamp_1/set"

    async def scenario() -> None:
        async with venue_devices(config, lamp_set) as (sim, listener):
            lamp = sim.devices["lounge-lamp-1"]
            async with Service(config) as first:
                await connected(first)
                kiosk = await asyncio.to_thread(Kiosk, config.mqtt.url, config.venue.id)
                try:
                    for member in ("ana", "ben"):
                        await asyncio.to_thread(kiosk.checkin, member, "book-club")
                finally:
                    await asyncio.to_thread(kiosk.close)
                await wait_until(lambda: lamp.state["brightness"] == BOOK_CLUB_BRIGHTNESS, what="book-club's lamp")
                # Every echo of ours is in: what follows is a person at the wall switch.
                await wait_until(lambda: first.state.shadows["lounge-lamp-1"].pending is None, what="lamp confirmed")
                lamp.manual_change({"brightness": 254})
                assert first.record is not None

                def override() -> Any:
                    assert first.record is not None and first.record.flush(5)
                    return list(first.record.iter_all("manual_override"))

                [event] = await wait_until(override, what="the override recorded")
            until = datetime.fromisoformat(event.payload["until"])
            assert event.payload["device_id"] == "lounge-lamp-1"
            commands_before = len(listener.messages(lamp_set))

            async with Service(config) as second:  # the same store: the override's expiry is read back
                await connected(second)
                assert second.clock() < until, "the restart took longer than the override; nothing was tested"
                await wait_until(
                    lambda: lamp.state["brightness"] == BOOK_CLUB_BRIGHTNESS, 20, "reasserted once it expired"
                )
                assert second.record is not None and second.record.flush(5)
                sent = [
                    e
                    for e in second.record.iter_all("command_sent")
                    if e.id > event.id and e.payload["device_id"] == "lounge-lamp-1"
                ]
                assert sent, "the lamp was reasserted by a command"
                assert min(e.ts for e in sent) >= until, "the restarted service overrode the person before expiry"
                await wait_until(lambda: len(listener.messages(lamp_set)) > commands_before, 5, "the command seen")
                assert len(second.record.read(event.id, "manual_override")) == 0  # our reassertion is no override

    run(scenario)


# -- 4. a device that keeps losing power ---------------------------------------------------------------------------


async def wait_for_return(device: SimDevice[Any], announced: Callable[[], int], before: int, what: str) -> None:
    """Until the device is connected again and its `online` reached the broker's subscribers."""
    await wait_until(lambda: device.connected and announced() > before, 5, what)


def test_a_flapping_light_is_not_flooded_and_ends_in_the_desired_state(
    mosquitto: MosquittoBroker, tmp_path: Path
) -> None:
    config = example_venue(mosquitto.url, tmp_path)
    base = config.mqtt.base_topic
    lamp_set, lamp_availability = f"{base}/lounge_lamp_1/set", f"{base}/lounge_lamp_1/availability"
    returns = 10

    async def scenario() -> None:
        # The cap on a flapping device's hold is 30 s; 4 s keeps this test short, the rules the same (first return
        # at once, then holds of 1, 2, 4 s from each return within a minute of the last).
        async with running_venue(config, flap_max_s=4.0) as v:
            for member in ("ana", "ben"):
                await asyncio.to_thread(v.kiosk.checkin, member, "book-club")
            lamp = v.sim.devices["lounge-lamp-1"]
            await wait_until(lambda: lamp.state["brightness"] == BOOK_CLUB_BRIGHTNESS, what="book-club's lamp")
            await wait_until(lambda: v.service.state.shadows["lounge-lamp-1"].pending is None, what="lamp confirmed")
            watch = await asyncio.to_thread(Observer, config.mqtt.url, [lamp_set, lamp_availability])
            try:
                online = b'{"state": "online"}'

                def announced() -> int:
                    return watch.messages(lamp_availability).count(online)

                await wait_until(lambda: watch.last.get(lamp_availability) == online, what="the retained availability")
                start_id = v.events()[-1].id
                for i in range(returns):
                    # One outage every 0.4 s: longer than the coalescing window (0.25 s), so without the flap rule
                    # every return would get its own command; shorter than any hold, so with it none does.
                    cycle_ends = time.monotonic() + 0.4
                    seen = announced()
                    if i < returns - 1:
                        assert lamp.go_offline(for_s=0.1)
                    else:  # the last time it comes back at full brightness, as a bulb does after a power cut
                        assert lamp.go_offline()
                        lamp.manual_change({"brightness": 254})
                        assert lamp.come_back()
                    await wait_for_return(lamp, announced, seen, f"return {i + 1}")
                    await asyncio.sleep(max(0.0, cycle_ends - time.monotonic()))
                flapping_ended = time.monotonic()
                assert lamp.state["brightness"] == 254, "the lamp was commanded at once on its last return"
                await wait_until(
                    lambda: lamp.state["brightness"] == BOOK_CLUB_BRIGHTNESS, 15, "the desired state after the flap"
                )
                settled = time.monotonic()
                events = [e for e in v.events() if e.id > start_id and e.payload.get("device_id") == "lounge-lamp-1"]
                commanded = sum(e.type == "command_sent" for e in events)
                # What the broker carried on the lamp's /set topic (our copy may trail the lamp's by a moment).
                await wait_until(lambda: len(watch.messages(lamp_set)) >= commanded, 5, "the commands on the broker")
                sets = watch.messages(lamp_set)
            finally:
                watch.close()
            kinds = Counter(e.type for e in events)
            assert kinds["device_offline"] == returns, kinds  # the service saw every outage...
            assert kinds["manual_override"] == 0, kinds  # ...and a return is no person's change
            # One command at the first return, one when the last hold ends: nothing for the returns between.
            assert kinds["command_sent"] == len(sets)
            assert 1 <= len(sets) <= 3, f"{len(sets)} commands for {returns} returns"
            # It was held: the desired state came only after the last return's hold (4 s), not at once.
            assert settled - flapping_ended > 2.0

    run(scenario)


# -- 5. stopping: a service asked to stop must stop ----------------------------------------------------------------


def test_a_service_stops_even_when_woken_as_it_is_stopped(mosquitto: MosquittoBroker, tmp_path: Path) -> None:
    """A check-in (or any message, or a timer) that wakes the reconciler in the moment the service is asked to stop
    (SIGTERM, the end of a test) must not keep it running: `ambience run` would hang instead of exiting."""
    config = example_venue(mosquitto.url, tmp_path)

    async def scenario() -> None:
        service = Service(config)
        await service.__aenter__()
        await connected(service)
        service.inbox.put(messages.CheckIn("ana", "book-club"))  # wakes the reconciler...
        stopping = asyncio.create_task(service.__aexit__(None, None, None))  # ...as the service is stopped
        done, _ = await asyncio.wait({stopping}, timeout=5)
        if not done:  # unstick it, so that this test ends and cleans up
            for task in service._tasks:
                task.cancel()
            await stopping
        assert done, "the service was still stopping 5 s after it was asked to"

    run(scenario)


# -- 6. closing time: a clean stop does not leave the record's last events behind -----------------------------------


def test_a_clean_stop_forwards_what_was_recorded_just_before_it(vm: VictoriaMetrics, tmp_path: Path) -> None:
    record = EventRecord(tmp_path / "ambience.db", "venue-x")
    settings = InfluxSettings(url=vm.url, org="venue", bucket="ambience")
    forwarder = InfluxForwarder(record.path, settings, None, idle_s=5.0)  # it would not look again for 5 s
    try:
        start = datetime.now(UTC)
        forwarder.start()
        first = [record.emit("checkin", {"member_id": f"m{i}", "community_id": "book-club"}, start) for i in range(3)]
        assert not any(first) and record.flush()
        forwarder.notify()
        deadline = time.monotonic() + 10
        while forwarder.cursor < record.committed_id and time.monotonic() < deadline:
            time.sleep(0.02)
        assert forwarder.cursor == record.committed_id, forwarder.last_error
        for i in range(3, 6):  # the evening's last check-ins, committed while the forwarder idles
            record.emit("checkin", {"member_id": f"m{i}", "community_id": "book-club"}, start)
        assert record.flush()

        assert forwarder.stop(15)

        ids = set(range(1, record.committed_id + 1))
        assert forwarder.cursor == record.committed_id
        seen = vm.wait_for_ids(ids, timeout_s=10)
        assert ids <= seen, f"left behind at the stop: {sorted(ids - seen)}"
    finally:
        forwarder.stop(15)
        forwarder.close()
        record.close()
