"""The venue's state now: who is here, which profile leads and in which phase, the desired ambience per zone."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter

from ..deps import ADMIN_ONLY, Admin, Ctx
from ..models import StateView

router = APIRouter(prefix="/api/v1", tags=["state"])


@router.get("/state", response_model=StateView, response_model_exclude_unset=True, responses=ADMIN_ONLY)
async def state(ctx: Ctx, _: Admin) -> dict[str, Any]:
    """Present members per community, the active profile and phase, the desired ambience per zone."""
    return ctx.service.state_view()
