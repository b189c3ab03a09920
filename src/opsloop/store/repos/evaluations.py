"""Evaluations: a model version's measured figures on one dataset, and a gate's verdict."""

from __future__ import annotations

from typing import Any

from sqlalchemy import Connection, RowMapping, select

from opsloop.domain.errors import NotFound
from opsloop.domain.evaluation import Evaluation
from opsloop.store.repos._time import at
from opsloop.store.tables import evaluations, model_versions, models, projects

_EVALUATIONS = (
    select(
        evaluations,
        model_versions.c.version,
        models.c.name.label("model"),
        projects.c.name.label("project"),
    )
    .join(model_versions, model_versions.c.id == evaluations.c.model_version_id)
    .join(models, models.c.id == model_versions.c.model_id)
    .join(projects, projects.c.id == models.c.project_id)
)


def insert(conn: Connection, **values: Any) -> int:
    result = conn.execute(evaluations.insert().values(**values))
    return int(result.inserted_primary_key[0])  # type: ignore[index]


def get(conn: Connection, evaluation_id: int) -> Evaluation:
    row = conn.execute(_EVALUATIONS.where(evaluations.c.id == evaluation_id)).mappings().first()
    if row is None:
        raise NotFound(f"evaluation {evaluation_id} not found", field="evaluation")
    return _evaluation(row)


def for_version(conn: Connection, model_version_id: int, limit: int = 100) -> list[Evaluation]:
    """A version's evaluations, newest first."""
    rows = conn.execute(
        _EVALUATIONS.where(evaluations.c.model_version_id == model_version_id)
        .order_by(evaluations.c.id.desc())
        .limit(limit)
    ).mappings()
    return [_evaluation(row) for row in rows]


def latest_verdict(
    conn: Connection, model_version_id: int, endpoint: str
) -> tuple[int, str | None] | None:
    """(id, verdict) of the newest gated evaluation of a version for ``endpoint``."""
    row = conn.execute(
        select(evaluations.c.id, evaluations.c.verdict)
        .where(
            evaluations.c.model_version_id == model_version_id,
            evaluations.c.endpoint == endpoint,
            evaluations.c.verdict.is_not(None),
        )
        .order_by(evaluations.c.id.desc())
        .limit(1)
    ).first()
    return None if row is None else (int(row[0]), row[1])


def _evaluation(row: RowMapping) -> Evaluation:
    report = row["report"]
    return Evaluation(
        id=row["id"],
        project=row["project"],
        model=row["model"],
        version=row["version"],
        endpoint=row["endpoint"],
        dataset=row["dataset"],
        verdict=row["verdict"],
        task=report.get("task"),
        target=report.get("target"),
        segment=report.get("segment"),
        candidate=report["candidate"],
        champion=report.get("champion"),
        champion_report=report.get("champion_report"),
        rules=report.get("rules", []),
        signature_compatible=report.get("signature_compatible"),
        gate=row["gate"],
        created_at=at(row["created_at"]),
        created_by=row["created_by"],
    )
