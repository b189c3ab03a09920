from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Query, Request, Response

from opsloop.domain.entities import MetricSeries, Run
from opsloop.domain.names import parse_dataset_ref
from opsloop.server.deps import (
    Ctx,
    body_schema,
    json_reply,
    parse_body,
)
from opsloop.server.schemas import (
    LogResult,
    RunArtifactCreate,
    RunCreate,
    RunEnd,
    RunInput,
    RunList,
    RunLog,
)

router = APIRouter(tags=["runs"])


@router.post("/runs", status_code=201, response_model=Run, openapi_extra=body_schema(RunCreate))
async def start_run(request: Request, ctx: Ctx) -> Response:
    body = await parse_body(RunCreate, request)
    fields = {name: getattr(body, name) for name in RunCreate.model_fields if name != "id"}
    run = await ctx.call(ctx.platform.tracking.start_run, actor=ctx.actor, run_id=body.id, **fields)
    return json_reply(run, status_code=201)


@router.get("/runs/{run_id}", response_model=Run)
async def get_run(run_id: str, ctx: Ctx) -> Response:
    return json_reply(await ctx.call(ctx.platform.tracking.get_run, run_id))


@router.post("/runs/{run_id}/log", openapi_extra=body_schema(RunLog))
async def log_batch(run_id: str, request: Request, ctx: Ctx) -> LogResult:
    body = await parse_body(RunLog, request)
    written = await ctx.call(
        ctx.platform.tracking.log, run_id, params=body.params, tags=body.tags, metrics=body.metrics
    )
    return LogResult(metrics_written=written)


@router.post("/runs/{run_id}/end", response_model=Run, openapi_extra=body_schema(RunEnd))
async def end_run(run_id: str, request: Request, ctx: Ctx) -> Response:
    body = await parse_body(RunEnd, request)
    run = await ctx.call(
        ctx.platform.tracking.end_run,
        run_id,
        actor=ctx.actor,
        status=body.status,
        error=body.error,
        params=body.params,
        tags=body.tags,
        metrics=body.metrics,
    )
    return json_reply(run)


@router.get("/runs/{run_id}/metrics/{key:path}")
async def metric_history(run_id: str, key: str, ctx: Ctx) -> MetricSeries:
    return await ctx.call(ctx.platform.tracking.metric_history, run_id, key)


@router.post("/runs/{run_id}/inputs")
async def use_dataset(run_id: str, body: RunInput, ctx: Ctx) -> Run:
    ref = parse_dataset_ref(body.dataset)
    return await ctx.call(
        ctx.platform.tracking.use_dataset, run_id, ref.project, ref.dataset, ref.version
    )


@router.post("/runs/{run_id}/artifacts")
async def log_artifact(run_id: str, body: RunArtifactCreate, ctx: Ctx) -> Run:
    return await ctx.call(ctx.platform.tracking.log_artifact, run_id, body.path, body.sha256)


@router.get("/projects/{project}/runs")
async def search_runs(
    project: str,
    ctx: Ctx,
    experiment: str | None = None,
    filter: str | None = None,
    order_by: str | None = None,
    limit: Annotated[int, Query(ge=1, le=10_000)] = 100,
    offset: Annotated[int, Query(ge=0, le=2**31 - 1)] = 0,
) -> RunList:
    found, total = await ctx.call(
        ctx.platform.tracking.search_runs,
        project,
        experiment=experiment,
        filter=filter,
        order_by=order_by,
        limit=limit,
        offset=offset,
    )
    return RunList(runs=found, total=total)
