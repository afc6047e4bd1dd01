"""Serving the API beside the service, in the service's own event loop (found by the CLI via an entry point).

Served within api/limits.py's bounds: bodies (api/gate.py), request heads and open connections (api/connections.py),
idle keep-alive connections and the listen backlog (uvicorn's own settings), and asyncio's log line for a failed
accept (api/log_filters.py).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Iterator

import uvicorn

from .connections import bounded_h11
from .limits import Limits
from .log_filters import ACCEPT_FAILED, RepeatFilter, filtering
from .port import VenuePort

log = logging.getLogger(__name__)


class _Server(uvicorn.Server):
    """uvicorn without its signal handling: the CLI owns SIGINT/SIGTERM and stops the API and the service together."""

    @contextlib.contextmanager
    def capture_signals(self) -> Iterator[None]:
        yield


async def serve(
    service: VenuePort, host: str, port: int, admin_token: str, stop: asyncio.Event, *, limits: Limits | None = None
) -> None:
    """Run the API until `stop` is set. One loop: route handlers call the service directly, no locks needed."""
    from .app import create_app

    limits = limits or Limits()
    closing = asyncio.Event()  # ends open event streams: uvicorn waits for every open response before it stops
    config = uvicorn.Config(
        create_app(service, admin_token, stopping=closing, limits=limits),
        host=host,
        port=port,
        http=bounded_h11(limits),
        timeout_keep_alive=limits.keep_alive_s,
        limit_concurrency=limits.max_connections,
        backlog=limits.backlog,
        log_level="warning",
        log_config=None,  # uvicorn's loggers go through ours (JSON lines with the venue id when not on a terminal)
        lifespan="on",
        access_log=False,
    )
    with filtering(logging.getLogger("asyncio"), RepeatFilter(ACCEPT_FAILED, limits.accept_log_every_s)):
        await _run(_Server(config), closing, stop)


async def _run(server: uvicorn.Server, closing: asyncio.Event, stop: asyncio.Event) -> None:
    """Serve until `stop` is set (or the server stops by itself), then shut down in order."""
    task = asyncio.create_task(server.serve())
    stopping = asyncio.create_task(stop.wait())
    try:
        await asyncio.wait({task, stopping}, return_when=asyncio.FIRST_COMPLETED)
    finally:  # also when cancelled: shut uvicorn down in order instead of cancelling its lifespan half-way
        closing.set()
        server.should_exit = True
        stopping.cancel()
        cancelled = False
        while not task.done():
            try:
                await asyncio.shield(task)
            except asyncio.CancelledError:
                cancelled = True  # a cancel now would cancel uvicorn mid-shutdown: finish first, then honour it
        if cancelled:
            raise asyncio.CancelledError
