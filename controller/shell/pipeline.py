"""The one path every input takes: step, commit, and only then adopt the state, answer the input and carry out the
commands (docs/architecture.md).

    item from the inbox -> (a driver's observation | a typed input from `parse_message`) -> step(state, input, now)
        -> recorder.commit(events)     refused: nothing adopted, nothing answered (the broker redelivers)
        -> state adopted, counters
        -> commands: publish | dispatch (then `CommandsSent`) | store a hub profile (then `ProfileStored`) | flap hold
        -> acknowledge the MQTT message / answer the API call, once the events are durable
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Callable, Coroutine
from datetime import datetime
from typing import Any

from controller.core import messages as msg
from controller.core.inputs import parse_message
from controller.core.outputs import DeviceReturned, Drive, Output, Publish, StoreProfile
from controller.core.state import VenueState
from controller.core.venue import step
from controller.shell.bus import Bus, Message
from controller.shell.dispatcher import Dispatcher
from controller.shell.inbox import Envelope
from controller.shell.record import RecordError, UnstorableEvent
from controller.shell.recorder import Recorder
from controller.shell.stats import Stats
from devices.z2m_driver import Z2MDriver
from profiles.errors import FieldError
from profiles.store import ProfileStore

__all__ = ["Origin", "Pipeline"]

log = logging.getLogger(__name__)

Origin = Message | asyncio.Future[Any] | None
"""Who waits for an input's events to be durable: the broker (an MQTT message to acknowledge), an API call."""


class Pipeline:
    def __init__(
        self,
        state: VenueState,
        *,
        clock: Callable[[], datetime],
        recorder: Recorder,
        dispatcher: Dispatcher,
        z2m: Z2MDriver,
        store: ProfileStore,
        stats: Stats,
        knows: Callable[[str], bool],
        birth_topic: str | None,
    ) -> None:
        self.state = state
        self.clock = clock
        self.recorder = recorder
        self.dispatcher = dispatcher
        self.z2m = z2m
        self.store = store
        self.stats = stats
        self.knows = knows
        self.birth_topic = birth_topic
        self.bus: Bus | None = None
        self.background: set[asyncio.Task[Any]] = set()

    def handle(self, item: Message | Envelope) -> None:
        """One input from the inbox. One bad input must never stop the venue: a rule that fails is logged, and
        its message acknowledged or its caller answered with the error."""
        if isinstance(item, Envelope):
            try:
                self._apply(item.input, item.reply)
            except Exception as exc:
                log.exception("%s could not be handled", type(item.input).__name__)
                self._refuse(item.reply, exc)
            return
        self.stats.messages += 1
        try:
            seen = self.z2m.observe(item.topic, item.payload, retain=item.retain)
            if seen is not None:
                self._apply(msg.Observed(tuple(seen), time.monotonic()), None)
                self._ack(item)
                return
            topics = self.state.site.topics
            parsed = parse_message(topics, item.topic, item.payload, knows=self.knows, birth_topic=self.birth_topic)
            if parsed is None:
                self._ack(item)
            else:
                self._apply(parsed, item)
        except Exception:
            log.exception("message on %s could not be handled", item.topic)
            self._ack(item)

    def _apply(self, input: msg.Input, origin: Origin) -> None:
        """Step, commit, and only then adopt the state and carry out the commands; the origin is answered once
        the step's events are durable. A step the record refuses changes nothing and answers nothing (a message
        is delivered again after a restart), except input that could never be stored: that is rejected."""
        now = self.clock()
        result = step(self.state, input, now)
        try:
            durable = self.recorder.commit(result.events, now)
        except UnstorableEvent as exc:
            if isinstance(origin, asyncio.Future):
                self._refuse(origin, exc)
            elif isinstance(origin, Message) and not isinstance(input, msg.Rejected):
                self._apply(msg.Rejected(origin.topic, (FieldError("(payload)", f"cannot be stored: {exc}"),)), origin)
            else:
                log.warning("%s not recorded: %s", type(input).__name__, exc)
                if isinstance(origin, Message):
                    self._ack(origin)
            return
        except RecordError as exc:
            self.recorder.fail(exc)
            self._refuse(origin, exc)
            return
        self.state = result.state
        self.stats.count(result.events)
        answered_later = False
        for command in result.commands:
            answered_later |= self._carry_out(command, origin)
        if not answered_later:
            self.recorder.when_durable(
                durable, lambda: self._answer(origin, result.reply), lambda exc: self._refuse(origin, exc)
            )
        if not isinstance(input, msg.Tick | msg.CommandsSent):
            self.dispatcher.wake()

    def _carry_out(self, command: Output, origin: Origin) -> bool:
        """True when the origin is answered by a later step (a hub profile, once the store has written it)."""
        if isinstance(command, Publish):
            if self.bus is not None:
                self.bus.publish(command.topic, command.payload, qos=command.qos, retain=command.retain)
        elif isinstance(command, Drive):
            sent = self.dispatcher.dispatch(command.commands)
            if sent:
                self._apply(msg.CommandsSent(tuple(sent)), None)
        elif isinstance(command, StoreProfile):
            assert isinstance(origin, Message)
            self._spawn(self._store_hub_profile(command, origin))
            return True
        elif isinstance(command, DeviceReturned):
            self.dispatcher.came_back(command.device_id)
        return False

    def _answer(self, origin: Origin, reply: Any) -> None:
        if isinstance(origin, Message):
            self._ack(origin)
        elif origin is not None and not origin.done():
            origin.set_result(reply)

    def _refuse(self, origin: Origin, exc: BaseException) -> None:
        """Not done: an API call gets the error; an MQTT message stays unacknowledged (delivered again)."""
        if isinstance(origin, asyncio.Future) and not origin.done():
            origin.set_exception(exc)

    def _ack(self, message: Message) -> None:
        if self.bus is not None:
            self.bus.ack(message)

    def tick(self, tick: msg.Tick) -> None:
        self.stats.reconciles += 1
        self._apply(tick, None)

    async def _store_hub_profile(self, command: StoreProfile, message: Message) -> None:
        """A profile from the hub; one the store refuses is rejected (and so acknowledged), never left unacknowledged:
        an unacknowledged message holds one of the broker's few in-flight slots for this session for ever. A
        repeat of what the hub last sent is its retained message again, not an edit."""
        try:
            version, changed = await asyncio.to_thread(
                self.store.put_changed, command.profile, "mqtt", self.clock(), once_per_author=True
            )
        except Exception as exc:
            log.exception("profile %s from the hub could not be stored", command.profile.community_id)
            error = FieldError("(payload)", f"could not be stored: {type(exc).__name__}")
            self._apply(msg.Rejected(command.topic, (error,)), message)
            return
        try:
            self._apply(msg.ProfileStored(command.profile, version, "mqtt", changed), message)
        except Exception:  # a rule that failed: logged and acknowledged, never left holding an in-flight slot
            log.exception("profile %s from the hub could not be applied", command.profile.community_id)
            self._ack(message)

    def _spawn(self, coro: Coroutine[Any, Any, None]) -> None:
        """A background task that is kept (not garbage-collected mid-flight) and whose failure is not silent."""
        task = asyncio.get_running_loop().create_task(coro)
        self.background.add(task)
        task.add_done_callback(self._background_done)

    def _background_done(self, task: asyncio.Task[Any]) -> None:
        self.background.discard(task)
        if not task.cancelled() and task.exception() is not None:
            log.error("background task failed", exc_info=task.exception())
