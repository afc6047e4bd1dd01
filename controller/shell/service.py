"""The edge service: the composition root that wires the venue core to the world.

    bus (MQTT) ─┐                                    ┌─> recorder (event record; ack/reply once durable)
    API calls ──┼─> inbox ─> step(state, input, now) ┼─> bus.publish (state, rejections, discovery, profiles)
    Hue polls ──┘      ^                             └─> dispatcher ─> drivers (Zigbee2MQTT, Hue) ─┐
                       └──────────── CommandsSent (what really went out) <────────────────────────┘

Every rule lives in the pure core (`controller.core.venue.step`). This module opens the stores, builds the nouns
(inbox, recorder, dispatcher, drivers, pipeline, pruner), starts and stops them in order, and is the API's port
(api/port.py). The one path every input takes (step, commit, adopt, answer once durable, carry out) is
`controller.shell.pipeline.Pipeline`.
"""

from __future__ import annotations

import asyncio
import logging
import os
import time
from collections.abc import Callable, Mapping
from datetime import datetime
from pathlib import Path
from typing import Any

from controller.core import events as ev
from controller.core import home_assistant as ha
from controller.core import messages as msg
from controller.core.outputs import Emit
from controller.core.presence import CheckIn, Member, Presence
from controller.core.state import VenueState
from controller.shell import record as rec
from controller.shell.bus import Bus, Will
from controller.shell.dispatcher import Dispatcher
from controller.shell.forwarder import InfluxForwarder
from controller.shell.inbox import Inbox
from controller.shell.pipeline import Pipeline
from controller.shell.pruner import Pruner
from controller.shell.record import RecordError
from controller.shell.recorder import Recorder
from controller.shell.stats import Stats
from devices.driver import Observation
from devices.hue_driver import HueDriver
from devices.z2m_driver import Z2MDriver
from profiles.communities import CommunityStore
from profiles.profile import Profile
from profiles.store import ProfileStore, ProfileVersion
from profiles.venue import VenueConfig

__all__ = ["Service", "Stats"]

log = logging.getLogger(__name__)


