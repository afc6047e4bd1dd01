"""Serving the API beside the service, in the service's own event loop (found by the CLI via an entry point)."""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Iterator

import uvicorn

from controller.service import Service

log = logging.getLogger(__name__)


class _Server(uvicorn.Server):
    """uvicorn without its signal handling: the CLI owns SIGINT/SIGTERM and stops the API and the service together."""

    @contextlib.contextmanager
    def capture_signals(self) -> Iterator[None]:
        yield


async def serve(service: Service, host: str, port: int, admin_token: str, stop: asyncio.Event) -> None:
    """Run the API until `stop` is set. One loop: route handlers call the service directly, no locks needed."""
    from .app import create_app

    closing = asyncio.Event()  # ends open event streams: uvicorn waits for every open response before it stops
    config = uvicorn.Config(
        create_app(service, admin_token, stopping=closing),
        host=host,
        port=port,
        log_level="warning",
        log_config=None,  # uvicorn's loggers go through ours (JSON lines with the venue id when not on a terminal)
        lifespan="on",
        access_log=False,
    )
    server = _Server(config)
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
