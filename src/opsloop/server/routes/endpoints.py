"""Endpoints, their deployments, and their prediction log (the management API)."""

from __future__ import annotations

from typing import Annotated, Literal

from fastapi import APIRouter, Query, Response

from opsloop.domain.deployments import Deployment, Endpoint
from opsloop.domain.entities import Moment
from opsloop.domain.names import parse_model_ref
from opsloop.server.deps import Ctx
from opsloop.server.schemas import DeployRequest, PromoteRequest, RollbackRequest
from opsloop.services.feedback import EXPORT_FORMATS, encode_table

router = APIRouter(tags=["endpoints"])


@router.get("/endpoints")
async def list_endpoints(ctx: Ctx, project: str | None = None) -> list[Endpoint]:
    return await ctx.call(ctx.platform.deployments.list_endpoints, project)


@router.get("/endpoints/{name}")
async def get_endpoint(name: str, ctx: Ctx) -> Endpoint:
    return await ctx.call(ctx.platform.deployments.get, name)


@router.get("/endpoints/{name}/deployments")
async def deployment_history(
    name: str, ctx: Ctx, limit: Annotated[int, Query(ge=1, le=10_000)] = 1000
) -> list[Deployment]:
    """Newest first."""
    return await ctx.call(ctx.platform.deployments.history, name, limit)


@router.post("/endpoints/{name}/deployments", status_code=201)
async def deploy(name: str, body: DeployRequest, ctx: Ctx) -> Deployment:
    return await ctx.call(
        ctx.platform.deployments.deploy,
        parse_model_ref(body.model),
        name,
        ctx.actor,
        canary=body.canary,
        shadow=body.shadow,
        force=body.force,
        reason=body.reason,
    )


@router.post("/endpoints/{name}/promote", status_code=201)
async def promote(name: str, body: PromoteRequest, ctx: Ctx) -> Deployment:
    return await ctx.call(ctx.platform.deployments.promote, name, ctx.actor, body.reason)


@router.post("/endpoints/{name}/rollback", status_code=201)
async def rollback(name: str, body: RollbackRequest, ctx: Ctx) -> Deployment:
    return await ctx.call(
        ctx.platform.deployments.rollback,
        name,
        ctx.actor,
        steps=body.steps,
        number=body.number,
        reason=body.reason,
    )


@router.get(
    "/endpoints/{name}/predictions",
    response_class=Response,
    responses={200: {"content": {t: {} for t in EXPORT_FORMATS.values()}}},
)
async def export_predictions(
    name: str,
    ctx: Ctx,
    since: Moment | None = None,
    until: Moment | None = None,
    role: Literal["primary", "canary", "shadow"] | None = None,
    format: Literal["parquet", "csv", "jsonl"] = "parquet",
    inputs: bool = True,
) -> Response:
    """The prediction log, each prediction with its latest label (if any came)."""

    def export() -> bytes:
        table = ctx.platform.feedback.export(
            name, since=since, until=until, role=role, with_inputs=inputs
        )
        return encode_table(table, format)

    return Response(await ctx.call(export), media_type=EXPORT_FORMATS[format])
