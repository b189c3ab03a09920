"""Evaluations: a model version's measured figures on one dataset, and a gate's verdict."""

from __future__ import annotations

from datetime import datetime
from typing import Any, NamedTuple

from sqlalchemy import Connection, RowMapping, func, select

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


# -- reads for pages: bounded, a few queries each -----------------------------------------


class VerdictSummary(NamedTuple):
    evaluation_id: int
    verdict: str
    endpoint: str | None
    created_at: datetime


def newest_verdicts(
    conn: Connection, model_id: int, versions: list[int]
) -> dict[int, VerdictSummary]:
    """The newest gated evaluation of each of ``versions`` of a model (those that have one)."""
    if not versions:
        return {}
    newest = (
        select(func.max(evaluations.c.id))
        .join(model_versions, model_versions.c.id == evaluations.c.model_version_id)
        .where(
            model_versions.c.model_id == model_id,
            model_versions.c.version.in_(versions),
            evaluations.c.verdict.is_not(None),
        )
        .group_by(evaluations.c.model_version_id)
    )
    rows = conn.execute(
        select(
            model_versions.c.version,
            evaluations.c.id,
            evaluations.c.verdict,
            evaluations.c.endpoint,
            evaluations.c.created_at,
        )
        .join(model_versions, model_versions.c.id == evaluations.c.model_version_id)
        .where(evaluations.c.id.in_(newest))
    )
    return {
        row.version: VerdictSummary(row.id, row.verdict, row.endpoint, at(row.created_at))
        for row in rows
    }


VERDICTS = ("go", "no-go", "none")


def _of_model(model_id: int, version: int | None, verdict: str | None) -> Any:
    """Which evaluations of a model: of one version, with one verdict ("none": ungated)."""
    condition = model_versions.c.model_id == model_id
    if version is not None:
        condition &= model_versions.c.version == version
    if verdict == "none":
        condition &= evaluations.c.verdict.is_(None)
    elif verdict is not None:
        condition &= evaluations.c.verdict == verdict
    return condition


def for_model(
    conn: Connection,
    model_id: int,
    *,
    version: int | None = None,
    verdict: str | None = None,
    limit: int,
    offset: int = 0,
) -> tuple[list[Evaluation], int]:
    """A page of a model's evaluations (of one version, with one verdict), newest first,
    and how many match in all."""
    where = _of_model(model_id, version, verdict)
    matching = (
        select(evaluations.c.id)
        .join(model_versions, model_versions.c.id == evaluations.c.model_version_id)
        .where(where)
    )
    # the page's ids first, so the reports of the rows skipped over are never read
    page = matching.order_by(evaluations.c.id.desc()).limit(limit).offset(offset)
    rows = conn.execute(
        _EVALUATIONS.where(evaluations.c.id.in_(page)).order_by(evaluations.c.id.desc())
    ).mappings()
    found = [_evaluation(row) for row in rows]
    total = conn.execute(select(func.count()).select_from(matching.subquery())).scalar()
    return found, int(total or 0)
