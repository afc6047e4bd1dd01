"""Liveness and metrics: open to anyone, so a supervisor or Prometheus needs no token."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Request, Response
from prometheus_client.exposition import choose_encoder

from ..deps import Ctx
from ..models import Health

router = APIRouter(tags=["health"])


@router.get("/healthz", response_model=Health)
async def healthz(ctx: Ctx) -> dict[str, Any]:
    """Broker connection, event-record backlog, uptime. 200 while the API answers, even with the broker down."""
    return ctx.service.health()


@router.get(
    "/metrics",
    response_class=Response,
    responses={
        200: {
            "description": "Prometheus text format (OpenMetrics when the scraper asks for it)",
            "content": {
                "text/plain": {"schema": {"type": "string"}},
                "application/openmetrics-text": {"schema": {"type": "string"}},
            },
        }
    },
)
async def metrics(ctx: Ctx, request: Request) -> Response:
    """Check-ins, commands, events written, record backlog, presence, devices online (Prometheus text)."""
    encoder, content_type = choose_encoder(request.headers.get("accept", ""))
    return Response(encoder(ctx.metrics), media_type=content_type)
