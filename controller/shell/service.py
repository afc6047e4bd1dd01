"""The edge service: one asyncio loop wiring presence -> resolve -> plan -> drivers, and recording every step.

Flow (DESIGN.md): MQTT messages arrive on `Bus.messages`; each is turned into our own values at once (a check-in,
a profile, a device report) and applied to the service's state. A reconcile then reads the clock once, resolves
the desired ambience, records what changed, and plans the minimal commands. Commands go through a leading-edge
coalescing window per device: the first goes out at once, what follows inside the window is re-planned from the
latest desired state when the window ends (latest state wins, never more than one command per device per window).

Kiosk check-ins are acknowledged to the broker only after their event is committed to the record.
"""

from __future__ import annotations

import asyncio
import contextlib
import dataclasses
import json
import logging
import os
import time
from collections import defaultdict
from collections.abc import Callable, Coroutine, Mapping
from dataclasses import dataclass
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

from controller.core import events as ev
from controller.core import home_assistant as ha
from controller.core.inputs import decode_object, parse_kiosk, shown
from controller.core.pacing import Pacer
from controller.core.plan import DEFAULT_MIRED_RANGE, Command, desired_for, plan
from controller.core.presence import CheckIn, Member, Presence, check_in, check_out, expire
from controller.core.resolve import Resolution, ZoneAmbience, resolve
from controller.core.retention import clock_tolerance, judge_clock, start_time
from controller.core.shadow import Shadow, is_manual_change, on_availability, on_command, on_override, on_report
from controller.core.topics import Topics
from controller.shell import record as rec
from controller.shell.bus import Bus, Message, Will
from controller.shell.forwarder import InfluxForwarder
from controller.shell.hue_link import HueLink
from controller.shell.record import RecordError, UnstorableEvent
from devices.compare import differences, meaningful_change
from devices.hue import HueCapabilities, from_hue, light_capabilities, supported, to_hue
from devices.hue_client import HueApiError, HueClient, HueError, HueUnauthorized, HueUnreachable
from devices.states import DeviceState, LightState, set_fields
from devices.units import kelvin_to_hex, xy_to_hex
from devices.z2m import decode_json_object, from_z2m, parse_availability, to_z2m
from profiles.communities import CommunityStore
from profiles.errors import FieldError, ProfileError
from profiles.loader import parse_profile
from profiles.profile import Profile, canonical_json
from profiles.store import ProfileStore, ProfileVersion
from profiles.venue import DeviceConfig, VenueConfig

log = logging.getLogger(__name__)

_REJECT_ERRORS_MAX = 20
_BATCH = 64  # messages handled before the consumer lets the loop run anything else


@dataclass(slots=True)
class Stats:
    checkins: int = 0
    commands_sent: int = 0
    commands_deferred: int = 0
    flap_holds: int = 0  # a device came back again soon after its last return and was held
    messages: int = 0
    rejected: int = 0
    reconciles: int = 0


@dataclass(frozen=True, slots=True)
class MqttDevice:
    config: DeviceConfig
    state_topic: str
    set_topic: str
    availability_topic: str


