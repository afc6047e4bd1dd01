"""How much the API gives one client: body size, how long it may take to send a request, how many connections.

Each number bounds what a hostile or broken client can cost the venue's Pi (memory, file descriptors, log space).
`Limits()` is what `ambience run` serves with; tests pass smaller ones to see each bound act in seconds.
"""

from __future__ import annotations

from dataclasses import dataclass

__all__ = [
    "ACCEPT_LOG_EVERY_S",
    "BACKLOG",
    "BODY_TIMEOUT_S",
    "HEAD_TIMEOUT_S",
    "KEEP_ALIVE_S",
    "MAX_BODY_BYTES",
    "MAX_CONNECTIONS",
    "Limits",
]

MAX_BODY_BYTES = 1 << 20
"""1 MiB. The largest body the API takes (413 beyond): a profile is a few KB, a check-in under 300 bytes. Bodies are
read whole into memory, so without a cap four 50 MB uploads cost the service 750 MB."""

BODY_TIMEOUT_S = 30.0
"""A request's whole body must arrive within this many seconds of its head (408 otherwise): 1 MiB in 30 s is 35 KB/s,
slower than any venue network, while a client that trickles a byte now and then would otherwise hold its
connection, and a slot of `MAX_CONNECTIONS`, for ever."""

HEAD_TIMEOUT_S = 10.0
"""A request line and its headers must arrive within this many seconds of the connection opening (or of the previous
response): a client that sends half a request, or nothing, is disconnected. uvicorn itself never times this out."""

KEEP_ALIVE_S = 5
"""An idle keep-alive connection is closed after this many seconds (uvicorn's `timeout_keep_alive`): the dashboard
polls more often than that when it polls at all, and its event stream is a request in progress, not idle."""

MAX_CONNECTIONS = 256
"""Open HTTP connections at most. From this many on uvicorn answers 503 (`limit_concurrency`), and a connection
beyond it is closed as soon as it is accepted, so the API never holds more sockets than this: a venue has a handful
of dashboards, Home Assistant and a Prometheus. `LimitNOFILE=` in deploy/systemd/ambience.service leaves room above
it for the broker connection, the SQLite files and the Hue bridge."""

BACKLOG = 128
"""Connections the kernel queues before the API accepts them (`listen()` backlog): a burst of dashboards reconnecting
at once fits. asyncio also tries this many accepts per wakeup, and when descriptors run out it logs and schedules a
retry for each failed one: uvicorn's default of 2048 multiplies that by 16."""

ACCEPT_LOG_EVERY_S = 60.0
"""asyncio logs "socket.accept() out of system resource" with a traceback each time accepting fails for want of file
descriptors (400,000 times in 35 s were seen, 208 MB of log): it is logged at most once per this many seconds, with
the count of those left out."""


@dataclass(frozen=True, slots=True)
class Limits:
    """The bounds one server applies; every field defaults to the module constant of the same name."""

    max_body_bytes: int = MAX_BODY_BYTES
    body_timeout_s: float = BODY_TIMEOUT_S
    head_timeout_s: float = HEAD_TIMEOUT_S
    keep_alive_s: int = KEEP_ALIVE_S
    max_connections: int = MAX_CONNECTIONS
    backlog: int = BACKLOG
    accept_log_every_s: float = ACCEPT_LOG_EVERY_S
