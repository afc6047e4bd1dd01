"""Many venues, one hub (docs/multi-venue.md): two venue Mosquittos bridged to a hub Mosquitto on loopback, with the
bridge section of deploy/mosquitto/bridge.conf.example as shipped (only the venue id, the hub's address, the
reconnect delay and the TLS lines are substituted, and its commented user name login used instead of TLS, each
checked), the hub enforcing deploy/mosquitto/hub.acl.example (its venue block once per venue; the test's own
observers at the hub, which cannot log in, are anonymous and allowed everything), and a real controller with
simulated devices at each venue.

A profile published retained at the hub reaches both venues' rooms; the hub sees both venues' retained state; a
venue whose uplink is cut keeps working, and after the link is back it has the profile published meanwhile at the hub
and the hub has its latest state, with every check-in of the outage in the venue's record. Both venues' records land
in one central time-series server (victoria-metrics' InfluxDB v2 write endpoint), told apart by the `venue` tag.
Home Assistant at the hub (logged in as the ACL's `homeassistant` user) discovers both venues and forces a profile at
one of them through the bridged force topic.

The uplink is cut with a small TCP proxy between a venue's bridge and the hub (the hub stays up, as it would when a
venue's internet connection drops): cut and restored at exact moments, so the test does not race a restart.
"""

from __future__ import annotations

import asyncio
import contextlib
import functools
import json
import time
import urllib.parse
import uuid
from collections import Counter
from collections.abc import AsyncIterator, Callable, Coroutine, Sequence
from contextlib import AsyncExitStack, asynccontextmanager
from pathlib import Path
from typing import Any

import paho.mqtt.client as mqtt
import pytest
from jinja2.sandbox import ImmutableSandboxedEnvironment

from controller.cli.broker import MosquittoBroker, find_mosquitto
from profiles.loader import load_profile, parse_profile
from profiles.profile import Profile, canonical_json
from profiles.venue import InfluxSettings
from testkit.mqtt_clients import Kiosk, Observer
from testkit.victoria import VictoriaMetrics
from testkit.waiting import wait_until
from tests.integration.harness import EXAMPLES, ROOT, Venue, example_venue, running_venue

pytestmark = pytest.mark.integration

BRIDGE_EXAMPLE = ROOT / "deploy" / "mosquitto" / "bridge.conf.example"
HUB_ACL_EXAMPLE = ROOT / "deploy" / "mosquitto" / "hub.acl.example"
EXAMPLE_VENUE_ID = "teahouse-1"
TLS_OPTIONS = ("bridge_cafile", "bridge_certfile", "bridge_keyfile", "bridge_tls_version")
LOGIN = "#   remote_username venue-teahouse-1"  # the example's alternative to the client certificate
HA_USER = "homeassistant"  # Home Assistant's user in the hub's ACL
LIGHTS = ("bar-pendant", "bar-strip", "lounge-lamp-1", "lounge-lamp-2")
HOUSE_BRIGHTNESS = round(60 * 2.54)  # examples/profiles/house.yaml on Zigbee2MQTT's 0-254 scale


