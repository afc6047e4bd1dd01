"""Communities: the admin registers one and hands its organiser the token, shown only in that one response."""

from __future__ import annotations

import asyncio

from fastapi import APIRouter, HTTPException, status

from controller.core.inputs import shown
from profiles.communities import CommunityExists

from ..deps import ADMIN_ONLY, INVALID, TOO_LARGE, Admin, Ctx
from ..models import CommunityCreate, CommunityCreated, CommunitySummary, Problem

router = APIRouter(prefix="/api/v1/communities", tags=["communities"])


@router.post(
    "",
    status_code=status.HTTP_201_CREATED,
    response_model=CommunityCreated,
    responses={
        **ADMIN_ONLY,
        409: {"model": Problem, "description": "The id is registered already"},
        **TOO_LARGE,
        **INVALID,
    },
)
async def create_community(body: CommunityCreate, ctx: Ctx, _: Admin) -> CommunityCreated:
    """Register a community and issue its token. A community known only by its profile may be registered."""
    try:
        community, token = await asyncio.to_thread(ctx.communities.create, body.id, body.name, ctx.service.clock())
    except CommunityExists:
        raise HTTPException(status.HTTP_409_CONFLICT, f"community {shown(body.id)} is registered already") from None
    return CommunityCreated(id=community.id, name=community.name, token=token)


@router.get("", response_model=list[CommunitySummary], responses=ADMIN_ONLY)
async def list_communities(ctx: Ctx, _: Admin) -> list[CommunitySummary]:
    """Registered communities and communities with a profile (from files or the hub), by id."""
    registered = {c.id: c for c in await asyncio.to_thread(ctx.communities.all)}
    profiles = ctx.service.state.profiles
    summaries = []
    for community_id in sorted(registered.keys() | profiles.keys()):
        community, profile = registered.get(community_id), profiles.get(community_id)
        name = community.name if community is not None else profile.name if profile is not None else community_id
        summaries.append(
            CommunitySummary(
                id=community_id, name=name, registered=community is not None, has_profile=profile is not None
            )
        )
    return summaries
