from __future__ import annotations

from fastapi import APIRouter

from opsloop.domain.entities import Dataset, DatasetVersion
from opsloop.domain.names import parse_version
from opsloop.server.deps import Ctx
from opsloop.server.schemas import DatasetVersionCreate

router = APIRouter(tags=["datasets"])


@router.get("/datasets")
async def list_datasets(ctx: Ctx, project: str | None = None) -> list[Dataset]:
    return await ctx.call(ctx.platform.datasets.list_datasets, project)


@router.post("/projects/{project}/datasets/{name}/versions", status_code=201)
async def create_version(
    project: str, name: str, body: DatasetVersionCreate, ctx: Ctx
) -> DatasetVersion:
    return await ctx.call(
        ctx.platform.datasets.create_version,
        project,
        name,
        body.sha256,
        actor=ctx.actor,
        parents=body.parents,
        source=body.source,
        description=body.description,
    )


@router.get("/projects/{project}/datasets/{name}/versions")
async def list_versions(project: str, name: str, ctx: Ctx) -> list[DatasetVersion]:
    return await ctx.call(ctx.platform.datasets.list_versions, project, name)


@router.get("/projects/{project}/datasets/{name}/versions/{version}")
async def get_version(project: str, name: str, version: str, ctx: Ctx) -> DatasetVersion:
    """``version`` is a number or ``latest``."""
    number = None if version == "latest" else parse_version(version)
    return await ctx.call(ctx.platform.datasets.get_version, project, name, number)
