"""What `ambience run` and `ambience demo` need to serve the HTTP API beside the service: the server, the admin
token, a check that the port is free.

The CLI is the outer layer and may import the API (controller/cli/ imports everything; the API imports only the
core and the shell), so the API is imported here directly.
"""

from __future__ import annotations

import asyncio
import logging
import os
import secrets
import socket
from collections.abc import Callable, Coroutine, Mapping
from typing import TYPE_CHECKING, Any

from profiles.venue import VenueConfig

if TYPE_CHECKING:
    from controller.shell.service import Service

log = logging.getLogger(__name__)

HttpServer = Callable[["Service", str, int, str, asyncio.Event], Coroutine[Any, Any, None]]


def http_server() -> HttpServer:
    """The HTTP API's server (imported when asked for: `ambience check` and `schema` need no web stack)."""
    from api.server import serve

    return serve


def admin_token(venue: VenueConfig, env: Mapping[str, str] | None = None) -> str:
    """The admin token from the environment variable the config names; without one, a token for this run only."""
    env = os.environ if env is None else env
    token = env.get(venue.api.admin_token_env, "").strip()
    if token:
        return token
    token = secrets.token_urlsafe(24)
    log.warning(
        "%s is not set: the API's admin token for this run is %s (set the variable to keep one; `ambience init` "
        "writes one into .env)",
        venue.api.admin_token_env,
        token,
    )
    return token


def port_problem(host: str, port: int) -> str | None:
    """Why the API cannot listen there (checked first: uvicorn would exit the whole process instead)."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as probe:
        probe.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            probe.bind((host, port))
        except OSError as exc:
            return f"cannot listen on {host}:{port}: {exc.strerror or exc}"
    return None
