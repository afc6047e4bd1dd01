"""Check-ins and check-outs over HTTP: the same path as a kiosk's over MQTT, answered once the event is durable."""

from __future__ import annotations

from fastapi import APIRouter, HTTPException, Response, status

from controller.core.inputs import shown
from controller.core.presence import CheckIn

from ..deps import ADMIN_ONLY, INVALID, NOT_FOUND, TOO_LARGE, Admin, Ctx
from ..models import CheckInRequest, CheckInResult, CheckOutRequest, CheckOutResult

router = APIRouter(prefix="/api/v1", tags=["presence"])


@router.post(
    "/checkins",
    status_code=status.HTTP_201_CREATED,
    response_model=CheckInResult,
    responses={
        200: {"model": CheckInResult, "description": "Already present for that community: nothing changed"},
        **ADMIN_ONLY,
        **NOT_FOUND,
        **TOO_LARGE,
        **INVALID,
    },
)
async def check_in(body: CheckInRequest, response: Response, ctx: Ctx, _: Admin) -> CheckInResult:
    """Check a member in (201), or move them from another community (201); 200 if already present there."""
    if not ctx.service.knows(body.community_id):
        raise HTTPException(status.HTTP_404_NOT_FOUND, f"unknown community {shown(body.community_id)}")
    outcome = await ctx.service.check_in(body.member_id, body.community_id)
    if outcome is CheckIn.ALREADY_PRESENT:
        response.status_code = status.HTTP_200_OK
        return CheckInResult(member_id=body.member_id, community_id=body.community_id, status="already_present")
    return CheckInResult(member_id=body.member_id, community_id=body.community_id, status="checked_in")


@router.post("/checkouts", response_model=CheckOutResult, responses={**ADMIN_ONLY, **NOT_FOUND, **TOO_LARGE, **INVALID})
async def check_out(body: CheckOutRequest, ctx: Ctx, _: Admin) -> CheckOutResult:
    """Check a member out; 404 if they are not checked in."""
    if not await ctx.service.check_out(body.member_id):
        raise HTTPException(status.HTTP_404_NOT_FOUND, f"member {shown(body.member_id)} is not checked in")
    return CheckOutResult(member_id=body.member_id, status="checked_out")
