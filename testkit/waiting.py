"""Bounded waits: poll a condition until it holds, fail with what was awaited when it does not in time.

`wait_until` is for coroutines (it sleeps with `asyncio.sleep`, so the event loop goes on), `wait_until_sync` for
threads. Both share one deadline: the condition is asked once more after the time is up, and processes that a
caller is waiting on end the wait as soon as they have failed, with their output in the message.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable
from typing import Any, Protocol

# What a failed wait says it waited for: a phrase, or a callable asked at the failure (to say how things stood).
What = str | Callable[[], str]


class Watched(Protocol):
    """A process a wait depends on: once it has failed, waiting longer is pointless."""

    @property
    def name(self) -> str: ...

    def failed(self) -> bool:
        """True once it can no longer bring the condition about (it exited, or exited with an error)."""
        ...

    def describe(self) -> str:
        """Its exit code and output, for the failure message."""
        ...


class _Wait:
    """One bounded wait; `poll()` is the step both waits repeat."""

    def __init__(
        self, condition: Callable[[], Any], timeout_s: float, what: What, watched: tuple[Watched, ...]
    ) -> None:
        self.condition = condition
        self.timeout_s = timeout_s
        self.what = what
        self.watched = watched
        self.deadline = time.monotonic() + timeout_s

    def _what(self) -> str:
        return self.what() if callable(self.what) else self.what

    def poll(self) -> Any:
        """`condition()`'s value (falsy: ask again later); AssertionError once a watched process has failed or the
        time is up."""
        value = self.condition()
        if value:
            return value
        for proc in self.watched:
            if proc.failed():
                raise AssertionError(f"{proc.name} exited while waiting for {self._what()}\n{proc.describe()}")
        if time.monotonic() > self.deadline:
            details = "".join(f"\n{proc.describe()}" for proc in self.watched)
            raise AssertionError(f"timed out after {self.timeout_s} s waiting for {self._what()}{details}")
        return value


async def wait_until(
    condition: Callable[[], Any],
    timeout_s: float = 10.0,
    what: What = "condition",
    *watched: Watched,
    poll_s: float = 0.02,
) -> Any:
    """Poll until `condition()` is truthy and return its value; bounded, so a broken venue fails the test instead
    of hanging it."""
    wait = _Wait(condition, timeout_s, what, watched)
    while True:
        if value := wait.poll():
            return value
        await asyncio.sleep(poll_s)


def wait_until_sync(
    condition: Callable[[], Any],
    timeout_s: float = 10.0,
    what: What = "condition",
    *watched: Watched,
    poll_s: float = 0.05,
) -> Any:
    """`wait_until` for a thread: sleeps between polls instead of yielding to an event loop."""
    wait = _Wait(condition, timeout_s, what, watched)
    while True:
        if value := wait.poll():
            return value
        time.sleep(poll_s)
