"""The real app over HTTP: `api.server.serve` in the same loop as a real venue (service, Mosquitto, simulated devices).

Requests go through a real socket with httpx, so what is tested is what a dashboard or a hub sees.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass
from typing import Any

import httpx

from api.limits import Limits
from api.server import serve
from controller.cli.broker import free_port
from profiles.venue import VenueConfig
from tests.integration.harness import Venue, running_venue

ADMIN_TOKEN = "admin-token-for-tests-0123456789"
STOP_TIMEOUT_S = 5.0


def bearer(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}


ADMIN = bearer(ADMIN_TOKEN)


@dataclass
class Api:
    venue: Venue
    url: str
    client: httpx.AsyncClient
    """A plain client (no auth by default): each request says which token it sends."""

    @property
    def port(self) -> int:
        return int(self.url.rsplit(":", 1)[1])

    async def admin(self, method: str, path: str, **kwargs: Any) -> httpx.Response:
        return await self.client.request(method, path, headers={**ADMIN, **kwargs.pop("headers", {})}, **kwargs)

    async def as_(self, token: str, method: str, path: str, **kwargs: Any) -> httpx.Response:
        return await self.client.request(method, path, headers={**bearer(token), **kwargs.pop("headers", {})}, **kwargs)

    async def register(self, community_id: str, name: str) -> str:
        """Register a community as the admin; returns its token (the only time the API shows it)."""
        created = await self.admin("POST", "/api/v1/communities", json={"id": community_id, "name": name})
        assert created.status_code == 201, created.text
        body = created.json()
        assert (body["id"], body["name"]) == (community_id, name)
        token: str = body["token"]
        return token


async def _answers(client: httpx.AsyncClient) -> bool:
    with contextlib.suppress(httpx.TransportError):
        return (await client.get("/healthz")).status_code == 200
    return False


@asynccontextmanager
async def running_api(
    config: VenueConfig, *, limits: Limits | None = None, **service_options: Any
) -> AsyncIterator[Api]:
    """Yields once the API answers; on exit the server must stop within STOP_TIMEOUT_S (no stream left hanging).
    `limits`: the server's bounds (api/limits.py), smaller in tests that watch one act."""
    async with running_venue(config, **service_options) as venue:
        port = free_port()
        stop = asyncio.Event()
        server = asyncio.create_task(serve(venue.service, "127.0.0.1", port, ADMIN_TOKEN, stop, limits=limits))
        url = f"http://127.0.0.1:{port}"
        try:
            async with httpx.AsyncClient(base_url=url, timeout=10, trust_env=False) as client:
                ready = False
                for _ in range(200):
                    if server.done():
                        server.result()  # raises what stopped it
                    if ready := await _answers(client):
                        break
                    await asyncio.sleep(0.025)
                assert ready, f"the API did not answer on {url}"
                yield Api(venue, url, client)
        finally:
            stop.set()
            await asyncio.wait_for(server, STOP_TIMEOUT_S)
