"""A log line that repeats in a tight loop, let through once per interval with a count of the repeats left out.

When the process runs out of file descriptors, asyncio logs "socket.accept() out of system resource", with a
traceback, for every accept it tries (up to the listen backlog per wakeup, and it schedules a retry per failure):
400,000 lines, 208 MB, in 35 s were seen. One line per interval says the same.
"""

from __future__ import annotations

import contextlib
import logging
import time
from collections.abc import Callable, Iterator

__all__ = ["ACCEPT_FAILED", "RepeatFilter", "filtering"]

ACCEPT_FAILED = "socket.accept() out of system resource"
"""How asyncio's message starts (selector_events: the accept loop)."""


class RepeatFilter(logging.Filter):
    """Lets a record whose message starts with `prefix` through at most once per `every_s` seconds; the next one let
    through says how many were left out. Other records pass untouched."""

    def __init__(self, prefix: str, every_s: float, clock: Callable[[], float] = time.monotonic) -> None:
        super().__init__()
        self.prefix = prefix
        self.every_s = every_s
        self._clock = clock
        self._last: float | None = None
        self.suppressed = 0

    def filter(self, record: logging.LogRecord) -> bool:
        message = record.getMessage()
        if not message.startswith(self.prefix):
            return True
        now = self._clock()
        last, self._last = self._last, now
        if last is not None and now - last < self.every_s:
            self._last = last
            self.suppressed += 1
            return False
        if self.suppressed and last is not None:
            first, newline, rest = message.partition("\n")
            note = f"({self.suppressed} more like it in the {now - last:.0f} s before were not logged)"
            record.msg, record.args = f"{first} {note}{newline}{rest}", None
            self.suppressed = 0
        return True


@contextlib.contextmanager
def filtering(logger: logging.Logger, log_filter: logging.Filter) -> Iterator[None]:
    """`log_filter` on `logger` for the duration (each server installs its own, and takes it away again)."""
    logger.addFilter(log_filter)
    try:
        yield
    finally:
        logger.removeFilter(log_filter)
