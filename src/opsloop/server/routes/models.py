from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Query

from opsloop.domain.entities import AliasMove, Model, ModelVersion
from opsloop.domain.names import pinned
from opsloop.server.deps import Ctx
from opsloop.server.schemas import AliasSet, ModelCreate, ModelVersionCreate

router = APIRouter(tags=["models"])


@router.get("/models")
async def list_models(ctx: Ctx, project: str | None = None) -> list[Model]:
    return await ctx.call(ctx.platform.registry.list_models, project)


@router.post("/projects/{project}/models", status_code=201)
async def create_model(project: str, body: ModelCreate, ctx: Ctx) -> Model:
    return await ctx.call(
        ctx.platform.registry.create_model, project, body.name, ctx.actor, body.description
    )


@router.get("/projects/{project}/models/{model}")
async def get_model(project: str, model: str, ctx: Ctx) -> Model:
    return await ctx.call(ctx.platform.registry.get_model, project, model)


@router.post("/projects/{project}/models/{model}/versions", status_code=201)
async def register_version(
    project: str, model: str, body: ModelVersionCreate, ctx: Ctx
) -> ModelVersion:
    return await ctx.call(
        ctx.platform.registry.register_version,
        project,
        model,
        flavor=body.flavor,
        sha256=body.sha256,
        actor=ctx.actor,
        signature=body.signature,
        run_id=body.run_id,
        description=body.description,
    )


@router.get("/projects/{project}/models/{model}/versions")
async def list_versions(project: str, model: str, ctx: Ctx) -> list[ModelVersion]:
    return await ctx.call(ctx.platform.registry.list_versions, project, model)


@router.get("/projects/{project}/models/{model}/versions/{version}")
async def get_version(project: str, model: str, version: str, ctx: Ctx) -> ModelVersion:
    """``version`` is a number, an alias, or ``latest``."""
    ref = pinned(project, model, version)
    return await ctx.call(ctx.platform.registry.resolve, ref)


@router.put("/projects/{project}/models/{model}/aliases/{alias}")
async def set_alias(project: str, model: str, alias: str, body: AliasSet, ctx: Ctx) -> AliasMove:
    return await ctx.call(
        ctx.platform.registry.set_alias, project, model, alias, body.version, ctx.actor, body.reason
    )


@router.delete("/projects/{project}/models/{model}/aliases/{alias}")
async def remove_alias(project: str, model: str, alias: str, ctx: Ctx) -> AliasMove:
    return await ctx.call(ctx.platform.registry.set_alias, project, model, alias, None, ctx.actor)


@router.get("/projects/{project}/models/{model}/aliases/{alias}/history")
async def alias_history(
    project: str,
    model: str,
    alias: str,
    ctx: Ctx,
    limit: Annotated[int, Query(ge=1, le=10_000)] = 1000,
) -> list[AliasMove]:
    return await ctx.call(ctx.platform.registry.alias_history, project, model, alias, limit)
