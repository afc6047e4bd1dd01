"""Every device of the venue: what the controller wants, what the device last reported, whether it is online."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter

from controller.core.views import devices_view

from ..deps import ADMIN_ONLY, Admin, Ctx
from ..models import DeviceView

router = APIRouter(prefix="/api/v1", tags=["devices"])


@router.get("/devices", response_model=list[DeviceView], responses=ADMIN_ONLY)
async def devices(ctx: Ctx, _: Admin) -> list[dict[str, Any]]:
    """Each device: desired and reported state (human units, `color_hex` for lights), online, last seen."""
    return devices_view(ctx.service.state, ctx.service.clock())
