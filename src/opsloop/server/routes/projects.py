from __future__ import annotations

from datetime import datetime
from typing import Annotated

from fastapi import APIRouter, Query

from opsloop.domain.entities import Event, Experiment, Project
from opsloop.server.deps import ActorDep, PlatformDep
from opsloop.server.schemas import ProjectCreate

router = APIRouter(tags=["projects"])


@router.get("/projects")
def list_projects(platform: PlatformDep) -> list[Project]:
    return platform.projects.list_projects()


@router.post("/projects", status_code=201)
def create_project(body: ProjectCreate, platform: PlatformDep, actor: ActorDep) -> Project:
    return platform.projects.create(body.name, actor, body.description)


@router.get("/projects/{project}")
def get_project(project: str, platform: PlatformDep) -> Project:
    return platform.projects.get(project)


@router.get("/projects/{project}/experiments")
def list_experiments(project: str, platform: PlatformDep) -> list[Experiment]:
    return platform.projects.experiments(project)


@router.get("/events", tags=["events"])
def list_events(
    platform: PlatformDep,
    project: str | None = None,
    subject: str | None = None,
    kind: str | None = None,
    since: datetime | None = None,
    until: datetime | None = None,
    after_id: Annotated[int | None, Query(ge=0)] = None,
    limit: Annotated[int, Query(ge=1, le=10_000)] = 1000,
) -> list[Event]:
    return platform.events.query(
        project=project,
        subject=subject,
        kind=kind,
        since=since,
        until=until,
        after_id=after_id,
        limit=limit,
    )