def bridge_section(venue_id: str, hub_port: int) -> list[str]:
    """The example's bridge section for `venue_id`, to a hub on 127.0.0.1:`hub_port` over plain TCP."""
    lines = [line.strip() for line in BRIDGE_EXAMPLE.read_text().splitlines()]
    assert lines.count(LOGIN) == 1, f"expected {LOGIN!r} in the example"
    # Without TLS, the venue logs in by its user name, which the hub's ACL knows it by (the certificate's CN in
    # production): the example's commented alternative, uncommented.
    lines = [line.removeprefix("#   ") if line == LOGIN else line for line in lines]
    lines = [line for line in lines if line and not line.startswith("#")]
    out: list[str] = []
    substituted: list[str] = []
    for shipped in lines:
        line = shipped
        key = line.split()[0]
        if key in TLS_OPTIONS:  # TLS is the hub's job in production; loopback here
            substituted.append(key)
            continue
        if key == "address":
            assert line == "address hub.example.org:8883"
            line = f"address 127.0.0.1:{hub_port}"
            substituted.append(key)
        elif key == "restart_timeout":
            # Reconnect after 1-2 s, so the test is short. The two-value (backoff) form, as in the example: Mosquitto
            # 2.0.11 waits ~5.6 s after a drop with a single `restart_timeout 1`, not the documented constant 1 s.
            line = "restart_timeout 1 2"
            substituted.append(key)
        out.append(line.replace(EXAMPLE_VENUE_ID, venue_id))
    assert sorted(substituted) == sorted([*TLS_OPTIONS, "address", "restart_timeout"])
    assert out[0] == f"connection hub-{venue_id}"
    for expected in (
        "cleansession false",
        "try_private true",
        "bridge_protocol_version mqttv311",
        "topic ambience/profiles/# in 1",
        f"topic ambience/{venue_id}/state out 1",
        f"topic ambience/{venue_id}/status out 1",
        f"remote_clientid venue-{venue_id}",
        f"remote_username venue-{venue_id}",
    ):
        assert expected in out, f"{expected!r} is not in the example bridge section"
    return out


def hub_acl(venue_ids: Sequence[str]) -> str:
    """deploy/mosquitto/hub.acl.example for these venues: its venue block once per venue id, and, first, a line that
    allows anonymous clients everything (the test's observers and kiosks at the hub do not log in)."""
    blocks: list[list[str]] = []
    for raw in HUB_ACL_EXAMPLE.read_text().splitlines():
        line = raw.strip()
        if not line or line.startswith("#"):
            continue
        if line.startswith("user "):
            blocks.append([line])
        else:
            assert blocks, f"{line!r} is before the first user line: it would apply to anonymous clients"
            blocks[-1].append(line)
    [venue_block] = [b for b in blocks if b[0] == f"user venue-{EXAMPLE_VENUE_ID}"]
    assert {b[0] for b in blocks} >= {f"user {HA_USER}", "user hub-tools"}
    out = ["topic readwrite #"]
    for venue_id in venue_ids:
        out += [line.replace(EXAMPLE_VENUE_ID, venue_id) for line in venue_block]
    for block in blocks:
        if block is not venue_block:
            out += block
    return "\n".join(out) + "\n"


