"""uvicorn's h11 protocol with the two bounds uvicorn lacks: time to send a request's head, and open connections.

uvicorn times out a keep-alive connection only once it has answered a request on it: a client that connects and
sends nothing, or half a request line, was held for ever, each holding a file descriptor until none were left. Here
the head (request line and headers) must be complete `head_timeout_s` after the connection opens or its previous
response ends, or the connection is closed; and a connection accepted beyond `max_connections` is closed at once.
"""

from __future__ import annotations

import asyncio
from typing import Any, ClassVar

import h11
from uvicorn.config import Config
from uvicorn.protocols.http.h11_impl import H11Protocol
from uvicorn.server import ServerState

from .limits import Limits

__all__ = ["bounded_h11"]


class _BoundedH11(H11Protocol):
    head_timeout_s: ClassVar[float]
    max_connections: ClassVar[int]

    def __init__(
        self,
        config: Config,
        server_state: ServerState,
        app_state: dict[str, Any],
        _loop: asyncio.AbstractEventLoop | None = None,
    ) -> None:
        super().__init__(config, server_state, app_state, _loop)
        self._head_timer: asyncio.TimerHandle | None = None

    def connection_made(self, transport: asyncio.Transport) -> None:  # type: ignore[override]
        super().connection_made(transport)
        if len(self.connections) > self.max_connections:
            transport.close()  # refused at once: its descriptor is back before the next accept
            return
        self._await_head()

    def connection_lost(self, exc: Exception | None) -> None:
        self._head_arrived()
        super().connection_lost(exc)

    def handle_events(self) -> None:
        super().handle_events()
        if self.conn.their_state is not h11.IDLE:  # a request's head was parsed (or the connection failed)
            self._head_arrived()

    def on_response_complete(self) -> None:
        super().on_response_complete()
        if not self.transport.is_closing() and self.conn.their_state is h11.IDLE:
            self._await_head()  # the next request on this keep-alive connection has the same time to arrive

    def _await_head(self) -> None:
        self._head_arrived()
        self._head_timer = self.loop.call_later(self.head_timeout_s, self._head_too_slow)

    def _head_arrived(self) -> None:
        if self._head_timer is not None:
            self._head_timer.cancel()
            self._head_timer = None

    def _head_too_slow(self) -> None:
        self._head_timer = None
        if not self.transport.is_closing():
            self.transport.close()


def bounded_h11(limits: Limits) -> type[H11Protocol]:
    """The protocol class to pass as uvicorn's `http=`, with these limits' head timeout and connection bound."""

    class BoundedH11(_BoundedH11):
        head_timeout_s = limits.head_timeout_s
        max_connections = limits.max_connections

    return BoundedH11
