"""A community's profile: read it with its ETag, replace it (validated in full first), list its history.

`PUT` reads the raw body itself rather than declaring a FastAPI body parameter: the profile is validated by
`profiles.loader.parse_profile`, the same rules and the same human messages as `ambience check`, and a 422
lists every problem at its path. The body is still declared in the OpenAPI document (the `Profile` schema).
"""

from __future__ import annotations

import asyncio
import json
from typing import Annotated, Any

from fastapi import APIRouter, Header, HTTPException, Request, Response, status
from fastapi.responses import JSONResponse

from controller.core.inputs import shown
from profiles.errors import FieldError, ProfileError
from profiles.loader import parse_profile
from profiles.profile import Profile
from profiles.store import PreconditionFailed, ProfileVersion

from ..deps import FORBIDDEN, INVALID, NOT_FOUND, TOO_LARGE, UNAUTHORIZED, Ctx, Member
from ..models import BODY, CommunityPath, Problem, ProfileVersionView, ValidationProblem, validation_problem

router = APIRouter(prefix="/api/v1/communities", tags=["profiles"])

_ETAG_HEADER = {
    "ETag": {"description": "The version's ETag (quoted); send it back in `If-Match`", "schema": {"type": "string"}}
}
_SEEN = {**UNAUTHORIZED, **FORBIDDEN, **NOT_FOUND}


def _body(version: ProfileVersion) -> dict[str, Any]:
    """The profile as it was written: unset fields left out, as in the store's canonical form."""
    return version.profile.model_dump(mode="json", exclude_none=True)


def _etag(version: ProfileVersion) -> dict[str, str]:
    return {"ETag": f'"{version.etag}"'}


def _no_profile(community_id: str) -> HTTPException:
    return HTTPException(status.HTTP_404_NOT_FOUND, f"community {shown(community_id)} has no profile")


async def _read_profile(request: Request, community_id: str) -> Profile | list[FieldError]:
    """The body as a validated profile for `community_id`, or every problem found in it."""
    raw = await request.body()
    if not raw.strip():
        return [FieldError(BODY, "required: the profile as a JSON object")]
    try:
        data = json.loads(raw)
    except (ValueError, RecursionError) as exc:  # JSONDecodeError and UnicodeDecodeError are ValueErrors
        return [FieldError(BODY, f"must be valid JSON ({exc})")]
    errors: list[FieldError] = []
    profile = None
    try:
        profile = parse_profile(data)
    except ProfileError as exc:
        errors = list(exc.errors)
    body_id = data.get("community_id") if isinstance(data, dict) else None
    if isinstance(body_id, str) and body_id != community_id and all(e.path != "community_id" for e in errors):
        errors.append(FieldError("community_id", f"must be {community_id!r}, the community in the URL"))
    return errors if errors or profile is None else profile


@router.get(
    "/{community_id}/profile",
    response_model=Profile,
    response_model_exclude_none=True,
    responses={200: {"headers": _ETAG_HEADER}, **_SEEN, **INVALID},
)
async def get_profile(community_id: CommunityPath, ctx: Ctx, _: Member) -> JSONResponse:
    """The community's current profile, with its `ETag`."""
    version = await asyncio.to_thread(ctx.store.get, community_id)
    if version is None:
        raise _no_profile(community_id)
    return JSONResponse(_body(version), headers=_etag(version))


@router.put(
    "/{community_id}/profile",
    response_model=Profile,
    response_model_exclude_none=True,
    responses={
        200: {"headers": _ETAG_HEADER, "description": "Stored (or unchanged: the same profile keeps its ETag)"},
        **_SEEN,
        412: {"model": Problem, "description": "`If-Match` does not match the current version"},
        **TOO_LARGE,
        422: {
            "model": ValidationProblem,
            "description": "Not a valid profile, or its `community_id` is not the one in the URL: every problem at "
            "its path, and nothing changes",
        },
    },
    openapi_extra={
        "requestBody": {
            "required": True,
            "content": {"application/json": {"schema": {"$ref": "#/components/schemas/Profile"}}},
        }
    },
)
async def put_profile(
    community_id: CommunityPath,
    request: Request,
    ctx: Ctx,
    caller: Member,
    if_match_header: Annotated[
        str | None,
        Header(alias="If-Match", description='The ETag this edit is based on (`"<etag>"`, or `*` for any version)'),
    ] = None,
) -> Response:
    """Replace the profile: validated in full before anything changes; stored as a new version, applied at once,
    and published retained for the hub. The admin may also give a community its first profile."""
    profile = await _read_profile(request, community_id)
    if isinstance(profile, list):
        return JSONResponse(validation_problem(profile), status_code=status.HTTP_422_UNPROCESSABLE_CONTENT)
    try:
        version = await ctx.service.put_profile(profile, caller.author, if_match=if_match_header)
    except PreconditionFailed as exc:
        raise HTTPException(
            status.HTTP_412_PRECONDITION_FAILED,
            "the profile changed since it was read (If-Match does not match the current ETag): "
            "read it again and reapply the edit",
            headers=_etag(exc.current) if exc.current is not None else None,
        ) from None
    return JSONResponse(_body(version), headers=_etag(version))


@router.get(
    "/{community_id}/profile/versions",
    response_model=list[ProfileVersionView],
    response_model_exclude_none=True,
    responses={**_SEEN, **INVALID},
)
async def profile_versions(community_id: CommunityPath, ctx: Ctx, _: Member) -> list[ProfileVersionView]:
    """Every stored version, newest first, with who wrote it and when."""
    versions = await asyncio.to_thread(ctx.store.versions, community_id)
    if not versions:
        raise _no_profile(community_id)
    return [
        ProfileVersionView(
            version=v.version, etag=v.etag, author=v.author, created_at=v.created_at.isoformat(), profile=v.profile
        )
        for v in versions
    ]
