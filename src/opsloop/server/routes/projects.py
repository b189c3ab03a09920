from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Query

from opsloop.domain.entities import Event, Experiment, Moment, Project
from opsloop.server.deps import Ctx
from opsloop.server.schemas import ProjectCreate

router = APIRouter(tags=["projects"])


@router.get("/projects")
async def list_projects(ctx: Ctx) -> list[Project]:
    return await ctx.call(ctx.platform.projects.list_projects)


@router.post("/projects", status_code=201)
async def create_project(body: ProjectCreate, ctx: Ctx) -> Project:
    return await ctx.call(ctx.platform.projects.create, body.name, ctx.actor, body.description)


@router.get("/projects/{project}")
async def get_project(project: str, ctx: Ctx) -> Project:
    return await ctx.call(ctx.platform.projects.get, project)


@router.get("/projects/{project}/experiments")
async def list_experiments(project: str, ctx: Ctx) -> list[Experiment]:
    return await ctx.call(ctx.platform.projects.experiments, project)


@router.get("/events", tags=["events"])
async def list_events(
    ctx: Ctx,
    project: str | None = None,
    subject: str | None = None,
    kind: str | None = None,
    since: Moment | None = None,
    until: Moment | None = None,
    after_id: Annotated[int | None, Query(ge=0, le=2**63 - 1)] = None,
    limit: Annotated[int, Query(ge=1, le=10_000)] = 1000,
) -> list[Event]:
    return await ctx.call(
        ctx.platform.events.query,
        project=project,
        subject=subject,
        kind=kind,
        since=since,
        until=until,
        after_id=after_id,
        limit=limit,
    )