class Service:
    """`await Service(venue).run(stop)` runs until `stop` is set; `async with` for finer control in tests.

    The API's port (api/port.py): `state`, `check_in`, `check_out`, `force_profile`, `put_profile`, `knows`,
    `health`, and the stores it reads (`record`, `store`, `communities`)."""

    def __init__(
        self,
        venue: VenueConfig,
        *,
        clock: Callable[[], datetime] = rec.utc_now,
        env: Mapping[str, str] | None = None,
        coalesce_window_s: float = 0.25,
        tick_s: float = 1.0,
        settle_s: float = 0.3,
        max_reconnect_delay_s: int = 30,
        prune_every_s: float = 3600.0,
        flap_max_s: float = 30.0,
    ) -> None:
        self.venue = venue
        self.clock = clock
        self.env = os.environ if env is None else env
        self.prune_every_s = prune_every_s
        self._max_reconnect_delay_s = max_reconnect_delay_s
        self.stats = Stats()
        self.pipeline: Pipeline | None = None
        self._initial = VenueState.initial(venue)
        self.inbox = Inbox()
        self.z2m = Z2MDriver(venue, self._publish_command, lambda: self.bus is not None and self.bus.connected)
        self.hue = HueDriver(venue, self.env, self._observed)
        self.dispatcher = Dispatcher(
            [self.z2m, self.hue],
            venue.devices,
            self.stats,
            tick_s=tick_s,
            settle_s=settle_s,
            coalesce_window_s=coalesce_window_s,
            flap_max_s=flap_max_s,
        )
        self.record: rec.EventRecord | None = None
        self.recorder: Recorder | None = None
        self.pruner: Pruner | None = None
        self.store: ProfileStore | None = None
        self.communities: CommunityStore | None = None
        self.forwarder: InfluxForwarder | None = None
        self.bus: Bus | None = None
        self.started = asyncio.Event()
        self.failed = asyncio.Event()  # set when the record cannot be written: the service must stop
        self.started_at = time.monotonic()
        self._tasks: list[asyncio.Task[None]] = []

    @property
    def state(self) -> VenueState:
        """The venue core's state: what every view and test reads (`controller.core.views`)."""
        return self.pipeline.state if self.pipeline is not None else self._initial

    @property
    def failure(self) -> BaseException | None:
        return self.recorder.failure if self.recorder is not None else None

    # -- lifetime --------------------------------------------------------------------------------------------

    async def run(self, stop: asyncio.Event) -> None:
        """Until `stop` is set; raises `RecordError` if the record failed (after a clean shutdown)."""
        async with self:
            await self.wait(stop)
        if self.failure is not None:
            raise RecordError(str(self.failure)) from self.failure

    async def wait(self, stop: asyncio.Event) -> None:
        """Until `stop` is set or the service failed."""
        waiters = [asyncio.create_task(stop.wait()), asyncio.create_task(self.failed.wait())]
        try:
            await asyncio.wait(waiters, return_when=asyncio.FIRST_COMPLETED)
        finally:
            for waiter in waiters:
                waiter.cancel()

    async def __aenter__(self) -> Service:
        venue, now = self.venue, self.clock()
        self.record = record = rec.EventRecord(venue.store.path, venue.venue.id)
        self.recorder = Recorder(record, self.failed)
        if venue.influx.url:
            # Fed from the record with a durable cursor: an InfluxDB outage only delays, never loses, events.
            self.forwarder = InfluxForwarder(venue.store.path, venue.influx, self.env.get(venue.influx.token_env))
            self.forwarder.start()
        self.pruner = Pruner(self.recorder, self.forwarder, venue.store.retention_days, self.clock, now)
        self.store = ProfileStore(venue.store.path)
        self.communities = CommunityStore(venue.store.path)
        if venue.profiles_dir:
            for v in await asyncio.to_thread(self.store.seed_from_dir, Path(venue.profiles_dir), now):
                self.recorder.commit([Emit(ev.ProfileUpdated(v.community_id, v.version, v.etag, v.author))], now)
        state = VenueState.initial(
            venue,
            presence=Presence.of(Member(m, c, t) for m, c, t in record.presence_rows()),
            profiles=await asyncio.to_thread(self.store.latest_all),
            activations={c: datetime.fromisoformat(t) for c, t in (record.state("activations") or {}).items()},
            forced=record.state("forced"),
            overrides={d: datetime.fromisoformat(t) for d, t in (record.state("overrides") or {}).items()},
        )
        birth = ha.birth_topic(venue) if venue.home_assistant.discovery else None
        self.pipeline = pipeline = Pipeline(
            state,
            clock=self.clock,
            recorder=self.recorder,
            dispatcher=self.dispatcher,
            z2m=self.z2m,
            store=self.store,
            stats=self.stats,
            knows=self.knows,
            birth_topic=birth,
        )
        topics = state.site.topics
        subscriptions = [(topics.checkin, 1), (topics.checkout, 1), (topics.force, 1), (topics.profiles + "+", 1)]
        if birth is not None:
            subscriptions.append((birth, 0))
        self.bus = Bus(
            venue.mqtt.url,
            client_id=f"ambience-{venue.venue.id}",
            subscriptions=subscriptions + self.z2m.subscriptions(),
            will=Will(topics.status, b"offline"),
            birth=Will(topics.status, b"online"),
            username=venue.mqtt.username,
            password=self.env.get(venue.mqtt.password_env) if venue.mqtt.password_env else None,
            keepalive_s=venue.mqtt.keepalive_s,
            on_connect=self._on_connect,
            on_disconnect=lambda: self.dispatcher.disconnected(self.z2m.name),
            on_messages=self.inbox.messages,
            max_reconnect_delay_s=self._max_reconnect_delay_s,
        )
        pipeline.bus = self.bus
        await self.bus.__aenter__()
        self._tasks = [
            asyncio.create_task(self.hue.run(), name="hue"),
            asyncio.create_task(self.inbox.run(pipeline.handle, self.dispatcher.wake), name="inbox"),
            asyncio.create_task(self.dispatcher.run(pipeline.tick), name="reconcile"),
            asyncio.create_task(self.pruner.run(self.prune_every_s), name="prune"),
        ]
        log.info(
            "venue %s: %d devices, %d profiles, %d members present",
            venue.venue.id,
            len(self.state.site.devices),
            len(self.state.profiles),
            self.state.presence.total,
        )
        self.started.set()
        return self

    async def __aexit__(self, *exc: object) -> None:
        tasks = [*self._tasks, *(self.pipeline.background if self.pipeline is not None else ())]
        for task in tasks:
            task.cancel()
        # gather, not `suppress(CancelledError)` around each await: that would also swallow a cancel aimed at
        # whoever is stopping the service.
        await asyncio.gather(*tasks, return_exceptions=True)
        self.dispatcher.close()
        if self.bus is not None:
            await self.bus.close(final=Will(self.state.site.topics.status, b"offline"))
        if self.record is not None:
            await asyncio.to_thread(self.record.flush)
        if self.forwarder is not None:
            self.forwarder.notify()
            await asyncio.to_thread(self.forwarder.close)
        if self.record is not None:
            await asyncio.to_thread(self.record.close)
        if self.store is not None:
            self.store.close()
        if self.communities is not None:
            self.communities.close()

    # -- what the bus and the Hue driver call ---------------------------------------------------------------------

    def _on_connect(self) -> None:
        self.dispatcher.connected(self.z2m.name)
        self.inbox.put(msg.Connected())

    def _observed(self, seen: list[Observation]) -> None:
        """What the Hue driver saw, into the inbox with the others."""
        self.inbox.put(msg.Observed(tuple(seen), time.monotonic()))

    def _publish_command(self, topic: str, payload: str) -> None:
        if self.bus is not None:
            self.bus.publish(topic, payload, qos=1)

    # -- the API's port: the same inputs as MQTT, answered once durable -----------------------------------------------

    def knows(self, community_id: str) -> bool:
        """A community the venue knows: registered through the API, or with a profile (from a file or the hub)."""
        if community_id in self.state.profiles:
            return True
        return self.communities is not None and self.communities.get(community_id) is not None

    async def check_in(self, member_id: str, community_id: str, source: str = "http") -> CheckIn:
        """The caller checked that the venue knows the community."""
        outcome: CheckIn = await self.inbox.call(msg.CheckIn(member_id, community_id, source))
        return outcome

    async def check_out(self, member_id: str, source: str = "http") -> bool:
        """False if the member was not checked in."""
        return bool(await self.inbox.call(msg.CheckOut(member_id, source)))

    async def force_profile(self, community_id: str | None, source: str = "http") -> None:
        """The caller checked that the profile exists."""
        await self.inbox.call(msg.Force(community_id, source))

    async def put_profile(self, profile: Profile, author: str, if_match: str | None = None) -> ProfileVersion:
        """Store, record and apply a profile, and publish it retained for the hub and the venue's other tools.

        `if_match` (an `If-Match` header) is checked in the store's own transaction, so no other writer can slip in
        between; raises `profiles.store.PreconditionFailed` when it no longer matches."""
        assert self.store is not None
        version, changed = await asyncio.to_thread(
            self.store.put_changed, profile, author, self.clock(), once_per_author=False, if_match=if_match
        )
        await self.inbox.call(msg.ProfileStored(profile, version, author, changed, publish=True))
        return version

    async def prune(self) -> int:
        assert self.pruner is not None
        return await self.pruner.prune()

    def mqtt_connected(self) -> bool:
        return self.bus is not None and self.bus.connected

    def forwarder_lag(self) -> int:
        """Committed events InfluxDB has not yet accepted. From ids, which grow in order: no query on the loop."""
        if self.forwarder is None or self.record is None:
            return 0
        return max(0, self.record.committed_id - self.forwarder.cursor)

    def health(self) -> dict[str, Any]:
        return {
            "status": "ok",
            "mqtt": "connected" if self.mqtt_connected() else "disconnected",
            "record_backlog": self.record.backlog if self.record is not None else 0,
            "uptime_s": round(time.monotonic() - self.started_at, 1),
            "forwarder": None
            if self.forwarder is None
            else {"lag": self.forwarder_lag(), "last_error": self.forwarder.last_error},
            "hue": self.hue.status(),
            "venue": self.venue.venue.id,
        }
