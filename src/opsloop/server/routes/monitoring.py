"""An endpoint's monitor: its policy, a run over the closed windows, the stored values."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Query, Response
from pydantic import Field, TypeAdapter

from opsloop.domain.entities import Moment
from opsloop.domain.monitoring import Monitor, MonitorValue, WindowResult
from opsloop.server.deps import Ctx, json_reply
from opsloop.server.schemas import Body

router = APIRouter(tags=["monitoring"])
_VALUES = TypeAdapter(list[MonitorValue])
_WINDOWS = TypeAdapter(list[WindowResult])


class MonitorConfigBody(Body):
    config: str = Field(description="the monitor's YAML (docs/monitoring.md)")


class MonitorRunBody(Body):
    until: Moment | None = Field(
        default=None, description="compute windows closed by then (default and at most: now)"
    )
    since: Moment | None = Field(
        default=None, description="compute again from the window holding this time"
    )


@router.put("/endpoints/{name}/monitor", response_model=Monitor)
async def set_monitor(name: str, body: MonitorConfigBody, ctx: Ctx) -> Response:
    """Set or replace the endpoint's monitor; windows already computed stay."""
    found = await ctx.call(ctx.platform.monitoring.configure, name, body.config, ctx.actor)
    return json_reply(found.redacted())


@router.get("/endpoints/{name}/monitor", response_model=Monitor)
async def get_monitor(name: str, ctx: Ctx) -> Response:
    """The policy and its YAML; webhook URLs show only scheme and host (write-only)."""
    return json_reply((await ctx.call(ctx.platform.monitoring.get, name)).redacted())


@router.post("/endpoints/{name}/monitor/run", response_model=list[WindowResult])
async def run_monitor(name: str, ctx: Ctx, body: MonitorRunBody | None = None) -> Response:
    """Compute every window closed since the last one computed; their values by metric."""
    body = body or MonitorRunBody()
    found = await ctx.call(
        ctx.platform.monitoring.run, name, actor=ctx.actor, until=body.until, since=body.since
    )
    return Response(_WINDOWS.dump_json(found), media_type="application/json")


@router.get("/endpoints/{name}/monitor/values", response_model=list[MonitorValue])
async def monitor_values(
    name: str,
    ctx: Ctx,
    metric: str | None = None,
    prefix: str | None = None,
    since: Moment | None = None,
    limit: Annotated[int | None, Query(ge=1, le=100_000, description="the last N windows")] = None,
) -> Response:
    """Stored values, oldest window first (the time series the UI and ``monitor show`` draw)."""
    found = await ctx.call(
        ctx.platform.monitoring.values,
        name,
        metric=metric,
        prefix=prefix,
        since=since,
        limit=limit,
    )
    return Response(_VALUES.dump_json(found), media_type="application/json")
