"""Structured logs for the service: one JSON object per line for journald and log shippers, a short readable line
for a person at a terminal, and the venue id on every record so logs of many venues can be told apart.

`setup_logging()` is called once by the CLI; `set_venue()` adds the venue id once the config is loaded (the CLI
cannot know it before). Library code only ever does `logging.getLogger(__name__)`.
"""

from __future__ import annotations

import json
import logging
import sys
from datetime import UTC, datetime
from typing import Any, TextIO

__all__ = ["JsonFormatter", "ReadableFormatter", "VenueFilter", "set_venue", "setup_logging"]

READABLE_FORMAT = "%(asctime)s %(levelname)s %(name)s: %(message)s"


class VenueFilter(logging.Filter):
    """Stamps every record with the venue id (`record.venue`, None until known); never drops a record."""

    def __init__(self, venue_id: str | None = None) -> None:
        super().__init__()
        self.venue_id = venue_id

    def filter(self, record: logging.LogRecord) -> bool:
        record.venue = self.venue_id
        return True


class JsonFormatter(logging.Formatter):
    """`{"ts", "level", "logger", "venue", "msg"}` plus `exc_info` / `stack_info` text when present: one line each,
    so `journalctl -o cat | jq` reads them without a multi-line parser."""

    def format(self, record: logging.LogRecord) -> str:
        entry: dict[str, Any] = {
            "ts": datetime.fromtimestamp(record.created, UTC).isoformat(timespec="milliseconds"),
            "level": record.levelname,
            "logger": record.name,
            "venue": getattr(record, "venue", None),
            "msg": record.getMessage(),
        }
        if record.exc_info:
            entry["exc_info"] = self.formatException(record.exc_info)
        elif record.exc_text:
            entry["exc_info"] = record.exc_text
        if record.stack_info:
            entry["stack_info"] = self.formatStack(record.stack_info)
        return json.dumps(entry, ensure_ascii=False, default=str)


class ReadableFormatter(logging.Formatter):
    """`HH:MM:SS LEVEL logger: message` (and the traceback below it) for a person at a terminal."""

    def __init__(self) -> None:
        super().__init__(READABLE_FORMAT, datefmt="%H:%M:%S")


_venue_filter = VenueFilter()
_installed: list[logging.Handler] = []  # the handler setup_logging() added, replaced on the next call


def _is_tty(stream: TextIO) -> bool:
    try:
        return bool(stream.isatty())
    except (AttributeError, ValueError, OSError):  # a closed or exotic stream is no terminal
        return False


def setup_logging(
    level: str,
    *,
    venue_id: str | None = None,
    stream: TextIO | None = None,
    json_format: bool | None = None,
) -> logging.Handler:
    """Send every log record at `level` or above to `stream` (default: stderr), as JSON lines unless the stream is
    a terminal (`json_format` forces either). Calling it again replaces the handler it installed before, so tests
    and nested CLI calls never print a record twice. Returns the handler."""
    stream = sys.stderr if stream is None else stream
    as_json = not _is_tty(stream) if json_format is None else json_format
    root = logging.getLogger()
    while _installed:
        root.removeHandler(_installed.pop())
    handler = logging.StreamHandler(stream)
    handler.setFormatter(JsonFormatter() if as_json else ReadableFormatter())
    handler.addFilter(_venue_filter)
    _venue_filter.venue_id = venue_id
    root.addHandler(handler)
    root.setLevel(level.upper())
    _installed.append(handler)
    return handler


def set_venue(venue_id: str | None) -> None:
    """Put `venue_id` on every record from now on (known only once the venue config is loaded)."""
    _venue_filter.venue_id = venue_id
