"""What the loop's report reads beside the events of its period: each one query, whatever
the period holds. The spans of runs, the endpoints' deployment histories (to look back before
the period), where shipped model versions came from, and the review queues' figures."""

from __future__ import annotations

from collections.abc import Collection, Sequence
from dataclasses import dataclass

from sqlalchemy import Connection, func, select, tuple_

from opsloop.store.repos.review import CLOSED, DECIDED
from opsloop.store.tables import (
    dataset_versions,
    datasets,
    deployments,
    endpoints,
    evaluations,
    model_versions,
    models,
    projects,
    review_decisions,
    review_items,
    run_inputs,
    runs,
)


@dataclass(frozen=True, slots=True)
class EndpointRow:
    id: int
    name: str
    project: str


def endpoints_of(conn: Connection, project: str | None) -> list[EndpointRow]:
    """Every endpoint of ``project`` (of every project when None)."""
    statement = select(endpoints.c.id, endpoints.c.name, projects.c.name).join(
        projects, projects.c.id == endpoints.c.project_id
    )
    if project is not None:
        statement = statement.where(projects.c.name == project)
    return [EndpointRow(*row) for row in conn.execute(statement.order_by(endpoints.c.name))]


@dataclass(frozen=True, slots=True)
class RunSpan:
    id: str
    parent_id: str | None
    start: float
    end: float


def runs_ended(conn: Connection, project: str | None, since: float, until: float) -> list[RunSpan]:
    """Runs that ended in ``[since, until)``, with when they started (maybe before)."""
    statement = select(runs.c.id, runs.c.parent_id, runs.c.start_time, runs.c.end_time).where(
        runs.c.start_time < until, runs.c.end_time >= since, runs.c.end_time < until
    )
    if project is not None:
        statement = statement.join(projects, projects.c.id == runs.c.project_id).where(
            projects.c.name == project
        )
    return [RunSpan(*row) for row in conn.execute(statement)]


@dataclass(frozen=True, slots=True)
class DeploymentRow:
    endpoint_id: int
    number: int
    action: str
    model: str | None
    version: int | None
    restores: int | None
    evaluation_id: int | None
    time: float


def deployments_before(
    conn: Connection, endpoint_ids: Collection[int], until: float
) -> list[DeploymentRow]:
    """The deployment histories of the endpoints up to ``until``, oldest first (the
    same changes as the endpoint events, kept per endpoint: the report looks back in them)."""
    if not endpoint_ids:
        return []
    statement = (
        select(
            deployments.c.endpoint_id,
            deployments.c.number,
            deployments.c.action,
            deployments.c.model,
            deployments.c.version,
            deployments.c.restores,
            deployments.c.evaluation_id,
            deployments.c.time,
        )
        .where(deployments.c.endpoint_id.in_(list(endpoint_ids)), deployments.c.time < until)
        .order_by(deployments.c.endpoint_id, deployments.c.number)
    )
    return [DeploymentRow(*row) for row in conn.execute(statement)]


@dataclass(frozen=True, slots=True)
class Origin:
    """Where a model version came from: its registration, its run, the newest data it read."""

    registered_at: float
    run_started_at: float | None
    data: str | None
    data_at: float | None


VersionKey = tuple[str, str, int]  # project, model, version


def version_origins(conn: Connection, versions: Collection[VersionKey]) -> dict[VersionKey, Origin]:
    if not versions:
        return {}
    data_projects = projects.alias("data_projects")
    statement = (
        select(
            projects.c.name,
            models.c.name,
            model_versions.c.version,
            model_versions.c.created_at,
            runs.c.start_time,
            data_projects.c.name,
            datasets.c.name,
            dataset_versions.c.version,
            dataset_versions.c.created_at,
        )
        .join(models, models.c.id == model_versions.c.model_id)
        .join(projects, projects.c.id == models.c.project_id)
        .outerjoin(runs, runs.c.id == model_versions.c.run_id)
        .outerjoin(run_inputs, run_inputs.c.run_id == runs.c.id)
        .outerjoin(dataset_versions, dataset_versions.c.id == run_inputs.c.dataset_version_id)
        .outerjoin(datasets, datasets.c.id == dataset_versions.c.dataset_id)
        .outerjoin(data_projects, data_projects.c.id == datasets.c.project_id)
        .where(tuple_(projects.c.name, models.c.name, model_versions.c.version).in_(list(versions)))
    )
    found: dict[VersionKey, Origin] = {}
    for (
        project,
        model,
        version,
        registered,
        started,
        d_project,
        d_name,
        d_version,
        d_at,
    ) in conn.execute(statement):
        key = (project, model, version)
        known = found.get(key)
        newest = d_at is not None and (known is None or (known.data_at or 0) < d_at)
        if known is None or newest:
            data = f"{d_project}/{d_name}@{d_version}" if d_at is not None else None
            found[key] = Origin(registered, started, data, d_at)
    return found


def evaluation_times(conn: Connection, ids: Collection[int]) -> dict[int, float]:
    if not ids:
        return {}
    statement = select(evaluations.c.id, evaluations.c.created_at).where(
        evaluations.c.id.in_(list(ids))
    )
    return {int(row[0]): float(row[1]) for row in conn.execute(statement)}


# -- review queues -------------------------------------------------------------------------


def review_backlog(
    conn: Connection, endpoint_ids: Sequence[int], moment: float
) -> tuple[int, float | None]:
    """Items open at ``moment`` (routed before it, closed after it or never) and when the
    oldest of them was routed."""
    if not endpoint_ids:
        return 0, None
    count, oldest = conn.execute(
        select(func.count(), func.min(review_items.c.created_at)).where(
            review_items.c.endpoint_id.in_(list(endpoint_ids)),
            review_items.c.created_at < moment,
            (review_items.c.closed_at.is_(None)) | (review_items.c.closed_at >= moment),
        )
    ).one()
    return int(count), oldest


def review_routed(conn: Connection, endpoint_ids: Sequence[int], since: float, until: float) -> int:
    if not endpoint_ids:
        return 0
    return int(
        conn.execute(
            select(func.count()).where(
                review_items.c.endpoint_id.in_(list(endpoint_ids)),
                review_items.c.created_at >= since,
                review_items.c.created_at < until,
            )
        ).scalar_one()
    )


def review_closed(
    conn: Connection, endpoint_ids: Sequence[int], since: float, until: float
) -> list[tuple[float, float]]:
    """(routed at, closed at) of the items closed in ``[since, until)``."""
    if not endpoint_ids:
        return []
    statement = select(review_items.c.created_at, review_items.c.closed_at).where(
        review_items.c.endpoint_id.in_(list(endpoint_ids)),
        review_items.c.status == CLOSED,
        review_items.c.closed_at >= since,
        review_items.c.closed_at < until,
    )
    return [(float(row[0]), float(row[1])) for row in conn.execute(statement)]


def review_decided(
    conn: Connection, endpoint_ids: Sequence[int], since: float, until: float
) -> list[tuple[str, float | None, float]]:
    """(reviewer, claimed at, decided at) of the decisions made in ``[since, until)``."""
    if not endpoint_ids:
        return []
    statement = (
        select(
            review_decisions.c.reviewer,
            review_decisions.c.claimed_at,
            review_decisions.c.decided_at,
        )
        .join(review_items, review_items.c.id == review_decisions.c.item_id)
        .where(
            review_items.c.endpoint_id.in_(list(endpoint_ids)),
            review_decisions.c.action == DECIDED,
            review_decisions.c.decided_at >= since,
            review_decisions.c.decided_at < until,
        )
    )
    return [(row[0], row[1], float(row[2])) for row in conn.execute(statement)]
