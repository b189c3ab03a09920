"""Endpoints and their deployment records (one aggregate: a deployment only exists on one)."""

from __future__ import annotations

from typing import Any, NamedTuple

from sqlalchemy import Connection, RowMapping, func, or_, select

from opsloop.domain.deployments import Deployment, DeploymentAction, Endpoint, TrafficPlan
from opsloop.domain.entities import ActorKind
from opsloop.domain.errors import NotFound
from opsloop.store.repos._time import at
from opsloop.store.tables import deployments, endpoints, projects

_ENDPOINTS = select(endpoints, projects.c.name.label("project")).join(
    projects, projects.c.id == endpoints.c.project_id
)


def find_id(conn: Connection, name: str) -> int | None:
    return conn.execute(select(endpoints.c.id).where(endpoints.c.name == name)).scalar()


def get_id(conn: Connection, name: str) -> int:
    found = find_id(conn, name)
    if found is None:
        raise NotFound(f"endpoint {name!r} not found", field="endpoint")
    return found


def lock(conn: Connection, endpoint_id: int) -> None:
    """Lock the endpoint's row (PostgreSQL) for the caller's transaction: changes of its plan
    take turns, so each is made on top of the one before. SQLite's write lock does this."""
    conn.execute(select(endpoints.c.id).where(endpoints.c.id == endpoint_id).with_for_update())


def insert(conn: Connection, name: str, project_id: int, description: str, time: float) -> int:
    result = conn.execute(
        endpoints.insert().values(
            name=name,
            project_id=project_id,
            description=description,
            plan=TrafficPlan().model_dump(mode="json"),
            deployment=None,
            created_at=time,
            updated_at=time,
        )
    )
    return int(result.inserted_primary_key[0])  # type: ignore[index]


def get(conn: Connection, name: str) -> Endpoint:
    row = conn.execute(_ENDPOINTS.where(endpoints.c.name == name)).mappings().first()
    if row is None:
        raise NotFound(f"endpoint {name!r} not found", field="endpoint")
    return _endpoint(row)


def list_all(conn: Connection, project: str | None = None) -> list[Endpoint]:
    query = _ENDPOINTS.order_by(endpoints.c.name)
    if project is not None:
        query = query.where(projects.c.name == project)
    return [_endpoint(row) for row in conn.execute(query).mappings()]


def current_numbers(conn: Connection) -> dict[str, int | None]:
    """Every endpoint's current deployment number: what a serving process polls."""
    rows = conn.execute(select(endpoints.c.name, endpoints.c.deployment)).all()
    return {name: number for name, number in rows}


def insert_deployment(conn: Connection, endpoint_id: int, record: Deployment) -> None:
    values: dict[str, Any] = record.model_dump(exclude={"endpoint", "time", "plan"})
    values["plan"] = record.plan.model_dump(mode="json")
    values["time"] = record.time.timestamp()
    values["action"] = record.action.value
    values["actor_kind"] = record.actor_kind.value
    conn.execute(deployments.insert().values(endpoint_id=endpoint_id, **values))
    conn.execute(
        endpoints.update()
        .where(endpoints.c.id == endpoint_id)
        .values(plan=values["plan"], deployment=record.number, updated_at=values["time"])
    )


def get_deployment(conn: Connection, endpoint_id: int, name: str, number: int) -> Deployment:
    row = (
        conn.execute(
            select(deployments).where(
                deployments.c.endpoint_id == endpoint_id, deployments.c.number == number
            )
        )
        .mappings()
        .first()
    )
    if row is None:
        raise NotFound(f"endpoint {name!r} has no deployment {number}", field="deployment")
    return _deployment(row, name)


def history(conn: Connection, endpoint_id: int, name: str, limit: int) -> list[Deployment]:
    """The endpoint's deployments, newest first."""
    rows = conn.execute(
        select(deployments)
        .where(deployments.c.endpoint_id == endpoint_id)
        .order_by(deployments.c.number.desc())
        .limit(limit)
    ).mappings()
    return [_deployment(row, name) for row in rows]


def _endpoint(row: RowMapping) -> Endpoint:
    return Endpoint(
        name=row["name"],
        project=row["project"],
        description=row["description"],
        created_at=at(row["created_at"]),
        updated_at=at(row["updated_at"]),
        plan=TrafficPlan.model_validate(row["plan"]),
        deployment=row["deployment"],
    )


def _deployment(row: RowMapping, endpoint: str) -> Deployment:
    return Deployment(
        endpoint=endpoint,
        number=row["number"],
        action=DeploymentAction(row["action"]),
        plan=TrafficPlan.model_validate(row["plan"]),
        model=row["model"],
        version=row["version"],
        base=row["base"],
        restores=row["restores"],
        evaluation_id=row["evaluation_id"],
        verdict=row["verdict"],
        forced=bool(row["forced"]),
        reason=row["reason"],
        actor=row["actor"],
        actor_kind=ActorKind(row["actor_kind"]),
        time=at(row["time"]),
    )


class Served(NamedTuple):
    """A deployment whose plan held a version, beside its endpoint's current deployment."""

    deployment: Deployment
    role: str  # primary, canary or shadow
    current: bool  # the endpoint's plan is this deployment's now


_ROLES = ("primary", "canary", "shadow")


def serving(
    conn: Connection, project: str, model: str, version: int, limit: int
) -> tuple[list[Served], int]:
    """The deployments (newest first) of the project's endpoints whose traffic plan held
    ``model@version`` in any role, and how many there are in all."""
    plan = deployments.c.plan
    held = or_(
        *(
            (plan[(role, "model")].as_string() == model)
            & (plan[(role, "version")].as_integer() == version)
            for role in _ROLES
        )
    )
    where = (projects.c.name == project) & held
    joined = deployments.join(endpoints, endpoints.c.id == deployments.c.endpoint_id).join(
        projects, projects.c.id == endpoints.c.project_id
    )
    rows = conn.execute(
        select(
            deployments,
            endpoints.c.name.label("endpoint"),
            endpoints.c.deployment.label("current_number"),
        )
        .select_from(joined)
        .where(where)
        .order_by(deployments.c.time.desc(), deployments.c.id.desc())
        .limit(limit)
    ).mappings()
    found = []
    for row in rows:
        record = _deployment(row, row["endpoint"])
        role = next(
            name
            for name in _ROLES
            if (slot := getattr(record.plan, name)) is not None
            and (slot.model, slot.version) == (model, version)
        )
        found.append(Served(record, role, row["current_number"] == record.number))
    total = conn.execute(select(func.count()).select_from(joined).where(where)).scalar()
    return found, int(total or 0)
