"""Alerts: list, show, and resolve by hand (firing and auto-resolving is the monitor's)."""

from __future__ import annotations

from typing import Annotated, Literal

from fastapi import APIRouter, Path, Query

from opsloop.domain.alerts import Alert
from opsloop.server.deps import Ctx
from opsloop.server.schemas import Body
from opsloop.services.alerts.service import MAX_PAGE

router = APIRouter(tags=["alerts"])

AlertId = Annotated[int, Path(ge=1, le=2**31 - 1)]


class ResolveRequest(Body):
    reason: str = ""


@router.get("/alerts")
async def list_alerts(
    ctx: Ctx,
    endpoint: str | None = None,
    state: Literal["firing", "resolved", "all"] = "all",
    limit: Annotated[int, Query(ge=1, le=MAX_PAGE)] = 100,
) -> list[Alert]:
    """Newest first."""
    return await ctx.call(ctx.platform.alerts.list_alerts, endpoint, state, limit)


@router.get("/alerts/{alert_id}")
async def get_alert(alert_id: AlertId, ctx: Ctx) -> Alert:
    return await ctx.call(ctx.platform.alerts.get, alert_id)


@router.post("/alerts/{alert_id}/resolve")
async def resolve_alert(alert_id: AlertId, body: ResolveRequest, ctx: Ctx) -> Alert:
    """Close an open alert by hand (it is recorded who did, and why)."""
    return await ctx.call(ctx.platform.alerts.resolve, alert_id, ctx.actor, body.reason)
