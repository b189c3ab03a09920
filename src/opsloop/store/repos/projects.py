"""Projects and the experiments inside them."""

from __future__ import annotations

from sqlalchemy import Connection, bindparam, select

from opsloop.domain.entities import Experiment, Project
from opsloop.domain.errors import NotFound
from opsloop.store.repos._time import at, now
from opsloop.store.tables import experiments, projects

_ID_BY_NAME = select(projects.c.id).where(projects.c.name == bindparam("name"))
_EXPERIMENT_ID = select(experiments.c.id).where(
    experiments.c.project_id == bindparam("project_id"), experiments.c.name == bindparam("name")
)


def find_id(conn: Connection, name: str) -> int | None:
    return conn.execute(_ID_BY_NAME, {"name": name}).scalar()


def get_id(conn: Connection, name: str) -> int:
    found = find_id(conn, name)
    if found is None:
        raise NotFound(f"project {name!r} not found", field="project")
    return found


def insert(conn: Connection, name: str, description: str = "") -> int:
    result = conn.execute(
        projects.insert().values(name=name, description=description, created_at=now())
    )
    return int(result.inserted_primary_key[0])  # type: ignore[index]


def get(conn: Connection, name: str) -> Project:
    row = conn.execute(select(projects).where(projects.c.name == name)).first()
    if row is None:
        raise NotFound(f"project {name!r} not found", field="project")
    return Project(name=row.name, description=row.description, created_at=at(row.created_at))


def list_all(conn: Connection) -> list[Project]:
    rows = conn.execute(select(projects).order_by(projects.c.name))
    return [
        Project(name=row.name, description=row.description, created_at=at(row.created_at))
        for row in rows
    ]


def find_experiment_id(conn: Connection, project_id: int, name: str) -> int | None:
    return conn.execute(_EXPERIMENT_ID, {"project_id": project_id, "name": name}).scalar()


def insert_experiment(conn: Connection, project_id: int, name: str) -> int:
    result = conn.execute(
        experiments.insert().values(project_id=project_id, name=name, created_at=now())
    )
    return int(result.inserted_primary_key[0])  # type: ignore[index]


def list_experiments(conn: Connection, project: str) -> list[Experiment]:
    project_id = get_id(conn, project)
    rows = conn.execute(
        select(experiments)
        .where(experiments.c.project_id == project_id)
        .order_by(experiments.c.name)
    )
    return [
        Experiment(project=project, name=row.name, created_at=at(row.created_at)) for row in rows
    ]
