"""Where the HTTP API plugs in: `ambience run` and `ambience demo` serve it when it is installed.

It is found through the `ambience.http` entry point (see pyproject.toml), so controller never imports api: the API
builds on the controller, not the other way round (DESIGN.md).
"""

from __future__ import annotations

import asyncio
import logging
import os
import secrets
import socket
from collections.abc import Callable, Coroutine, Mapping
from importlib.metadata import entry_points
from typing import TYPE_CHECKING, Any

from profiles.venue import VenueConfig

if TYPE_CHECKING:
    from .service import Service

log = logging.getLogger(__name__)

HttpServer = Callable[["Service", str, int, str, asyncio.Event], Coroutine[Any, Any, None]]


def http_server() -> HttpServer | None:
    """The HTTP API, if installed: found through the `ambience.http` entry point, so controller never imports api."""
    for entry in entry_points(group="ambience.http"):
        server: HttpServer = entry.load()
        return server
    return None


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
