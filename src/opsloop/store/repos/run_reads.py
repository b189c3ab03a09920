"""What is read of runs beyond the runs themselves: metric histories (one, or many in one
query), the keys a project's runs use, and the model versions registered from a run."""

from __future__ import annotations

from collections import defaultdict
from typing import Any

from sqlalchemy import Connection, func, literal, select, union_all

from opsloop.domain.entities import MetricSeries
from opsloop.domain.errors import NotFound
from opsloop.store.tables import (
    latest_metrics,
    metric_chunks,
    model_versions,
    models,
    params,
    projects,
    runs,
)


def metric_history(conn: Connection, run_id: str, key: str) -> MetricSeries:
    """Every point of one metric, ordered by step (then time, then arrival)."""
    found = metric_histories(conn, [run_id], [key]).get(run_id, {}).get(key)
    if found is None:
        raise NotFound(f"run {run_id} has no metric {key!r}", field="key")
    return found


def metric_histories(
    conn: Connection, run_ids: list[str], keys: list[str] | None = None
) -> dict[str, dict[str, MetricSeries]]:
    """Every point of the runs' metrics (only ``keys`` when given), in one query:
    run id -> key -> series ordered by step (then time, then arrival)."""
    statement = select(
        metric_chunks.c.run_id,
        metric_chunks.c.key,
        metric_chunks.c.steps,
        metric_chunks.c["values"],
        metric_chunks.c.timestamps,
    ).where(metric_chunks.c.run_id.in_(run_ids))
    if keys is not None:
        statement = statement.where(metric_chunks.c.key.in_(keys))
    chunks: dict[tuple[str, str], list[Any]] = defaultdict(list)
    for row in conn.execute(
        statement.order_by(metric_chunks.c.run_id, metric_chunks.c.key, metric_chunks.c.id)
    ):
        chunks[(row[0], row[1])].append(row)
    if not chunks:
        return {}
    import numpy as np

    histories: dict[str, dict[str, MetricSeries]] = defaultdict(dict)
    for (run_id, key), rows in chunks.items():
        steps = np.concatenate([np.frombuffer(row[2], dtype="<i8") for row in rows])
        values = np.concatenate([np.frombuffer(row[3], dtype="<f8") for row in rows])
        stamps = np.concatenate([np.frombuffer(row[4], dtype="<i8") for row in rows])
        order = np.lexsort((np.arange(len(steps)), stamps, steps))
        histories[run_id][key] = MetricSeries(
            values=values[order].tolist(),
            steps=steps[order].tolist(),
            timestamps=stamps[order].tolist(),
        )
    return dict(histories)


def common_keys(
    conn: Connection, *, project_id: int, experiment_id: int | None, sample: int
) -> tuple[list[str], list[str]]:
    """The metric keys and the param keys of a project's newest ``sample`` runs, the most
    used first: a bounded look, so it costs the same at 100 runs or 100,000."""
    newest = select(runs.c.id).where(runs.c.project_id == project_id)
    if experiment_id is not None:
        newest = newest.where(runs.c.experiment_id == experiment_id)
    newest = newest.order_by(runs.c.start_time.desc()).limit(sample)
    uses = func.count().label("uses")
    statement = union_all(
        select(literal("m").label("kind"), latest_metrics.c.key, uses)
        .where(latest_metrics.c.run_id.in_(newest))
        .group_by(latest_metrics.c.key),
        select(literal("p"), params.c.key, func.count())
        .where(params.c.run_id.in_(newest))
        .group_by(params.c.key),
    )
    counted = sorted(conn.execute(statement).all(), key=lambda row: (-row[2], row[1]))
    return (
        [key for kind, key, _ in counted if kind == "m"],
        [key for kind, key, _ in counted if kind == "p"],
    )


def registered_from(conn: Connection, run_id: str) -> list[tuple[str, str, int]]:
    """(project, model, version) of every model version registered from the run."""
    statement = (
        select(projects.c.name, models.c.name, model_versions.c.version)
        .join(models, models.c.id == model_versions.c.model_id)
        .join(projects, projects.c.id == models.c.project_id)
        .where(model_versions.c.run_id == run_id)
        .order_by(projects.c.name, models.c.name, model_versions.c.version)
    )
    return [(str(p), str(m), int(v)) for p, m, v in conn.execute(statement)]
