"""The inbox: every input of the venue in one consumer, in order. MQTT messages arrive from the bus in bunches;
API calls and driver observations are put with `call` (which carries a reply future) or `put`.

Calls go ahead of queued messages: an HTTP check-in during a flood of kiosk messages waits for at most one batch,
not for the flood, as when the API called the service directly. Inputs are handled in batches of at most `BATCH`,
yielding between them, so a flood shares the loop with the API, the reconciler and the record's acknowledgements
(`Queue.get` on a queue that is not empty would never give the loop away).
"""

from __future__ import annotations

import asyncio
from collections import deque
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from typing import Any

from controller.core.messages import Input
from controller.shell.bus import Message

__all__ = ["BATCH", "Envelope", "Inbox"]

BATCH = 64


@dataclass(frozen=True, slots=True)
class Envelope:
    input: Input
    reply: asyncio.Future[Any] | None = None


class Inbox:
    def __init__(self) -> None:
        self._calls: deque[Envelope] = deque()
        self._messages: deque[Message] = deque()
        self._ready = asyncio.Event()

    def __len__(self) -> int:
        return len(self._calls) + len(self._messages)

    def messages(self, arrived: Iterable[Message]) -> None:
        """From the bus, on the loop."""
        self._messages.extend(arrived)
        self._ready.set()

    def put(self, input: Input) -> None:
        self._calls.append(Envelope(input))
        self._ready.set()

    async def call(self, input: Input) -> Any:
        """Put `input` and wait for its answer, which comes once its events are durable."""
        reply: asyncio.Future[Any] = asyncio.get_running_loop().create_future()
        self._calls.append(Envelope(input, reply))
        self._ready.set()
        return await reply

    async def run(self, handle: Callable[[Message | Envelope], None], after_batch: Callable[[], None]) -> None:
        """Hand every input to `handle` until cancelled; `after_batch` once per batch (to wake the reconciler)."""
        calls, messages = self._calls, self._messages
        while True:
            await self._ready.wait()
            self._ready.clear()
            while calls or messages:
                for _ in range(BATCH):
                    if calls:
                        handle(calls.popleft())
                    elif messages:
                        handle(messages.popleft())
                    else:
                        break
                after_batch()
                await asyncio.sleep(0)
