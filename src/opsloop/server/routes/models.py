from __future__ import annotations

from fastapi import APIRouter

from opsloop.domain.entities import AliasMove, Model, ModelVersion
from opsloop.domain.errors import InvalidInput
from opsloop.domain.names import ModelRef
from opsloop.server.deps import ActorDep, PlatformDep
from opsloop.server.schemas import AliasSet, ModelCreate, ModelVersionCreate

router = APIRouter(tags=["models"])


@router.get("/models")
def list_models(platform: PlatformDep, project: str | None = None) -> list[Model]:
    return platform.registry.list_models(project)


@router.post("/projects/{project}/models", status_code=201)
def create_model(project: str, body: ModelCreate, platform: PlatformDep, actor: ActorDep) -> Model:
    return platform.registry.create_model(project, body.name, actor, body.description)


@router.get("/projects/{project}/models/{model}")
def get_model(project: str, model: str, platform: PlatformDep) -> Model:
    return platform.registry.get_model(project, model)


@router.post("/projects/{project}/models/{model}/versions", status_code=201)
def register_version(
    project: str, model: str, body: ModelVersionCreate, platform: PlatformDep, actor: ActorDep
) -> ModelVersion:
    return platform.registry.register_version(
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
def list_versions(project: str, model: str, platform: PlatformDep) -> list[ModelVersion]:
    return platform.registry.list_versions(project, model)


@router.get("/projects/{project}/models/{model}/versions/{version}")
def get_version(project: str, model: str, version: str, platform: PlatformDep) -> ModelVersion:
    """``version`` is a number, an alias, or ``latest``."""
    if version.isdigit():
        return platform.registry.resolve(ModelRef(project, model, version=int(version)))
    return platform.registry.resolve(ModelRef(project, model, alias=version))


@router.put("/projects/{project}/models/{model}/aliases/{alias}")
def set_alias(
    project: str, model: str, alias: str, body: AliasSet, platform: PlatformDep, actor: ActorDep
) -> AliasMove:
    return platform.registry.set_alias(project, model, alias, body.version, actor, body.reason)


@router.delete("/projects/{project}/models/{model}/aliases/{alias}")
def remove_alias(
    project: str, model: str, alias: str, platform: PlatformDep, actor: ActorDep
) -> AliasMove:
    return platform.registry.set_alias(project, model, alias, None, actor)


@router.get("/projects/{project}/models/{model}/aliases/{alias}/history")
def alias_history(
    project: str, model: str, alias: str, platform: PlatformDep, limit: int = 1000
) -> list[AliasMove]:
    if not 1 <= limit <= 10_000:
        raise InvalidInput("limit must be between 1 and 10000", field="limit")
    return platform.registry.alias_history(project, model, alias, limit)
