"""Pipelines: the ones this server knows, their runs, and the triggers that start them."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Path, Query
from pydantic import Field
from starlette.concurrency import run_in_threadpool

from opsloop.domain.pipelines import PipelineInfo, PipelineRun, PipelineTrigger
from opsloop.server.deps import Ctx
from opsloop.server.schemas import Body

router = APIRouter(tags=["pipelines"])


class RunRequest(Body):
    params: dict[str, Any] = Field(default_factory=dict)
    wait: bool = Field(default=False, description="answer when the run has ended")
    executor: str | None = Field(
        default=None, description="inline, process, ...; default: the executor setting"
    )


class TriggerRequest(Body):
    kind: str = Field(description="schedule, labels or dataset")
    spec: dict[str, Any] = Field(
        description='{"cron": "*/5 * * * *"}, {"endpoint": E, "count": N} or {"dataset": "p/d"}'
    )
    params: dict[str, Any] = Field(default_factory=dict)


@router.get("/pipelines")
async def list_pipelines(ctx: Ctx) -> list[PipelineInfo]:
    """The pipelines this server has registered (its ``pipelines`` setting)."""
    return await ctx.call(ctx.platform.pipelines.pipelines)


@router.post("/pipelines/{name}/runs", status_code=201)
async def start_run(name: str, body: RunRequest, ctx: Ctx) -> PipelineRun:
    """Start a run; with ``wait`` the answer comes when it has ended."""
    service, actor = ctx.platform.pipelines, ctx.actor
    if body.wait:  # a whole run: never on the event loop, even embedded
        return await run_in_threadpool(
            lambda: service.run(name, params=body.params, actor=actor, executor=body.executor)
        )
    return await ctx.call(
        lambda: service.start(name, params=body.params, actor=actor, executor=body.executor)
    )


@router.get("/pipeline-runs")
async def list_runs(
    ctx: Ctx,
    pipeline: str | None = None,
    status: str | None = None,
    limit: Annotated[int, Query(ge=1, le=1000)] = 100,
) -> list[PipelineRun]:
    """Newest first, with their steps (logs left out)."""
    return await ctx.call(ctx.platform.pipelines.list, pipeline, limit, status)


@router.get("/pipeline-runs/{run_id}")
async def get_run(run_id: str, ctx: Ctx) -> PipelineRun:
    """One run (id or unique prefix) with every step, its log included."""
    return await ctx.call(ctx.platform.pipelines.get, run_id)


@router.post("/pipelines/{name}/triggers", status_code=201)
async def create_trigger(name: str, body: TriggerRequest, ctx: Ctx) -> PipelineTrigger:
    return await ctx.call(
        ctx.platform.triggers.create,
        name,
        body.kind,
        body.spec,
        body.params,
        ctx.actor,
    )


@router.get("/pipelines/{name}/triggers")
async def list_pipeline_triggers(name: str, ctx: Ctx) -> list[PipelineTrigger]:
    return await ctx.call(ctx.platform.triggers.list, name)


@router.get("/pipeline-triggers")
async def list_triggers(ctx: Ctx) -> list[PipelineTrigger]:
    return await ctx.call(ctx.platform.triggers.list)


@router.delete("/pipelines/{name}/triggers/{trigger_id}")
async def delete_trigger(
    name: str, trigger_id: Annotated[int, Path(ge=1, lt=2**31)], ctx: Ctx
) -> PipelineTrigger:
    return await ctx.call(ctx.platform.triggers.delete, name, trigger_id, ctx.actor)