class Service:
    """`await Service(venue).run(stop)` runs until `stop` is set; `async with` for finer control in tests."""

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
        self.tick_s = tick_s
        self.prune_every_s = prune_every_s
        self.settle_s = settle_s
        self.topics = Topics.of(venue.venue.id)
        self.stats = Stats()
        base = venue.mqtt.base_topic
        self.devices: dict[str, DeviceConfig] = {}
        self.mqtt_devices: dict[str, MqttDevice] = {}
        self._by_state_topic: dict[str, MqttDevice] = {}
        self._by_availability_topic: dict[str, MqttDevice] = {}
        # Hue lights by bridge name, and by (bridge, light id) for what a poll returns.
        self.hue_lights: dict[str, list[DeviceConfig]] = defaultdict(list)
        self.hue_links: dict[str, HueLink] = {}
        self._hue_caps: dict[str, HueCapabilities] = {}
        for device in venue.devices:
            if device.driver == "hue" and device.bridge is not None and device.light is not None:
                self.devices[device.id] = device
                self.hue_lights[device.bridge].append(device)
                continue
            if device.topic is None:
                continue
            md = MqttDevice(
                device,
                f"{base}/{device.topic}",
                f"{base}/{device.topic}/set",
                f"{base}/{device.topic}/availability",
            )
            self.devices[device.id] = device
            self.mqtt_devices[device.id] = md
            self._by_state_topic[md.state_topic] = md
            self._by_availability_topic[md.availability_topic] = md
        self.profiles: dict[str, Profile] = {}
        self.presence = Presence()
        self.activations: dict[str, datetime] = {}
        self.forced: str | None = None  # a profile an operator forced (Home Assistant's select, the API)
        self.resolution: Resolution | None = None
        self.shadows: dict[str, Shadow] = {d: Shadow() for d in self.devices}
        self._pacer = Pacer(coalesce_window_s, flap_max_s=flap_max_s)
        self._flush_handle: asyncio.TimerHandle | None = None
        self._wake = asyncio.Event()
        self._settled_at: float | None = None
        # Which devices the next reconcile must plan: those with news since the last one, or all of them.
        self._dirty: set[str] = set()
        self._plan_all = True
        self._state_json: str | None = None
        self._discovery: dict[str, str] = {}  # Home Assistant config topic -> payload last published
        self._tasks: list[asyncio.Task[None]] = []
        self._max_reconnect_delay_s = max_reconnect_delay_s
        self.record: rec.EventRecord | None = None
        self.store: ProfileStore | None = None
        self.communities: CommunityStore | None = None
        self.forwarder: InfluxForwarder | None = None
        self.started_at = time.monotonic()
        self.bus: Bus | None = None
        self.started = asyncio.Event()
        self.failed = asyncio.Event()  # set when the record cannot be written: the service must stop
        self.failure: BaseException | None = None
        self._background: set[asyncio.Task[Any]] = set()
        self._next_full_plan = 0.0
        self._recorded: dict[str, tuple[DeviceState, float]] = {}  # device -> last state recorded, and when
        self._trusted = self.clock()  # retention's trusted time, from the record at start
        self._trusted_mono = time.monotonic()

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

    def _fail(self, exc: BaseException) -> None:
        if self.failure is None:
            self.failure = exc
            log.error("%s: stopping, so that nothing is acknowledged that is not stored", exc)
            self.failed.set()

    async def __aenter__(self) -> Service:
        venue = self.venue
        now = self.clock()
        self.record = rec.EventRecord(venue.store.path, venue.venue.id)
        # Retention's trusted time (controller/core/retention.py), read before this run stamps anything with its clock.
        self._trusted = start_time(self.record.state("retention_clock"), self.record.newest_ts(), now)
        self._trusted_mono = time.monotonic()
        self.store = ProfileStore(venue.store.path)
        self.communities = CommunityStore(venue.store.path)
        if venue.influx.url:
            # Fed from the record with a durable cursor: an InfluxDB outage only delays, never loses, events.
            self.forwarder = InfluxForwarder(venue.store.path, venue.influx, self.env.get(venue.influx.token_env))
            self.forwarder.start()
        if venue.profiles_dir:
            for version in await asyncio.to_thread(self.store.seed_from_dir, Path(venue.profiles_dir), now):
                self._emit(ev.ProfileUpdated(version.community_id, version.version, version.etag, version.author), now)
        self.profiles = dict(await asyncio.to_thread(self.store.latest_all))
        self.presence = Presence.of(Member(m, c, t) for m, c, t in self.record.presence_rows())
        saved = self.record.state("activations") or {}
        self.activations = {c: datetime.fromisoformat(t) for c, t in saved.items()}
        self.forced = self.record.state("forced")
        for device_id, until in (self.record.state("overrides") or {}).items():
            if device_id in self.shadows:
                self.shadows[device_id] = Shadow(override_until=datetime.fromisoformat(until))
        password = None
        if venue.mqtt.password_env:
            password = self.env.get(venue.mqtt.password_env)
        subscriptions = [
            (self.topics.checkin, 1),
            (self.topics.checkout, 1),
            (self.topics.force, 1),
            (self.topics.profiles + "+", 1),
        ]
        if venue.home_assistant.discovery:
            subscriptions.append((ha.birth_topic(venue), 0))
        for md in self.mqtt_devices.values():
            subscriptions += [(md.state_topic, 0), (md.availability_topic, 0)]
        self.bus = Bus(
            venue.mqtt.url,
            client_id=f"ambience-{venue.venue.id}",
            subscriptions=subscriptions,
            will=Will(self.topics.status, b"offline"),
            birth=Will(self.topics.status, b"online"),
            username=venue.mqtt.username,
            password=password,
            keepalive_s=venue.mqtt.keepalive_s,
            on_connect=self._on_connect,
            on_disconnect=self._on_disconnect,
            max_reconnect_delay_s=self._max_reconnect_delay_s,
        )
        await self.bus.__aenter__()
        self._tasks = [
            *self._start_hue_links(now),
            asyncio.create_task(self._consume(), name="consume"),
            asyncio.create_task(self._reconcile_loop(), name="reconcile"),
            asyncio.create_task(self._prune_loop(), name="prune"),
        ]
        log.info(
            "venue %s: %d devices, %d profiles, %d members present",
            venue.venue.id,
            len(self.devices),
            len(self.profiles),
            self.presence.total,
        )
        self.started.set()
        return self

    async def __aexit__(self, *exc: object) -> None:
        tasks = [*self._tasks, *self._background]
        for task in tasks:
            task.cancel()
        # gather, not `suppress(CancelledError)` around each await: that would also swallow a cancel aimed at
        # whoever is stopping the service.
        await asyncio.gather(*tasks, return_exceptions=True)
        if self._flush_handle is not None:
            self._flush_handle.cancel()
        if self.bus is not None:
            await self.bus.close(final=Will(self.topics.status, b"offline"))
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

    # -- connection ------------------------------------------------------------------------------------------

    def _on_connect(self) -> None:
        self._settled_at = asyncio.get_running_loop().time() + self.settle_s
        self._plan_all = True
        if self._state_json is not None and self.bus is not None:
            self.bus.publish(self.topics.state, self._state_json, retain=True)
        self._publish_discovery(everything=True)
        self._wake.set()

    def _on_disconnect(self) -> None:
        self._settled_at = None

    # -- messages --------------------------------------------------------------------------------------------

    async def _consume(self) -> None:
        """Messages in batches of at most `_BATCH`, yielding between them: a flood of check-ins shares the loop
        with the API, the reconciler and the record's acknowledgements instead of holding it until it is over
        (`Queue.get` on a queue that is not empty returns without ever giving the loop away)."""
        assert self.bus is not None
        queue = self.bus.messages
        while True:
            message = await queue.get()
            self._handle(message)
            for _ in range(_BATCH - 1):
                if queue.empty():
                    break
                self._handle(queue.get_nowait())
            self._wake.set()
            await asyncio.sleep(0)

    def _handle(self, message: Message) -> None:
        self.stats.messages += 1
        now = self.clock()
        try:
            if (md := self._by_state_topic.get(message.topic)) is not None:
                self._device_report(md, message, now)
            elif (md := self._by_availability_topic.get(message.topic)) is not None:
                self._device_availability(md, message, now)
            elif message.topic == self.topics.checkin:
                self._kiosk_checkin(message, now)
            elif message.topic == self.topics.checkout:
                self._kiosk_checkout(message, now)
            elif message.topic.startswith(self.topics.profiles):
                self._hub_profile(message, now)
            elif message.topic == self.topics.force:
                self._force_command(message, now)
            elif message.topic == ha.birth_topic(self.venue):
                if message.payload.strip() == b"online":  # Home Assistant (re)started: it may have lost them
                    self._publish_discovery(everything=True)
                self._ack(message)
            else:
                self._ack(message)
        except RecordError as exc:  # not stored: not acknowledged (the broker delivers it again after a restart)
            self._fail(exc)
        except UnstorableEvent as exc:  # what the record could never hold: refused at the edge, never retried
            self._reject(message, now, [FieldError("(payload)", f"cannot be stored: {exc}")])
        except Exception:  # one bad message must never stop the venue
            log.exception("message on %s could not be handled", message.topic)
            self._ack(message)

    def _ack(self, message: Message) -> None:
        if self.bus is not None:
            self.bus.ack(message)

    def _ack_when_durable(self, message: Message, future: asyncio.Future[int] | None) -> None:
        if future is None:
            self._ack(message)
        else:
            future.add_done_callback(lambda f: self._fail(f.exception()) if f.exception() else self._ack(message))  # type: ignore[arg-type]

    def _reject(self, message: Message, now: datetime, errors: list[FieldError]) -> None:
        """Bad input changes nothing: it is recorded, reported back on `<venue>/rejected`, and acknowledged.

        What is echoed is bounded (the topic, at most `_REJECT_ERRORS_MAX` errors of bounded length): a 5 MB message
        must not become 5 MB in the record, the log and the rejected topic."""
        self.stats.rejected += 1
        listed = [{"path": e.path[:200], "message": e.message[:300]} for e in errors[:_REJECT_ERRORS_MAX]]
        more = len(errors) - len(listed)
        rejected = ev.InputRejected(message.topic[:300], listed, more or None)
        log.warning(
            "rejected message on %s: %s", rejected.topic, "; ".join(f"{e['path']}: {e['message']}" for e in listed)
        )
        future = self._emit(rejected, now, durable=True)
        if self.bus is not None:
            self.bus.publish(self.topics.rejected, json.dumps(rejected.body()), qos=1)
        self._ack_when_durable(message, future)

    def _kiosk_checkin(self, message: Message, now: datetime) -> None:
        kiosk, errors = parse_kiosk(message.payload, need_community=True, knows=self.knows)
        if kiosk is None:
            self._reject(message, now, errors)
            return
        self.checkin(kiosk.member_id, kiosk.community_id, now, source="mqtt", message=message)

    def _kiosk_checkout(self, message: Message, now: datetime) -> None:
        kiosk, errors = parse_kiosk(message.payload, need_community=False, knows=self.knows)
        if kiosk is None:
            self._reject(message, now, errors)
            return
        if not self.checkout(kiosk.member_id, now, source="mqtt", message=message):
            self._reject(message, now, [FieldError("member_id", f"{shown(kiosk.member_id)} is not checked in")])

    def checkin(
        self, member_id: str, community_id: str, now: datetime, source: str, message: Message | None = None
    ) -> tuple[CheckIn, asyncio.Future[int] | None]:
        """The one path for every check-in (kiosk over MQTT, HTTP). The caller validated the input.

        The event is emitted before presence changes, so a record that cannot be written changes nothing.
        """
        presence, outcome, previous = check_in(self.presence, member_id, community_id, now)
        future = None
        if outcome is not CheckIn.ALREADY_PRESENT:
            event = ev.Checkin(
                member_id,
                community_id,
                source,
                presence.count(community_id),
                moved_from=previous.community_id if previous is not None else None,
                moved_from_present=presence.count(previous.community_id) if previous is not None else None,
            )
            future = self._emit(event, now, [rec.presence_upsert(member_id, community_id, now)], durable=True)
            self.presence = presence
            self.stats.checkins += 1
            self._wake.set()
        if message is not None:
            self._ack_when_durable(message, future)
        return outcome, future

    def checkout(
        self, member_id: str, now: datetime, source: str, message: Message | None = None
    ) -> asyncio.Future[int] | bool | None:
        presence, member = check_out(self.presence, member_id)
        if member is None:
            return False
        event = ev.Checkout(member_id, member.community_id, source, presence.count(member.community_id))
        future = self._emit(event, now, [rec.presence_delete(member_id)], durable=True)
        self.presence = presence
        if message is not None:
            self._ack_when_durable(message, future)
        self._wake.set()
        return future

    def _hub_profile(self, message: Message, now: datetime) -> None:
        community_id = message.topic[len(self.topics.profiles) :]
        if not message.payload:  # a cleared retained message: nothing to store
            self._ack(message)
            return
        data, errors = decode_object(message.payload, "a profile")
        if data is None:
            self._reject(message, now, errors)
            return
        try:
            profile = parse_profile(data)
        except ProfileError as exc:
            self._reject(message, now, exc.errors)
            return
        if profile.community_id != community_id:
            self._reject(message, now, [FieldError("community_id", f"must match the topic ({shown(community_id)})")])
            return
        # Known at once, so a check-in for this community in the same batch of messages is not rejected.
        self.profiles.setdefault(profile.community_id, profile)
        self._spawn(self._store_hub_profile(profile, now, message))

    def _force_command(self, message: Message, now: datetime) -> None:
        community_id, error = ha.parse_force(message.payload)
        if error is not None:
            self._reject(message, now, [FieldError("(payload)", error)])
            return
        if community_id is not None and community_id not in self.profiles:
            self._reject(message, now, [FieldError("community_id", f"no profile for {shown(community_id)}")])
            return
        future = self.force(community_id, now, source="mqtt")
        self._ack_when_durable(message, future)

    def force(self, community_id: str | None, now: datetime, source: str) -> asyncio.Future[int] | None:
        """Drive the room with one profile whoever is here, or (None) go back to the venue's policy.

        Kept in the record with its event, so it survives a restart; the caller checked the profile exists."""
        if community_id == self.forced:
            return None
        future = self._emit(
            ev.ProfileForced(community_id, self.forced, source),
            now,
            [rec.state_set("forced", community_id)],
            durable=True,
        )
        self.forced = community_id
        self._wake.set()
        return future

    def _publish_discovery(self, *, everything: bool = False) -> None:
        """Home Assistant's discovery configs, retained: those that changed, or all of them (on a (re)connect and
        when Home Assistant starts). With discovery off, empty ones remove what an earlier run created."""
        if self.bus is None:
            return
        for topic, payload in ha.discovery_messages(self.venue, self.profiles):
            if everything or self._discovery.get(topic) != payload:
                self.bus.publish(topic, payload, qos=1, retain=True)
                self._discovery[topic] = payload

    def _spawn(self, coro: Coroutine[Any, Any, Any]) -> None:
        """A background task that is kept (not garbage-collected mid-flight) and whose failure is not silent."""
        task = asyncio.get_running_loop().create_task(coro)
        self._background.add(task)
        task.add_done_callback(self._background_done)

    def _background_done(self, task: asyncio.Task[Any]) -> None:
        self._background.discard(task)
        if task.cancelled() or task.exception() is None:
            return
        exc = task.exception()
        if isinstance(exc, RecordError):
            self._fail(exc)
        else:
            log.error("background task failed", exc_info=exc)

    async def _store_hub_profile(self, profile: Profile, now: datetime, message: Message) -> None:
        """A profile from the hub; one the store refuses is rejected (and so acknowledged), never left unacknowledged:
        an unacknowledged message holds one of the broker's few in-flight slots for this session for ever."""
        try:
            await self._store_profile(profile, "mqtt", now, message)
        except RecordError:
            raise
        except Exception as exc:
            log.exception("profile %s from the hub could not be stored", profile.community_id)
            self._reject(message, now, [FieldError("(payload)", f"could not be stored: {type(exc).__name__}")])

    async def _store_profile(
        self, profile: Profile, author: str, now: datetime, message: Message | None, if_match: str | None = None
    ) -> ProfileVersion:
        """Store a validated profile as a new version (unless it is the latest already) and apply it at once.

        `if_match`: the ETag the writer read; checked in the store's own transaction (`PreconditionFailed`), so no
        other writer (the hub, another request) can slip in between the check and the write."""
        assert self.store is not None
        # From the hub (author mqtt): a repeat of what it last sent is its retained message again, not an edit.
        version, changed = await asyncio.to_thread(
            self.store.put_changed, profile, author, now, once_per_author=author == "mqtt", if_match=if_match
        )
        future = None
        if changed:
            future = self._emit(
                ev.ProfileUpdated(profile.community_id, version.version, version.etag, author), now, durable=True
            )
            self.profiles[profile.community_id] = profile
            self._publish_discovery()  # a new community is a new option of the select
            self._wake.set()
        if message is not None:
            self._ack_when_durable(message, future)
        elif future is not None:
            await future
        return version

    def _device_report(self, md: MqttDevice, message: Message, now: datetime) -> None:
        data = decode_json_object(message.payload)
        if data is None:
            log.debug("device %s: ignored a state message that is not a JSON object", md.config.id)
            return
        self._report(md.config, from_z2m(md.config.kind, data), now, live=not message.retain)

    def _report(self, device: DeviceConfig, state: DeviceState, now: datetime, *, live: bool) -> None:
        """What a device says it is, from any driver: recorded, compared with what we asked, maybe an override."""
        shadow = self.shadows[device.id]
        mireds = self._mireds(device)
        zones = self.resolution.zones if self.resolution is not None else {}
        desired, _ = desired_for(device, zones)
        manual = (
            live and self.venue.policy.override_minutes > 0 and is_manual_change(shadow, state, desired, now, mireds)
        )
        if live and shadow.online is not True:
            self._emit(ev.DeviceOnline(device.id, "state"), now)
            if shadow.online is False:
                self._came_back(device.id)
        self._record_state(device, state, now, mireds)
        self.shadows[device.id] = on_report(shadow, state, now, live=live, mired_range=mireds)
        if manual:
            self._override(device.id, state, shadow.reported, now)
        self._dirty.add(device.id)

    def _record_state(self, device: DeviceConfig, state: DeviceState, now: datetime, mireds: tuple[int, int]) -> None:
        """A report goes into the record when it says something new beyond the tolerances, and otherwise (a
        different value within them) at most every `store.device_state_every_s`; a repeat never."""
        mono = time.monotonic()
        last = self._recorded.get(device.id)
        if last is not None:
            recorded, at = last
            if state == recorded:
                return
            if not meaningful_change(state, recorded, mired_range=mireds) and (
                mono - at < self.venue.store.device_state_every_s
            ):
                return
        self._emit(ev.DeviceState(device.id, device.kind, set_fields(state)), now)
        self._recorded[device.id] = (state, mono)

    def _mireds(self, device: DeviceConfig) -> tuple[int, int]:
        caps = self._hue_caps.get(device.id)
        return device.color_temp_range or (caps.mireds if caps is not None else DEFAULT_MIRED_RANGE)

    def _override(self, device_id: str, state: DeviceState, before: DeviceState | None, now: datetime) -> None:
        """A person changed the device: respect it for `override_minutes`, then the controller reasserts. Kept in
        the store with the event, so a restart does not undo a person's choice."""
        until = now + timedelta(minutes=self.venue.policy.override_minutes)
        self.shadows[device_id] = on_override(self.shadows[device_id], until)
        changed = differences(state, before) if before is not None else state
        active = {
            d: s.override_until.isoformat()
            for d, s in self.shadows.items()
            if s.override_until is not None and s.overridden(now)
        }
        self._emit(
            ev.ManualOverride(device_id, set_fields(changed) if changed else {}, until.isoformat()),
            now,
            [rec.state_set("overrides", active)],
        )

    def _device_availability(self, md: MqttDevice, message: Message, now: datetime) -> None:
        online = parse_availability(message.payload)
        if online is None:
            log.debug("device %s: unreadable availability %r", md.config.id, message.payload[:40])
            return
        self._availability(md.config.id, online, "availability", now)

    def _availability(self, device_id: str, online: bool, via: str, now: datetime) -> None:
        shadow = self.shadows[device_id]
        if shadow.online is online:
            return
        self._emit(ev.DeviceOnline(device_id, via) if online else ev.DeviceOffline(device_id, via), now)
        if online and shadow.online is False:
            self._came_back(device_id)
        self.shadows[device_id] = on_availability(shadow, online, now)
        self._dirty.add(device_id)

    # -- Hue bridges: what their links report (on the loop) -------------------------------------------------------

    def _start_hue_links(self, now: datetime) -> list[asyncio.Task[None]]:
        tasks = []
        for name, lights in self.hue_lights.items():
            settings = self.venue.hue_bridges[name]
            username = self.env.get(settings.username_env)
            if not username:
                reason = (
                    f"environment variable {settings.username_env} is not set: "
                    f"run `ambience hue pair --host {settings.host}` and export what it prints"
                )
                log.error("hue bridge %s: %s", name, reason)
                self._emit(ev.BridgeError(name, "start", reason), now)
                for device in lights:
                    self._availability(device.id, False, "hue", now)
                continue
            link = HueLink(name, settings, HueClient(settings.host, username), self)
            self.hue_links[name] = link
            tasks.append(asyncio.create_task(link.run(), name=f"hue-{name}"))
        return tasks

    def on_poll(self, link: HueLink, lights: Mapping[str, Mapping[str, Any]]) -> None:
        """A bridge answered a poll: each configured light's state and reachability, as from any device."""
        now = self.clock()
        try:
            for device in self.hue_lights[link.name]:
                light = lights.get(str(device.light))
                if light is None:
                    self._availability(device.id, False, "hue", now)
                    continue
                self._hue_caps[device.id] = light_capabilities(light)
                state, reachable = from_hue(light)
                self._availability(device.id, reachable, "hue", now)
                if reachable:
                    self._report(device, state, now, live=True)
        except RecordError as exc:
            self._fail(exc)
        self._wake.set()

    def on_error(self, link: HueLink, error: HueError, context: str) -> None:
        """Recorded with the bridge's own message; a bridge that is away (or refuses us) takes its lights offline."""
        now = self.clock()
        event = ev.BridgeError(link.name, context[:200], str(error)[:500])
        if isinstance(error, HueApiError):
            event = dataclasses.replace(
                event, error_type=error.type, address=error.address, description=error.description
            )
        try:
            self._emit(event, now)
            if isinstance(error, HueUnreachable | HueUnauthorized):
                for device in self.hue_lights[link.name]:
                    self._availability(device.id, False, "hue", now)
        except RecordError as exc:
            self._fail(exc)
        self._wake.set()

    def _came_back(self, device_id: str) -> None:
        hold = self._pacer.came_back(device_id, asyncio.get_running_loop().time())
        if hold > 0:
            self.stats.flap_holds += 1
            log.info(
                "device %s: back again (%d returns in a row), next command in %.0f s",
                device_id,
                self._pacer.flapping(device_id),
                hold,
            )

    # -- what the HTTP API calls: the same paths as MQTT, awaited until durable ------------------------------------

    def knows(self, community_id: str) -> bool:
        """A community the venue knows: registered through the API, or with a profile (from a file or the hub)."""
        if community_id in self.profiles:
            return True
        return self.communities is not None and self.communities.get(community_id) is not None

    async def check_in(self, member_id: str, community_id: str, source: str = "http") -> CheckIn:
        outcome, future = self.checkin(member_id, community_id, self.clock(), source)
        if future is not None:
            await future
        return outcome

    async def check_out(self, member_id: str, source: str = "http") -> bool:
        """False if the member was not checked in."""
        result = self.checkout(member_id, self.clock(), source)
        if result is False:
            return False
        if isinstance(result, asyncio.Future):
            await result
        return True

    async def force_profile(self, community_id: str | None, source: str = "http") -> None:
        """The API's force: durable before it returns. The caller checked that the profile exists."""
        future = self.force(community_id, self.clock(), source)
        if future is not None:
            await future

    async def put_profile(self, profile: Profile, author: str, if_match: str | None = None) -> ProfileVersion:
        """Store, record and apply a profile, and publish it retained for the hub and the venue's other tools.

        Raises `profiles.store.PreconditionFailed` when `if_match` (an `If-Match` header) no longer matches."""
        version = await self._store_profile(profile, author, self.clock(), None, if_match)
        if self.bus is not None:
            self.bus.publish(self.topics.profiles + profile.community_id, canonical_json(profile), retain=True)
        return version

    def state_view(self) -> dict[str, Any]:
        """Who is here per community, the active profile and phase, the desired ambience per zone."""
        res = self.resolution
        view: dict[str, Any] = self.state_json(res) if res is not None else {"venue": self.venue.venue.id}
        present: dict[str, list[str]] = {}
        for member in self.presence.members.values():
            present.setdefault(member.community_id, []).append(member.member_id)
        view["present"] = {c: sorted(m) for c, m in sorted(present.items())}
        view["active_since"] = {c: t.isoformat() for c, t in self.activations.items()}
        return view

    def devices_view(self) -> list[dict[str, Any]]:
        """Each device: desired, reported, online, last seen (human units; `color_hex` for people)."""
        zones = self.resolution.zones if self.resolution is not None else {}
        out: list[dict[str, Any]] = []
        for device in self.venue.devices:
            shadow = self.shadows.get(device.id, Shadow())
            desired, _ = desired_for(device, zones)
            out.append(
                {
                    "id": device.id,
                    "kind": device.kind,
                    "zone": device.zone,
                    "driver": device.driver,
                    "supported": device.id in self.devices,
                    "desired": _view(desired),
                    "reported": _view(shadow.reported),
                    "online": shadow.online,
                    "last_seen": shadow.last_seen.isoformat() if shadow.last_seen else None,
                    "pending": _view(shadow.pending),
                    # The server's judgement, with devices/compare.py's tolerances: what the dashboard shows.
                    "in_sync": desired is not None
                    and shadow.reported is not None
                    and differences(desired, shadow.reported, mired_range=self._mireds(device)) is None,
                }
            )
        return out

    def forwarder_lag(self) -> int:
        """Committed events InfluxDB has not yet accepted. From ids, which grow in order: no query on the loop."""
        if self.forwarder is None or self.record is None:
            return 0
        return max(0, self.record.committed_id - self.forwarder.cursor)

    def health(self) -> dict[str, Any]:
        return {
            "status": "ok",
            "mqtt": "connected" if self.bus is not None and self.bus.connected else "disconnected",
            "record_backlog": self.record.backlog if self.record is not None else 0,
            "uptime_s": round(time.monotonic() - self.started_at, 1),
            "forwarder": None
            if self.forwarder is None
            else {"lag": self.forwarder_lag(), "last_error": self.forwarder.last_error},
            "hue": {name: link.status() for name, link in self.hue_links.items()},
            "venue": self.venue.venue.id,
        }

    # -- retention -------------------------------------------------------------------------------------------

    async def _prune_loop(self) -> None:
        while True:
            try:
                await self.prune()
            except Exception:  # a failed prune only keeps old events longer
                log.exception("pruning the event record failed; trying again later")
            await asyncio.sleep(self.prune_every_s)

    async def prune(self) -> int:
        """Delete events older than `store.retention_days`, but only those InfluxDB already has when a forwarder
        runs (an outage longer than the retention keeps them until they are delivered), and never by a wall clock
        that jumped ahead of what the venue knows (`controller/core/retention.py`); then `retention_held` is
        recorded."""
        assert self.record is not None
        wall, mono = self.clock(), time.monotonic()
        judged = judge_clock(
            self._trusted, self._trusted_mono, wall, mono, clock_tolerance(self.venue.store.retention_days)
        )
        self._trusted, self._trusted_mono = judged.trusted, mono
        if judged.ahead is not None:
            log.warning(
                "event record: the clock says %s but the record and the uptime say it is at most %s; "
                "pruning by the latter (check the system clock and NTP)",
                wall.isoformat(),
                judged.prune_by.isoformat(),
            )
            held = ev.RetentionHeld(wall.isoformat(), judged.prune_by.isoformat(), round(judged.ahead.total_seconds()))
            self._emit(held, wall)
        older_than = judged.prune_by - timedelta(days=self.venue.store.retention_days)
        up_to = self.forwarder.cursor if self.forwarder is not None else self.record.committed_id
        suspect = judged.ahead is not None
        trusted = ("retention_clock", {"trusted": judged.trusted.isoformat(), "suspect": suspect})
        deleted = await asyncio.to_thread(self.record.prune, older_than, up_to, keep_state=trusted)
        if deleted:
            log.info("event record: pruned %d events from before %s", deleted, older_than.isoformat())
        return deleted

    # -- reconcile -------------------------------------------------------------------------------------------

    async def _reconcile_loop(self) -> None:
        loop = asyncio.get_running_loop()
        while True:
            # asyncio.timeout, not wait_for: on 3.11 wait_for loses a cancel that arrives as the wake completes,
            # and the service would then never stop.
            with contextlib.suppress(TimeoutError):
                async with asyncio.timeout(self.tick_s):
                    await self._wake.wait()
            self._wake.clear()
            if loop.time() >= self._next_full_plan:
                # Once a tick, by the clock and not only when idle: a venue whose devices chatter all the time
                # must still retry commands that a silent device never confirmed.
                self._plan_all = True
                self._next_full_plan = loop.time() + self.tick_s
            try:
                self.reconcile()
            except RecordError as exc:
                self._fail(exc)
            except Exception:
                log.exception("reconcile failed; retrying on the next tick")

    def reconcile(self) -> None:
        now = self.clock()
        self.stats.reconciles += 1
        ttl = timedelta(hours=self.venue.policy.checkin_ttl_hours)
        self.presence, gone = expire(self.presence, now, ttl)
        left = self.presence.headcount() if gone else {}
        for member in gone:
            expired = ev.CheckinExpired(
                member.member_id,
                member.community_id,
                member.checked_in_at.isoformat(),
                left.get(member.community_id, 0),
            )
            self._emit(expired, now, [rec.presence_delete(member.member_id)])
        resolution = resolve(self.presence, self.profiles, self.venue, self.activations, now, self.forced)
        previous = self.resolution
        self._record_resolution(previous, resolution, now)
        self.resolution = resolution
        self.activations = dict(resolution.activations)
        # A changed ambience concerns every device; otherwise only those that reported something since last time
        # (a venue's devices answering one check-in must not cost a full plan each: that grows with the square).
        if self._plan_all or previous is None or previous.zones != resolution.zones:
            devices = list(self.devices.values())
        else:
            devices = [self.devices[d] for d in self._dirty]
        self._plan_all = False
        self._dirty.clear()
        self._dispatch(plan(devices, resolution.zones, self.shadows, now))

    def _record_resolution(self, old: Resolution | None, new: Resolution, now: datetime) -> None:
        if old == new:
            return  # most reconciles (device reports, ticks) change nothing: no events, and no state to re-serialise
        if old is None or old.active != new.active or old.source != new.source:
            saved = {c: t.isoformat() for c, t in new.activations.items()}
            self._emit(
                ev.ProfileActivated(
                    new.leader, list(new.active), new.source, old.leader if old else None, dict(new.headcount)
                ),
                now,
                [rec.state_set("activations", saved)],
            )
        if (old.phase if old else None) != new.phase or (
            old is not None and old.leader != new.leader and new.phase is not None
        ):
            self._emit(ev.PhaseChanged(new.leader, new.phase, old.phase if old else None), now)
        if old is None or old.zones != new.zones:
            self._emit(ev.AmbienceApplied(new.leader, new.phase, zones_json(new.zones)), now)
        old_clamps = set(old.clamps) if old else set()
        for clamp in new.clamps:
            if clamp not in old_clamps:
                self._emit(ev.LimitClamped(clamp.zone, clamp.field, clamp.requested, clamp.applied, clamp.limit), now)
        state = json.dumps(self.state_json(new), separators=(",", ":"))
        if state != self._state_json:
            self._state_json = state
            if self.bus is not None:
                self.bus.publish(self.topics.state, state, retain=True)

    def state_json(self, resolution: Resolution) -> dict[str, Any]:
        return {
            "venue": self.venue.venue.id,
            "headcount": dict(sorted(resolution.headcount.items())),
            "total": resolution.total,
            "eligible": list(resolution.eligible),
            "active_profile": resolution.leader,
            "active": list(resolution.active),
            "source": resolution.source,
            "forced": resolution.leader if resolution.source == "forced" else None,
            "phase": resolution.phase,
            "zones": zones_json(resolution.zones),
        }

    def _dispatch(self, commands: list[Command]) -> None:
        if not commands:
            return
        loop = asyncio.get_running_loop()
        mono = loop.time()
        bus = self.bus
        # Nothing is queued for a broker we cannot reach (the next connect re-plans), and just after a connect
        # the devices' retained states are still arriving: MQTT devices are planned once they have.
        mqtt_ready = bus is not None and bus.connected
        if mqtt_ready and self._settled_at is not None and mono < self._settled_at:
            mqtt_ready = False
            self._plan_all = True
            self._schedule_wake(self._settled_at)
        sent_at = self.clock()  # read beside `mono`, so the record shows when commands really went out
        hue: dict[str, list[Command]] = defaultdict(list)
        for command in commands:
            device = self.devices[command.device_id]
            if device.driver == "mqtt" and not mqtt_ready:
                continue
            held_until = self._pacer.admit(command.device_id, mono)
            if held_until is not None:
                self.stats.commands_deferred += 1
                self._dirty.add(command.device_id)  # planned again, from the latest desired state, when it opens
                self._schedule_wake(held_until)
            elif device.driver == "hue" and device.bridge is not None:
                hue[device.bridge].append(command)
            else:
                self._send(command, sent_at)
        for bridge, batch in hue.items():
            self._send_hue(bridge, batch, sent_at)

    def _send_hue(self, bridge: str, commands: list[Command], now: datetime) -> None:
        """One planning round's commands to one bridge: paced there, as group commands where a group fits."""
        link = self.hue_links.get(bridge)
        if link is None:
            return  # not paired: its lights are offline and never planned; reached only by a race at start
        bodies: dict[str, dict[str, Any]] = {}
        sent: list[tuple[str, LightState, str]] = []
        for command in commands:
            device = self.devices[command.device_id]
            change = command.change
            if not isinstance(change, LightState):
                continue  # a hue device is a light (the venue config refuses any other kind)
            if (caps := self._hue_caps.get(device.id)) is not None:
                change = supported(change, caps)  # a white-only bulb is not sent a colour it would refuse
            body = to_hue(change, command.transition_s, self._mireds(device))
            if body:
                light_id = str(device.light)
                bodies[light_id] = body
                sent.append((device.id, change, light_id))
        plan = link.submit(bodies)
        via_group = {light: gid for gid in plan.groups for light in link.groups.get(gid, ())}
        for device_id, change, light_id in sent:
            self.shadows[device_id] = on_command(self.shadows[device_id], change, now)
            self.stats.commands_sent += 1
            event = ev.CommandSent(
                device_id, bodies[light_id], bridge=bridge, light=light_id, group=via_group.get(light_id)
            )
            self._emit(event, now)

    def _schedule_wake(self, at: float) -> None:
        """Wake the reconciler at loop time `at`, unless a wake at or before then is already pending."""
        handle = self._flush_handle
        if handle is not None and handle.when() <= at:
            return
        if handle is not None:
            handle.cancel()
        self._flush_handle = asyncio.get_running_loop().call_at(at, self._timed_wake)

    def _timed_wake(self) -> None:
        self._flush_handle = None  # fired: the next hold may schedule its own wake
        self._wake.set()

    def _send(self, command: Command, now: datetime) -> None:
        assert self.bus is not None
        md = self.mqtt_devices[command.device_id]
        mireds = md.config.color_temp_range or DEFAULT_MIRED_RANGE
        payload = to_z2m(command.change, transition_s=command.transition_s, mired_range=mireds)
        self.bus.publish(md.set_topic, json.dumps(payload, separators=(",", ":")), qos=1)
        self.shadows[command.device_id] = on_command(self.shadows[command.device_id], command.change, now)
        self.stats.commands_sent += 1
        self._emit(ev.CommandSent(command.device_id, payload, topic=md.set_topic), now)

    # -- record ----------------------------------------------------------------------------------------------

    def _emit(
        self,
        event: ev.EventBody,
        now: datetime,
        mutations: list[rec.Mutation] | None = None,
        *,
        durable: bool = False,
    ) -> asyncio.Future[int] | None:
        assert self.record is not None
        return self.record.emit(event.TYPE, event.body(), now, mutations or (), durable=durable)