class Uplink:
    """A TCP proxy in the test's event loop between a venue's bridge and the hub; `cut()` drops the connection and
    refuses new ones until `restore()`, like a venue's internet connection going away."""

    def __init__(self, target_port: int) -> None:
        self.target_port = target_port
        self.up = True
        self.port = 0
        self.connections = 0
        self._server: asyncio.Server | None = None
        self._writers: set[asyncio.StreamWriter] = set()
        self._handlers: set[asyncio.Task[Any]] = set()

    async def start(self) -> None:
        self._server = await asyncio.start_server(self._handle, "127.0.0.1", 0)
        self.port = self._server.sockets[0].getsockname()[1]

    async def _handle(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        task = asyncio.current_task()
        assert task is not None
        self._handlers.add(task)
        try:
            await self._proxy(reader, writer)
        finally:
            self._handlers.discard(task)

    async def _proxy(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        if not self.up:
            writer.close()
            return
        try:
            hub_reader, hub_writer = await asyncio.open_connection("127.0.0.1", self.target_port)
        except OSError:
            writer.close()
            return
        self.connections += 1
        self._writers |= {writer, hub_writer}
        await asyncio.gather(self._pipe(reader, hub_writer), self._pipe(hub_reader, writer))

    async def _pipe(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        try:
            while data := await reader.read(65536):
                writer.write(data)
                await writer.drain()
        except (OSError, asyncio.IncompleteReadError):
            pass
        finally:
            self._writers.discard(writer)
            writer.close()

    def cut(self) -> None:
        self.up = False
        for writer in list(self._writers):
            writer.transport.abort()
        self._writers.clear()

    def restore(self) -> None:
        self.up = True

    async def close(self) -> None:
        self.cut()
        if self._server is not None:
            self._server.close()
        # The cut ends every connection, and with it its handler (cancelling one instead makes Python 3.11's
        # asyncio.streams log a spurious CancelledError).
        if self._handlers:
            await asyncio.wait(list(self._handlers), timeout=2)


def book_club_profile(brightness: int) -> str:
    """examples/profiles/book-club.yaml with another brightness, as the hub publishes it (JSON)."""
    profile = load_profile(EXAMPLES / "profiles" / "book-club.yaml")
    assert profile.lighting is not None
    lighting = profile.lighting.model_copy(update={"brightness": brightness})
    return canonical_json(profile.model_copy(update={"lighting": lighting}))


def lights_at(venue: Venue, brightness_254: int) -> bool:
    return all(
        venue.device(d).get("state") == "ON" and venue.device(d).get("brightness") == brightness_254 for d in LIGHTS
    )


def lit(venue: Venue, brightness_254: int) -> Callable[[], bool]:
    return lambda: lights_at(venue, brightness_254)


def says(listener: Observer, topic: str, payload: bytes) -> Callable[[], bool]:
    return lambda: listener.last.get(topic) == payload


def headcount_is(listener: Observer, topic: str, headcount: dict[str, int]) -> Callable[[], bool]:
    return lambda: bool((listener.json(topic) or {}).get("headcount") == headcount)


def book_club_versions(venue: Venue) -> list[int]:
    """Versions of book-club the venue stored from the hub (author `mqtt`), in order."""
    return [
        e.payload["version"]
        for e in venue.events("profile_updated")
        if e.payload["community_id"] == "book-club" and e.payload["author"] == "mqtt"
    ]


def run(scenario: Callable[[], Coroutine[Any, Any, None]], timeout_s: float = 40.0) -> None:
    async def bounded() -> None:
        await asyncio.wait_for(scenario(), timeout_s)

    asyncio.run(bounded())


@asynccontextmanager
async def hub_and_venues(
    tmp_path: Path, influx: InfluxSettings
) -> AsyncIterator[tuple[MosquittoBroker, list[Venue], list[Uplink], list[MosquittoBroker]]]:
    """A hub Mosquitto with the example ACL, and two venues, each with its Mosquitto bridged to the hub through its own
    `Uplink` and its record forwarded to the one central time-series server of `influx`; last, the venues' own
    brokers."""
    names = ("a", "b")
    configs = [example_venue("mqtt://127.0.0.1:1", tmp_path / name, influx=influx) for name in names]
    acl = tmp_path / "hub.acl"
    acl.write_text(hub_acl([c.venue.id for c in configs]))
    hub = MosquittoBroker(tmp_path / "hub", extra_config=[f"acl_file {acl}"])
    async with AsyncExitStack() as stack:
        await asyncio.to_thread(hub.start)
        stack.push_async_callback(asyncio.to_thread, hub.stop)
        venues: list[Venue] = []
        uplinks: list[Uplink] = []
        brokers: list[MosquittoBroker] = []
        for name, planned in zip(names, configs, strict=True):
            uplink = Uplink(hub.port)
            await uplink.start()
            stack.push_async_callback(uplink.close)
            broker = MosquittoBroker(
                tmp_path / f"{name}-mosquitto", extra_config=bridge_section(planned.venue.id, uplink.port)
            )
            await asyncio.to_thread(broker.start)
            stack.push_async_callback(asyncio.to_thread, broker.stop)
            config = planned.model_copy(update={"mqtt": planned.mqtt.model_copy(update={"url": broker.url})})
            venue = await stack.enter_async_context(running_venue(config))
            venues.append(venue)
            uplinks.append(uplink)
            brokers.append(broker)
        yield hub, venues, uplinks, brokers


def venue_event_ids(vm: VictoriaMetrics, venue_id: str) -> set[int]:
    """The `event_id`s the central server holds for one venue (each venue's record numbers its events from 1)."""
    vm.get("/internal/force_flush")
    query = urllib.parse.urlencode({"match[]": f'{{__name__="ambience_event_event_id",venue="{venue_id}"}}'})
    ids: set[int] = set()
    for line in vm.get(f"/api/v1/export?{query}").splitlines():
        if line.strip():
            ids.update(int(v) for v in json.loads(line)["values"])
    return ids


def test_a_hub_profile_reaches_every_venue_and_an_uplink_outage_loses_nothing(
    tmp_path: Path, vm: VictoriaMetrics
) -> None:
    if find_mosquitto() is None:
        pytest.fail("mosquitto is not installed; scripts/bootstrap.sh --test installs it")

    async def scenario() -> None:
        central = InfluxSettings(url=vm.url, org="venue", bucket="ambience")
        async with hub_and_venues(tmp_path, central) as (hub, (a, b), (uplink_a, _), _brokers):
            ids = [a.config.venue.id, b.config.venue.id]
            watcher = await asyncio.to_thread(Observer, hub.url, ["ambience/#"])
            publisher = await asyncio.to_thread(Kiosk, hub.url, "hub")
            try:
                # Both bridges are up: their notification topic says 1 at the hub.
                for vid in ids:
                    await wait_until(says(watcher, f"ambience/{vid}/bridge", b"1"), 10, f"{vid}'s bridge")
                    await wait_until(says(watcher, f"ambience/{vid}/status", b"online"), 10, f"{vid} online")

                # 1. A profile published retained once at the hub reaches both venues' rooms.
                publisher.raw("ambience/profiles/book-club", book_club_profile(50), retain=True)
                for venue, prefix in ((a, "a"), (b, "b")):
                    venue.kiosk.checkin(f"{prefix}1", "book-club")
                    venue.kiosk.checkin(f"{prefix}2", "book-club")
                for venue in (a, b):
                    await wait_until(lit(venue, 127), 10, "book-club at 50 % at both venues")
                    assert book_club_versions(venue) == [2]  # 1 is examples/profiles, seeded at start

                # 2. The hub has both venues' retained state, under each venue's own prefix.
                for vid in ids:
                    await wait_until(
                        headcount_is(watcher, f"ambience/{vid}/state", {"book-club": 2}),
                        10,
                        f"{vid}'s state at the hub",
                    )
                    assert watcher.json(f"ambience/{vid}/state")["venue"] == vid
                    assert watcher.json(f"ambience/{vid}/state")["active_profile"] == "book-club"

                # 3. Venue a's uplink goes down.
                uplink_a.cut()
                await wait_until(lambda: watcher.last.get(f"ambience/{ids[0]}/bridge") == b"0", 10, "a's bridge down")
                # ...meanwhile the hub publishes a new version: venue b has it at once, venue a not yet.
                publisher.raw("ambience/profiles/book-club", book_club_profile(30), retain=True)
                await wait_until(lambda: lights_at(b, 76), 10, "book-club at 30 % at venue b")
                # ...and venue a keeps working on its own: below quorum the house mood, then book-club again.
                a.kiosk.checkout("a1")
                await wait_until(lambda: lights_at(a, HOUSE_BRIGHTNESS), 10, "the house mood at venue a")
                a.kiosk.checkin("a3", "book-club")
                a.kiosk.checkin("a4", "book-club")
                await wait_until(lambda: lights_at(a, 127), 10, "book-club (the version it has) at venue a")
                assert book_club_versions(a) == [2]
                assert watcher.json(f"ambience/{ids[0]}/state")["headcount"] == {"book-club": 2}  # the hub's old view

                # The uplink is back: a catches up with the hub, and the hub with a.
                connections = uplink_a.connections
                restored_at = time.monotonic()
                uplink_a.restore()
                await wait_until(lambda: uplink_a.connections > connections, 10, "a's bridge to reconnect")
                await wait_until(lambda: lights_at(a, 76), 10, "book-club at 30 % at venue a after the outage")
                assert book_club_versions(a) == [2, 3]
                assert book_club_versions(b) == [2, 3]
                await wait_until(
                    lambda: (a.listener.json(a.state_topic) or {}).get("headcount") == {"book-club": 3},
                    10,
                    "a's latest state at the venue",
                )
                latest = a.listener.json(a.state_topic)
                await wait_until(
                    lambda: watcher.json(f"ambience/{ids[0]}/state") == latest, 10, "a's latest state at the hub"
                )
                await wait_until(lambda: watcher.last.get(f"ambience/{ids[0]}/bridge") == b"1", 10, "a's bridge up")
                # The hub got the states of the outage in order from the bridge's queue, not only the last one: first
                # the house mood (the check-out), last the latest (the two check-ins may have been one state).
                a_state = f"ambience/{ids[0]}/state"
                caught_up = [m.json() for m in watcher.arrivals(a_state) if m.at > restored_at]
                assert (caught_up[0]["active_profile"], caught_up[0]["headcount"]) == ("house", {"book-club": 1})
                assert caught_up[-1] == latest

                # Nothing lost: every check-in and check-out of the outage is in venue a's record.
                checkins = [(e.payload["member_id"], e.payload["source"]) for e in a.events("checkin")]
                assert checkins == [("a1", "mqtt"), ("a2", "mqtt"), ("a3", "mqtt"), ("a4", "mqtt")]
                assert [e.payload["member_id"] for e in a.events("checkout")] == ["a1"]
                # And a fresh subscriber at the hub (a dashboard starting now) gets every venue's latest state.
                late = await asyncio.to_thread(Observer, hub.url, [f"ambience/{vid}/state" for vid in ids])
                try:
                    await wait_until(lambda: len(late.last) == 2, 5, "retained states at the hub")
                    assert late.json(f"ambience/{ids[0]}/state")["headcount"] == {"book-club": 3}
                    assert late.json(f"ambience/{ids[1]}/state")["headcount"] == {"book-club": 2}
                finally:
                    late.close()

                # 4. Both venues' records land in the one central time-series server, each under its venue tag.
                for venue in (a, b):
                    recorded = {e.id for e in venue.events()}
                    await wait_until(
                        functools.partial(
                            lambda vid, r: r <= venue_event_ids(vm, vid), venue.config.venue.id, recorded
                        ),
                        15,
                        f"{venue.config.venue.id}'s record in the central server",
                    )
            finally:
                with contextlib.suppress(Exception):
                    publisher.close()
                watcher.close()

    run(scenario)


def test_a_venues_own_edit_is_not_rolled_back_by_the_hubs_retained_profile_when_its_broker_restarts(
    tmp_path: Path, vm: VictoriaMetrics
) -> None:
    """The venue's Mosquitto restarts, its bridge subscribes anew and the hub sends its retained profile again: that
    is the hub repeating itself, not a new version, so the edit made at the venue since stays."""
    if find_mosquitto() is None:
        pytest.fail("mosquitto is not installed; scripts/bootstrap.sh --test installs it")

    async def scenario() -> None:
        central = InfluxSettings(url=vm.url, org="venue", bucket="ambience")
        async with hub_and_venues(tmp_path, central) as (hub, (a, _), _uplinks, (broker_a, _)):
            hub_profile = book_club_profile(50)
            publisher = await asyncio.to_thread(Kiosk, hub.url, "hub")
            try:
                publisher.raw("ambience/profiles/book-club", hub_profile, retain=True)
                a.kiosk.checkin("a1", "book-club")
                a.kiosk.checkin("a2", "book-club")
                await wait_until(lit(a, 127), 10, "the hub's book-club at 50 %")
                # The venue's organiser edits the profile through the venue's API: 30 %.
                assert (await a.service.put_profile(load_profile_json(book_club_profile(30)), "book-club")).version
                await wait_until(lit(a, 76), 10, "the venue's edit at 30 %")

                await asyncio.to_thread(broker_a.stop)
                await asyncio.to_thread(broker_a.start)
                # The hub's retained profile arrives at the venue's broker again (a plain client there sees it)...
                local = await asyncio.to_thread(Observer, broker_a.url, ["ambience/profiles/book-club"])
                try:
                    await wait_until(
                        lambda: local.last.get("ambience/profiles/book-club") == hub_profile.encode(), 15, "the hub's"
                    )
                    assert a.service.bus is not None and await a.service.bus.wait_connected(15)
                    await asyncio.sleep(1.0)  # time for the service to handle it, had it taken it as an edit
                finally:
                    local.close()
                # ...and changes nothing: the venue's edit is still the latest version, and the room keeps it.
                assert book_club_versions(a) == [2]
                assert lights_at(a, 76)
                latest = a.service.store.get("book-club") if a.service.store is not None else None
                assert latest is not None and latest.author == "book-club"
            finally:
                publisher.close()

    run(scenario, timeout_s=60.0)


def load_profile_json(text: str) -> Profile:
    return parse_profile(json.loads(text))


class HubHomeAssistant:
    """Home Assistant's MQTT integration at the hub, logged in as the hub ACL's `homeassistant` user: it reads the
    retained discovery configs and the state and status topics they name, publishes the select's commands (its
    command template rendered with the chosen option) and its birth message."""

    def __init__(self, url: str) -> None:
        topics = ["homeassistant/#", "ambience/+/state", "ambience/+/status"]
        self.observer = Observer(url, topics, username=HA_USER)
        self.client = self.observer.client

    @property
    def received(self) -> Counter[str]:
        """How many messages arrived on each topic."""
        return self.observer.counts()

    def configs(self, venue_id: str) -> dict[str, dict[str, Any]]:
        """unique_id -> config of the venue's discovered entities."""
        last = self.observer.latest()
        found = [
            json.loads(p) for t, p in last.items() if f"/ambience_{venue_id}/" in t and t.endswith("/config") and p
        ]
        return {config["unique_id"]: config for config in found}

    def entity(self, venue_id: str, name: str) -> str | None:
        """The entity's state as Home Assistant shows it, None while unknown or unavailable."""
        config = self.configs(venue_id).get(f"ambience_{venue_id}_{name}")
        if config is None or self.observer.last.get(config["availability_topic"]) != b"online":
            return None
        state = self.observer.last.get(config["state_topic"])
        template = ImmutableSandboxedEnvironment().from_string(config["value_template"])
        return None if state is None else template.render(value_json=json.loads(state)).strip()

    def select(self, venue_id: str, option: str) -> None:
        config = self.configs(venue_id)[f"ambience_{venue_id}_profile"]
        assert option in config["options"], config["options"]
        payload = ImmutableSandboxedEnvironment().from_string(config["command_template"]).render(value=option)
        self.client.publish(config["command_topic"], payload, qos=config["qos"]).wait_for_publish(5)

    def restart(self) -> None:
        """What Home Assistant publishes when it starts (its birth message, not retained)."""
        self.client.publish("homeassistant/status", "online", qos=1).wait_for_publish(5)

    def close(self) -> None:
        self.observer.close()


def spicy_room(venue: Venue) -> bool:
    """examples/profiles/spicy-tech-gossip.yaml's music and scent."""
    return venue.device("lounge-speaker")["playlist"] == "lofi-gossip" and venue.device("diffuser")["scent"] == "cedar"


def test_home_assistant_at_the_hub_discovers_every_venue_and_forces_a_profile_at_one(tmp_path: Path) -> None:
    """docs/home-assistant.md, "At a hub": the venues' discovery configs reach the hub through their bridges (as
    deploy/mosquitto/bridge.conf.example forwards them, within deploy/mosquitto/hub.acl.example), one Home Assistant
    there sees every venue's entities apart, and its select forces a profile at the venue it belongs to only."""
    if find_mosquitto() is None:
        pytest.fail("mosquitto is not installed; scripts/bootstrap.sh --test installs it")

    async def scenario() -> None:
        async with hub_and_venues(tmp_path, InfluxSettings()) as (hub, (a, b), _uplinks, _brokers):
            ids = [a.config.venue.id, b.config.venue.id]
            ha = await asyncio.to_thread(HubHomeAssistant, hub.url)
            try:
                for vid in ids:
                    await wait_until(lambda vid=vid: len(ha.configs(vid)) == 3, 10, f"{vid}'s entities at the hub")
                    await wait_until(lambda vid=vid: ha.entity(vid, "profile") == "Automatic", 10, f"{vid}'s select")
                unique_ids = {uid for vid in ids for uid in ha.configs(vid)}
                assert len(unique_ids) == 6  # two venues on one prefix: nothing collides
                select_a = ha.configs(ids[0])[f"ambience_{ids[0]}_profile"]
                assert select_a["command_topic"] == f"ambience/{ids[0]}/force"
                assert select_a["options"] == ["Automatic", "House calm", "Reading hour", "Spicy & gossip"]

                # Chosen at the hub for venue a: a's room takes the profile, b's does not.
                ha.select(ids[0], "Spicy & gossip")
                await wait_until(lambda: spicy_room(a), 10, "spicy-tech-gossip forced at venue a")
                [forced] = a.events("profile_forced")
                assert forced.payload == {"community_id": "spicy-tech-gossip", "previous": None, "source": "mqtt"}
                await wait_until(lambda: ha.entity(ids[0], "profile") == "Spicy & gossip", 10, "a's select at the hub")
                assert ha.entity(ids[1], "profile") == "Automatic"
                assert b.events("profile_forced") == []
                assert not spicy_room(b)

                # Home Assistant restarts at the hub: its birth message reaches every venue, which sends its configs
                # again (Home Assistant may have lost them).
                topics = [f"homeassistant/select/ambience_{vid}/profile/config" for vid in ids]
                before = {topic: ha.received[topic] for topic in topics}
                ha.restart()
                for topic in topics:
                    await wait_until(lambda t=topic: ha.received[t] > before[t], 10, f"{topic} again")

                # The hub's ACL keeps a venue to its own topics: logged in as venue a, another venue's discovery
                # config is refused, while one of a's own topics is taken (published after it, so seen after it).
                intruder = f"homeassistant/sensor/ambience_{ids[1]}/intruder/config"
                own = f"ambience/{ids[0]}/acl-check"
                watcher = await asyncio.to_thread(Observer, hub.url, [intruder, own])
                venue_a = mqtt.Client(mqtt.CallbackAPIVersion.VERSION2, client_id=f"acl-{uuid.uuid4().hex[:8]}")
                venue_a.username_pw_set(f"venue-{ids[0]}")
                try:
                    venue_a.connect(hub.host, hub.port)
                    venue_a.loop_start()
                    venue_a.publish(intruder, '{"name": "x"}', qos=1, retain=True).wait_for_publish(5)
                    venue_a.publish(own, "1", qos=1).wait_for_publish(5)
                    await wait_until(lambda: own in watcher.last, 10, "venue a's own topic at the hub")
                    assert intruder not in watcher.last
                finally:
                    venue_a.loop_stop()
                    venue_a.disconnect()
                    watcher.close()
            finally:
                ha.close()

    run(scenario)
