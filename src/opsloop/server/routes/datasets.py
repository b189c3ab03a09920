from __future__ import annotations

from fastapi import APIRouter

from opsloop.domain.entities import Dataset, DatasetVersion
from opsloop.domain.errors import InvalidInput
from opsloop.server.deps import ActorDep, CallDep, PlatformDep
from opsloop.server.schemas import DatasetVersionCreate

router = APIRouter(tags=["datasets"])


@router.get("/datasets")
async def list_datasets(
    platform: PlatformDep, call: CallDep, project: str | None = None
) -> list[Dataset]:
    return await call(platform.datasets.list_datasets, project)


@router.post("/projects/{project}/datasets/{name}/versions", status_code=201)
async def create_version(
    project: str,
    name: str,
    body: DatasetVersionCreate,
    platform: PlatformDep,
    actor: ActorDep,
    call: CallDep,
) -> DatasetVersion:
    return await call(
        platform.datasets.create_version,
        project,
        name,
        body.sha256,
        actor=actor,
        parents=body.parents,
        source=body.source,
        description=body.description,
    )


@router.get("/projects/{project}/datasets/{name}/versions")
async def list_versions(
    project: str, name: str, platform: PlatformDep, call: CallDep
) -> list[DatasetVersion]:
    return await call(platform.datasets.list_versions, project, name)


@router.get("/projects/{project}/datasets/{name}/versions/{version}")
async def get_version(
    project: str, name: str, version: str, platform: PlatformDep, call: CallDep
) -> DatasetVersion:
    """``version`` is a number or ``latest``."""
    if version != "latest" and not version.isdigit():
        raise InvalidInput(f"version {version!r} must be a number or 'latest'", field="version")
    number = None if version == "latest" else int(version)
    return await call(platform.datasets.get_version, project, name, number)
