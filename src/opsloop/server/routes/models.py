from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Query

from opsloop.domain.entities import AliasMove, Model, ModelVersion
from opsloop.domain.names import ModelRef
from opsloop.server.deps import ActorDep, CallDep, PlatformDep
from opsloop.server.schemas import AliasSet, ModelCreate, ModelVersionCreate

router = APIRouter(tags=["models"])


@router.get("/models")
async def list_models(
    platform: PlatformDep, call: CallDep, project: str | None = None
) -> list[Model]:
    return await call(platform.registry.list_models, project)


@router.post("/projects/{project}/models", status_code=201)
async def create_model(
    project: str, body: ModelCreate, platform: PlatformDep, actor: ActorDep, call: CallDep
) -> Model:
    return await call(platform.registry.create_model, project, body.name, actor, body.description)


@router.get("/projects/{project}/models/{model}")
async def get_model(project: str, model: str, platform: PlatformDep, call: CallDep) -> Model:
    return await call(platform.registry.get_model, project, model)


@router.post("/projects/{project}/models/{model}/versions", status_code=201)
async def register_version(
    project: str,
    model: str,
    body: ModelVersionCreate,
    platform: PlatformDep,
    actor: ActorDep,
    call: CallDep,
) -> ModelVersion:
    return await call(
        platform.registry.register_version,
        project,
        model,
        flavor=body.flavor,
        sha256=body.sha256,
        actor=actor,
        signature=body.signature,
        run_id=body.run_id,
        description=body.description,
    )


@router.get("/projects/{project}/models/{model}/versions")
async def list_versions(
    project: str, model: str, platform: PlatformDep, call: CallDep
) -> list[ModelVersion]:
    return await call(platform.registry.list_versions, project, model)


@router.get("/projects/{project}/models/{model}/versions/{version}")
async def get_version(
    project: str, model: str, version: str, platform: PlatformDep, call: CallDep
) -> ModelVersion:
    """``version`` is a number, an alias, or ``latest``."""
    if version.isdigit():
        ref = ModelRef(project, model, version=int(version))
    else:
        ref = ModelRef(project, model, alias=version)
    return await call(platform.registry.resolve, ref)


@router.put("/projects/{project}/models/{model}/aliases/{alias}")
async def set_alias(
    project: str,
    model: str,
    alias: str,
    body: AliasSet,
    platform: PlatformDep,
    actor: ActorDep,
    call: CallDep,
) -> AliasMove:
    return await call(
        platform.registry.set_alias, project, model, alias, body.version, actor, body.reason
    )


@router.delete("/projects/{project}/models/{model}/aliases/{alias}")
async def remove_alias(
    project: str, model: str, alias: str, platform: PlatformDep, actor: ActorDep, call: CallDep
) -> AliasMove:
    return await call(platform.registry.set_alias, project, model, alias, None, actor)


@router.get("/projects/{project}/models/{model}/aliases/{alias}/history")
async def alias_history(
    project: str,
    model: str,
    alias: str,
    platform: PlatformDep,
    call: CallDep,
    limit: Annotated[int, Query(ge=1, le=10_000)] = 1000,
) -> list[AliasMove]:
    return await call(platform.registry.alias_history, project, model, alias, limit)
