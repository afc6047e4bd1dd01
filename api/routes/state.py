"""The venue's state now: who is here, which profile leads and in which phase, the desired ambience per zone."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, status
from fastapi.responses import JSONResponse

from controller.core.inputs import shown
from controller.core.views import state_view
from profiles.errors import FieldError

from ..deps import ADMIN_ONLY, TOO_LARGE, Admin, Ctx
from ..models import ForcedProfile, StateView, ValidationProblem, validation_problem

router = APIRouter(prefix="/api/v1", tags=["state"])


@router.get("/state", response_model=StateView, response_model_exclude_unset=True, responses=ADMIN_ONLY)
async def state(ctx: Ctx, _: Admin) -> dict[str, Any]:
    """Present members per community, the active profile and phase, the desired ambience per zone."""
    return state_view(ctx.service.state)


@router.get("/forced-profile", response_model=ForcedProfile, responses=ADMIN_ONLY)
async def forced_profile(ctx: Ctx, _: Admin) -> ForcedProfile:
    """The profile an operator forced (null: the venue's policy chooses from who is here)."""
    return ForcedProfile(community_id=ctx.service.state.forced)


@router.put(
    "/forced-profile",
    response_model=ForcedProfile,
    responses={
        **ADMIN_ONLY,
        **TOO_LARGE,
        422: {
            "model": ValidationProblem,
            "description": "Invalid input, or no community has a profile by that id (at `community_id`): every "
            "problem at its path",
        },
    },
)
async def force_profile(body: ForcedProfile, ctx: Ctx, _: Admin) -> ForcedProfile | JSONResponse:
    """Drive the room with one community's profile whoever is here, until set back to null; kept across restarts.
    The same as Home Assistant's select entity or a message on `ambience/<venue>/force`."""
    if body.community_id is not None and body.community_id not in ctx.service.state.profiles:
        problem = validation_problem([FieldError("community_id", f"no profile for {shown(body.community_id)}")])
        return JSONResponse(problem, status_code=status.HTTP_422_UNPROCESSABLE_CONTENT)
    await ctx.service.force_profile(body.community_id)
    return ForcedProfile(community_id=ctx.service.state.forced)
