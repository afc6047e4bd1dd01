"""The event record: paged with a cursor, or live as Server-Sent Events that resume from `Last-Event-ID`.

The stream polls the record (an indexed read of committed events, in a worker thread) every `POLL_S` rather
than hooking into the service: what a client sees is exactly what is durable, in id order, and a reconnecting
client resumes with no gap and no duplicate. Event ids only grow, so an id is a complete cursor.
"""

from __future__ import annotations

import asyncio
import json
from collections.abc import AsyncIterator
from typing import Annotated

from fastapi import APIRouter, Header, Query, Request
from fastapi.responses import StreamingResponse

from controller.shell.record import Event

from ..deps import ADMIN_ONLY, INVALID, Admin, Context, Ctx
from ..models import EventPage

router = APIRouter(prefix="/api/v1/events", tags=["events"])

POLL_S = 0.2
KEEPALIVE_S = 15.0
RETRY_MS = 2000
BATCH = 500
MAX_ID = 2**63 - 1  # SQLite's largest integer: a larger cursor cannot even be compared

EventId = Annotated[int, Query(ge=0, le=MAX_ID, description="Only events with a larger id")]
EventType = Annotated[str | None, Query(alias="type", max_length=100, description="Only events of this type")]


@router.get("", response_model=EventPage, responses={**ADMIN_ONLY, **INVALID})
async def events(
    ctx: Ctx,
    _: Admin,
    since: EventId = 0,
    type_: EventType = None,
    limit: Annotated[int, Query(ge=1, le=1000, description="At most this many events")] = 100,
) -> EventPage:
    """Events with id > `since`, oldest first; page on with `since=next_since` until `events` is empty."""
    found = await asyncio.to_thread(ctx.record.read, since, type_ or None, limit)
    return EventPage.model_validate(
        {"events": [e.to_json() for e in found], "next_since": found[-1].id if found else since}
    )


def frame(event: Event) -> str:
    """One SSE message; `json.dumps` escapes newlines, so `data` is always a single line."""
    data = json.dumps(event.to_json(), separators=(",", ":"), ensure_ascii=False)
    return f"id: {event.id}\nevent: {event.type}\ndata: {data}\n\n"


async def _follow(request: Request, ctx: Context, after: int) -> AsyncIterator[str]:
    loop = asyncio.get_running_loop()
    record = ctx.record
    yield f"retry: {RETRY_MS}\n\n"
    quiet_since = loop.time()
    while not ctx.shutting_down and not await request.is_disconnected():
        found = await asyncio.to_thread(record.read, after, None, BATCH)
        for event in found:
            yield frame(event)
            after = event.id
        if found:
            quiet_since = loop.time()
            if len(found) == BATCH:
                continue  # catching up: read on without waiting
        elif loop.time() - quiet_since >= KEEPALIVE_S:
            yield ": keep-alive\n\n"
            quiet_since = loop.time()
        await asyncio.sleep(POLL_S)


@router.get(
    "/stream",
    response_class=StreamingResponse,
    responses={
        200: {
            "description": "`text/event-stream`: per event `id: <id>`, `event: <type>`, `data: <the event as JSON>`; "
            "a `: keep-alive` comment after 15 s without events",
            "content": {"text/event-stream": {"schema": {"type": "string"}}},
        },
        **ADMIN_ONLY,
        **INVALID,
    },
)
async def stream(
    request: Request,
    ctx: Ctx,
    _: Admin,
    since: Annotated[
        int | None, Query(ge=0, le=MAX_ID, description="Start after this id (default: from now on)")
    ] = None,
    last_event_id: Annotated[
        int | None,
        Header(alias="Last-Event-ID", ge=0, le=MAX_ID, description="Resume after this id (sent by EventSource)"),
    ] = None,
) -> StreamingResponse:
    """The record live: new events as they are committed, or from a given id on (`Last-Event-ID` first)."""
    after = last_event_id if last_event_id is not None else since if since is not None else ctx.record.committed_id
    return StreamingResponse(
        _follow(request, ctx, after),
        media_type="text/event-stream",
        headers={"Cache-Control": "no-cache", "X-Accel-Buffering": "no"},
    )