def _view(state: DeviceState | None) -> dict[str, Any] | None:
    if state is None:
        return None
    view = set_fields(state)
    if isinstance(state, LightState) and state.on:
        pct = state.brightness if state.brightness is not None else 100.0
        if state.color_xy is not None:
            view["color_hex"] = xy_to_hex(state.color_xy, pct)
        elif state.color_temp_k is not None:
            view["color_hex"] = kelvin_to_hex(state.color_temp_k, pct)
    return view


def zones_json(zones: Mapping[str, ZoneAmbience]) -> dict[str, Any]:
    """Desired ambience per zone in the profile's human units (what people and the state topic read)."""
    out: dict[str, Any] = {}
    for name, zone in zones.items():
        entry: dict[str, Any] = {}
        if zone.light is not None:
            light = {
                k: v
                for k, v in (
                    ("on", zone.light.on),
                    ("brightness", zone.light.brightness),
                    ("color_temp_k", zone.light.color_temp_k),
                    ("color", zone.color_hex),
                    ("transition_s", zone.transition_s),
                )
                if v is not None
            }
            entry["lighting"] = light
        for key, section in (("climate", zone.climate), ("audio", zone.audio), ("scent", zone.scent)):
            if section is not None:
                entry[key] = set_fields(section)
        out[name] = entry
    return out
