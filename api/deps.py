"""What routes depend on: the app's context (the running service) and who is calling.

    Caller   any valid token: the venue admin's, or a community's            (401 without one)
    Admin    only the admin token                                            (403 for a community token)
    Member   the admin, or the community named by the path's `community_id`  (403 for another community)

The admin token is compared in constant time; community tokens are checked by the community store, which keeps
only their hashes (its recent answers cached, api/tokens.py). No error message ever repeats a token. The same check
runs before a request's body is read (api/gate.py), so a request without a valid token costs nothing to refuse.
"""

from __future__ import annotations

import asyncio
import hmac
from dataclasses import dataclass, field
from typing import Annotated, Any, TypeVar, cast

from fastapi import Depends, HTTPException, Request, status
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer
from fastapi.security.utils import get_authorization_scheme_param
from prometheus_client import CollectorRegistry

from controller.shell.record import EventRecord
from profiles.communities import CommunityStore
from profiles.store import ProfileStore

from .models import CommunityPath, Problem, ValidationProblem
from .port import VenuePort
from .tokens import TokenCache

ADMIN = "admin"
_T = TypeVar("_T")


@dataclass
class Context:
    """One per app (tests create many apps): the service it fronts and what the routes share."""

    service: VenuePort
    admin_token: bytes
    metrics: CollectorRegistry
    stopping: asyncio.Event | None = None
    """Set by whoever runs the server when it is about to stop, so open event streams end first."""
    closing: asyncio.Event = field(default_factory=asyncio.Event)
    """Set when the app's lifespan ends."""
    tokens: TokenCache = field(default_factory=TokenCache)
    """The community store's recent answers about tokens."""

    @property
    def shutting_down(self) -> bool:
        return self.closing.is_set() or (self.stopping is not None and self.stopping.is_set())

    @property
    def record(self) -> EventRecord:
        return _running(self.service.record)

    @property
    def store(self) -> ProfileStore:
        return _running(self.service.store)

    @property
    def communities(self) -> CommunityStore:
        return _running(self.service.communities)


def _running(part: _T | None) -> _T:
    """The service's stores exist while it runs, and the API is only served while it runs."""
    if part is None:
        raise HTTPException(status.HTTP_503_SERVICE_UNAVAILABLE, "the venue service is not running")
    return part


def get_context(request: Request) -> Context:
    return cast(Context, request.app.state.context)


Ctx = Annotated[Context, Depends(get_context)]


@dataclass(frozen=True, slots=True)
class Caller:
    """Who is calling: the venue admin (`community_id` None) or one community."""

    community_id: str | None

    @property
    def is_admin(self) -> bool:
        return self.community_id is None

    @property
    def author(self) -> str:
        """How the profile history names this caller."""
        return ADMIN if self.community_id is None else f"community:{self.community_id}"


_bearer = HTTPBearer(auto_error=False, description="The venue's admin token, or a community's token")


NO_TOKEN = "a bearer token is required (Authorization: Bearer <token>)"
BAD_TOKEN = "the token is not valid"
CHALLENGE = {"WWW-Authenticate": "Bearer"}


def _unauthorized(detail: str) -> HTTPException:
    return HTTPException(status.HTTP_401_UNAUTHORIZED, detail, headers=CHALLENGE)


def bearer_token(authorization: str | None) -> str | None:
    """The token of an `Authorization: Bearer <token>` header, exactly as `HTTPBearer` reads it; None without one."""
    scheme, credentials = get_authorization_scheme_param(authorization)
    if not (authorization and scheme and credentials) or scheme.lower() != "bearer":
        return None
    return credentials


async def authenticate(ctx: Context, token: str) -> Caller | None:
    """Who `token` belongs to, or None. The store hashes in a worker thread; its answers are cached for a while."""
    if hmac.compare_digest(token.encode(), ctx.admin_token):
        return Caller(None)
    known, community_id = ctx.tokens.get(token)
    if not known:
        community_id = await asyncio.to_thread(ctx.communities.authenticate, token)
        ctx.tokens.put(token, community_id)
    return None if community_id is None else Caller(community_id)


CALLER_STATE = "ambience_caller"
"""Where api/gate.py leaves the caller it authenticated, in the request's state."""


async def current_caller(
    request: Request, ctx: Ctx, credentials: Annotated[HTTPAuthorizationCredentials | None, Depends(_bearer)]
) -> Caller:
    """The caller the gate already authenticated (every route with a token is under /api/v1), else checked here."""
    known = getattr(request.state, CALLER_STATE, None)
    if isinstance(known, Caller):
        return known
    if credentials is None:
        raise _unauthorized(NO_TOKEN)
    caller = await authenticate(ctx, credentials.credentials)
    if caller is None:
        raise _unauthorized(BAD_TOKEN)
    return caller


AnyCaller = Annotated[Caller, Depends(current_caller)]


def current_admin(caller: AnyCaller) -> Caller:
    if not caller.is_admin:
        raise HTTPException(status.HTTP_403_FORBIDDEN, "only the venue admin may do this")
    return caller


def community_member(community_id: CommunityPath, caller: AnyCaller) -> Caller:
    """The admin, or the community the path names; `community_id` is the route's path parameter."""
    if not caller.is_admin and caller.community_id != community_id:
        raise HTTPException(status.HTTP_403_FORBIDDEN, "this token belongs to another community")
    return caller


Admin = Annotated[Caller, Depends(current_admin)]
Member = Annotated[Caller, Depends(community_member)]

# -- the error responses routes declare, so the OpenAPI document lists them ------------------------------------------

Responses = dict[int | str, dict[str, Any]]

UNAUTHORIZED: Responses = {401: {"model": Problem, "description": "No token, or one that is not valid"}}
FORBIDDEN: Responses = {403: {"model": Problem, "description": "The token may not reach this resource"}}
NOT_FOUND: Responses = {404: {"model": Problem, "description": "No such resource"}}
INVALID: Responses = {422: {"model": ValidationProblem, "description": "Invalid input: every problem at its path"}}
TOO_LARGE: Responses = {413: {"model": Problem, "description": "The body is larger than the API takes (1 MiB)"}}
ADMIN_ONLY: Responses = {**UNAUTHORIZED, **FORBIDDEN}
