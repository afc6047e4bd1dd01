"""The FastAPI application over a running service: routers, error shape, per-app state. Nothing else lives here."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from fastapi import FastAPI, Request, Response, status
from fastapi.exception_handlers import http_exception_handler
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from starlette.exceptions import HTTPException

from profiles.errors import FieldError
from profiles.version import ambience_version

from .deps import Context
from .gate import Gate
from .limits import Limits
from .methods import method_not_allowed
from .metrics import registry_for
from .models import BODY, DETAIL_MAX, cut, request_errors, validation_problem
from .port import VenuePort
from .routes import checkins, communities, dashboard, devices, events, health, profiles, state

__all__ = ["create_app"]


async def _invalid_request(_: Request, exc: Exception) -> JSONResponse:
    """FastAPI's own 422s in the same shape as a profile's: `{"detail": [{"path", "message"}, ...]}`."""
    assert isinstance(exc, RequestValidationError)
    return JSONResponse(validation_problem(request_errors(exc)), status_code=status.HTTP_422_UNPROCESSABLE_CONTENT)


async def _http_error(request: Request, exc: Exception) -> Response:
    """A body FastAPI cannot even decode (not UTF-8) is invalid JSON like any other: 422 at `(body)`, not 400.
    A 405 (and `OPTIONS`) lists every method of the path. No detail is longer than `DETAIL_MAX`.

    Registered for Starlette's `HTTPException`, which FastAPI raises for that (and for 404/405 of unknown routes).
    """
    assert isinstance(exc, HTTPException)
    if exc.status_code == status.HTTP_400_BAD_REQUEST and isinstance(exc.__cause__, UnicodeDecodeError):
        problem = [FieldError(BODY, f"must be valid JSON ({exc.__cause__})")]
        return JSONResponse(validation_problem(problem), status_code=status.HTTP_422_UNPROCESSABLE_CONTENT)
    if exc.status_code == status.HTTP_405_METHOD_NOT_ALLOWED:
        return method_not_allowed(request)
    if isinstance(exc.detail, str) and len(exc.detail) > DETAIL_MAX:
        exc = HTTPException(exc.status_code, cut(exc.detail), exc.headers)
    return await http_exception_handler(request, exc)


def create_app(
    service: VenuePort, admin_token: str, *, stopping: asyncio.Event | None = None, limits: Limits | None = None
) -> FastAPI:
    """The API of docs/contract.md §5 over `service`, which must be running (entered) while the app serves.

    `stopping`, if given, is set by whoever runs the server just before it stops: open event streams end then,
    because uvicorn waits for every open response to finish before it runs the app's lifespan shutdown.
    `limits` (api/limits.py) bounds request bodies: by default 1 MiB, all of it within 30 s of the request's head
    (its connection bounds are for `serve`, which passes the same object).
    """
    context = Context(service, admin_token.encode(), registry_for(service), stopping)

    @asynccontextmanager
    async def lifespan(_: FastAPI) -> AsyncIterator[None]:
        yield
        context.closing.set()

    app = FastAPI(
        title="ambience",
        version=ambience_version(),
        summary="Edge controller of a venue: check-ins, community mood profiles, devices and the event record.",
        description="Send `Authorization: Bearer <token>`: the venue's admin token, or a community's token "
        "(issued by `POST /api/v1/communities`, which reaches only that community's profile). "
        'Errors are `{"detail": ...}`; invalid input is 422 with every problem at its field path.',
        lifespan=lifespan,
    )
    app.state.context = context
    app.add_exception_handler(RequestValidationError, _invalid_request)
    app.add_exception_handler(HTTPException, _http_error)
    app.add_middleware(Gate, context=context, limits=limits or Limits())
    for module in (health, communities, profiles, checkins, state, devices, events, dashboard):
        app.include_router(module.router)
    return app
