from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Query, Request
from starlette.concurrency import run_in_threadpool

from opsloop.domain.entities import MetricSeries, Run
from opsloop.domain.names import parse_dataset_ref
from opsloop.server.deps import ActorDep, PlatformDep, body_schema, parse_body
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


@router.post("/runs", status_code=201)
def start_run(body: RunCreate, platform: PlatformDep, actor: ActorDep) -> Run:
    return platform.tracking.start_run(actor=actor, **body.model_dump())


@router.get("/runs/{run_id}")
def get_run(run_id: str, platform: PlatformDep) -> Run:
    return platform.tracking.get_run(run_id)


@router.post("/runs/{run_id}/log", openapi_extra=body_schema(RunLog))
async def log_batch(run_id: str, request: Request, platform: PlatformDep) -> LogResult:
    body = await parse_body(RunLog, request)
    written = await run_in_threadpool(
        platform.tracking.log, run_id, params=body.params, tags=body.tags, metrics=body.metrics
    )
    return LogResult(metrics_written=written)


@router.post("/runs/{run_id}/end", openapi_extra=body_schema(RunEnd))
async def end_run(run_id: str, request: Request, platform: PlatformDep, actor: ActorDep) -> Run:
    body = await parse_body(RunEnd, request)
    return await run_in_threadpool(
        platform.tracking.end_run,
        run_id,
        actor=actor,
        status=body.status,
        error=body.error,
        params=body.params,
        tags=body.tags,
        metrics=body.metrics,
    )


@router.get("/runs/{run_id}/metrics/{key:path}")
def metric_history(run_id: str, key: str, platform: PlatformDep) -> MetricSeries:
    return platform.tracking.metric_history(run_id, key)


@router.post("/runs/{run_id}/inputs")
def use_dataset(run_id: str, body: RunInput, platform: PlatformDep) -> Run:
    ref = parse_dataset_ref(body.dataset)
    return platform.tracking.use_dataset(run_id, ref.project, ref.dataset, ref.version)


@router.post("/runs/{run_id}/artifacts")
def log_artifact(run_id: str, body: RunArtifactCreate, platform: PlatformDep) -> Run:
    return platform.tracking.log_artifact(run_id, body.path, body.sha256)


@router.get("/projects/{project}/runs")
def search_runs(
    project: str,
    platform: PlatformDep,
    experiment: str | None = None,
    filter: str | None = None,
    order_by: str | None = None,
    limit: Annotated[int, Query(ge=1, le=10_000)] = 100,
    offset: Annotated[int, Query(ge=0)] = 0,
) -> RunList:
    found, total = platform.tracking.search_runs(
        project,
        experiment=experiment,
        filter=filter,
        order_by=order_by,
        limit=limit,
        offset=offset,
    )
    return RunList(runs=found, total=total)
