from __future__ import annotations

from datetime import datetime
from typing import Annotated

from fastapi import APIRouter, Query

from opsloop.domain.entities import Event, Experiment, Project
from opsloop.server.deps import ActorDep, CallDep, PlatformDep
from opsloop.server.schemas import ProjectCreate

router = APIRouter(tags=["projects"])


@router.get("/projects")
async def list_projects(platform: PlatformDep, call: CallDep) -> list[Project]:
    return await call(platform.projects.list_projects)


@router.post("/projects", status_code=201)
async def create_project(
    body: ProjectCreate, platform: PlatformDep, actor: ActorDep, call: CallDep
) -> Project:
    return await call(platform.projects.create, body.name, actor, body.description)


@router.get("/projects/{project}")
async def get_project(project: str, platform: PlatformDep, call: CallDep) -> Project:
    return await call(platform.projects.get, project)


@router.get("/projects/{project}/experiments")
async def list_experiments(project: str, platform: PlatformDep, call: CallDep) -> list[Experiment]:
    return await call(platform.projects.experiments, project)


@router.get("/events", tags=["events"])
async def list_events(
    platform: PlatformDep,
    call: CallDep,
    project: str | None = None,
    subject: str | None = None,
    kind: str | None = None,
    since: datetime | None = None,
    until: datetime | None = None,
    after_id: Annotated[int | None, Query(ge=0)] = None,
    limit: Annotated[int, Query(ge=1, le=10_000)] = 1000,
) -> list[Event]:
    return await call(
        platform.events.query,
        project=project,
        subject=subject,
        kind=kind,
        since=since,
        until=until,
        after_id=after_id,
        limit=limit,
    )
