"""Runs with their params, tags, metric history, artifacts and input datasets."""

from __future__ import annotations

import struct
from collections import defaultdict
from collections.abc import Callable
from typing import Any

from sqlalchemy import (
    ColumnElement,
    Connection,
    Float,
    Text,
    and_,
    bindparam,
    cast,
    func,
    literal,
    null,
    select,
    union_all,
)
from sqlalchemy.dialects import postgresql, sqlite

from opsloop.domain.entities import DatasetInput, MetricSeries, Run, RunArtifact, RunStatus
from opsloop.domain.errors import NotFound
from opsloop.domain.run_query import Clause, Field, Order
from opsloop.store.repos._ids import resolve_prefix
from opsloop.store.repos._time import at, at_or_none
from opsloop.store.tables import (
    dataset_versions,
    datasets,
    experiments,
    latest_metrics,
    metric_chunks,
    params,
    projects,
    run_artifacts,
    run_inputs,
    runs,
    tags,
)


def null_number() -> Any:
    return cast(null(), Float)


def null_text() -> Any:
    return cast(null(), Text)


# The hot paths (start, log, end, get) use statements built once with bound parameters:
# building a SQLAlchemy statement costs several times more than running it on SQLite.
_INSERT_RUN = runs.insert()
_STATE = (
    select(runs.c.id, runs.c.status, projects.c.name)
    .join(projects, projects.c.id == runs.c.project_id)
    .where(runs.c.id == bindparam("run_id"))
)
_STATE_FOR_UPDATE = _STATE.with_for_update(of=runs)
_FINISH = (
    runs.update()
    .where(runs.c.id == bindparam("run_id_"))
    .values(status=bindparam("status"), end_time=bindparam("end_time"), error=bindparam("error"))
)
_PARAMS_OF = select(params.c.key, params.c.value).where(
    params.c.run_id == bindparam("run_id"), params.c.key.in_(bindparam("keys", expanding=True))
)
_INSERT_PARAM = params.insert()
_INSERT_TAG = tags.insert()
_INSERT_CHUNK = metric_chunks.insert()


def insert(conn: Connection, **values: Any) -> None:
    conn.execute(_INSERT_RUN, values)


def resolve_id(conn: Connection, run_id: str) -> str:
    return resolve_prefix(conn, runs.c.id, run_id, "run")


def state_of(
    conn: Connection, run_id: str, *, for_update: bool = False
) -> tuple[str, RunStatus, str]:
    """(full id, status, project name) of a run given by id or unique prefix, in one query.

    ``for_update`` locks the run's row (PostgreSQL) until the transaction ends, so a write
    that checked the run is still running cannot interleave with the run's end.
    """
    statement = _STATE_FOR_UPDATE if for_update else _STATE
    row = conn.execute(statement, {"run_id": run_id}).first()
    if row is None:
        row = conn.execute(statement, {"run_id": resolve_id(conn, run_id)}).first()
    assert row is not None
    return str(row[0]), RunStatus(row[1]), str(row[2])


def finish(
    conn: Connection, run_id: str, status: RunStatus, end_time: float, error: str | None
) -> None:
    conn.execute(
        _FINISH, {"run_id_": run_id, "status": status.value, "end_time": end_time, "error": error}
    )


def params_of(conn: Connection, run_id: str, keys: list[str]) -> dict[str, str]:
    """The stored values of ``keys`` (those that have one) for a run."""
    if not keys:
        return {}
    return dict(conn.execute(_PARAMS_OF, {"run_id": run_id, "keys": keys}).all())


def insert_values(
    conn: Connection, run_id: str, param_values: dict[str, str], tag_values: dict[str, str]
) -> None:
    """The first params and tags of a run that has none yet."""
    if param_values:
        conn.execute(
            _INSERT_PARAM,
            [{"run_id": run_id, "key": k, "value": v} for k, v in param_values.items()],
        )
    if tag_values:
        conn.execute(
            _INSERT_TAG, [{"run_id": run_id, "key": k, "value": v} for k, v in tag_values.items()]
        )


_UPSERTS: dict[tuple[str, str], Any] = {}
SMALL_SERIES = 32


def _upsert(conn: Connection, name: str, build: Callable[[Any], Any]) -> Any:
    """An INSERT ... ON CONFLICT statement in the connection's dialect, built once:
    ``build`` gets the dialect's ``insert`` and returns the statement."""
    key = (conn.dialect.name, name)
    if key not in _UPSERTS:
        _UPSERTS[key] = build(postgresql.insert if key[0] == "postgresql" else sqlite.insert)
    return _UPSERTS[key]


def _tags_upsert(insert: Any) -> Any:
    statement = insert(tags)
    return statement.on_conflict_do_update(
        index_elements=[tags.c.run_id, tags.c.key], set_={"value": statement.excluded.value}
    )


def write_tags(conn: Connection, run_id: str, values: dict[str, str]) -> None:
    """Set tags, replacing earlier values; one statement, safe against a concurrent writer."""
    if not values:
        return
    conn.execute(
        _upsert(conn, "tags", _tags_upsert),
        [{"run_id": run_id, "key": k, "value": v} for k, v in values.items()],
    )


def _latest_upsert(insert: Any) -> Any:
    """Moves a key's latest value only forward."""
    statement = insert(latest_metrics)
    newer = (statement.excluded.step > latest_metrics.c.step) | and_(
        statement.excluded.step == latest_metrics.c.step,
        statement.excluded.timestamp >= latest_metrics.c.timestamp,
    )
    return statement.on_conflict_do_update(
        index_elements=[latest_metrics.c.run_id, latest_metrics.c.key],
        set_={c: statement.excluded[c] for c in ("step", "value", "timestamp")},
        where=newer,
    )


def write_metrics(
    conn: Connection, run_id: str, series: dict[str, MetricSeries]
) -> tuple[int, dict[str, float]]:
    """Append one chunk per key, and move each key's latest value forward if this batch is
    newer (by step, then timestamp). Returns the points written and this batch's latest
    value per key."""
    chunks: list[dict[str, Any]] = []
    latest: list[dict[str, Any]] = []
    written = 0
    for key, points in series.items():
        count = len(points.values)
        if not count:
            continue
        if count <= SMALL_SERIES:  # NumPy's per-call cost outweighs its speed on a few points
            steps_raw = struct.pack(f"<{count}q", *points.steps)
            values_raw = struct.pack(f"<{count}d", *points.values)
            stamps_raw = struct.pack(f"<{count}q", *points.timestamps)
            last = max(range(count), key=lambda i: (points.steps[i], points.timestamps[i]))
            last_step, last_value = points.steps[last], points.values[last]
            last_stamp = points.timestamps[last]
        else:
            import numpy as np

            steps = np.asarray(points.steps, dtype="<i8")
            values = np.asarray(points.values, dtype="<f8")
            stamps = np.asarray(points.timestamps, dtype="<i8")
            steps_raw, values_raw, stamps_raw = steps.tobytes(), values.tobytes(), stamps.tobytes()
            index = int(np.lexsort((stamps, steps))[-1])
            last_step, last_value = int(steps[index]), float(values[index])
            last_stamp = int(stamps[index])
        chunks.append(
            {
                "run_id": run_id,
                "key": key,
                "count": count,
                "steps": steps_raw,
                "values": values_raw,
                "timestamps": stamps_raw,
            }
        )
        latest.append(
            {
                "run_id": run_id,
                "key": key,
                "step": last_step,
                "value": last_value,
                "timestamp": last_stamp,
            }
        )
        written += count
    if not chunks:
        return 0, {}
    conn.execute(_INSERT_CHUNK, chunks)
    conn.execute(_upsert(conn, "latest_metrics", _latest_upsert), latest)
    return written, {row["key"]: row["value"] for row in latest}


def add_artifact(conn: Connection, run_id: str, path: str, sha256: str, size: int) -> None:
    conn.execute(
        run_artifacts.delete().where(run_artifacts.c.run_id == run_id, run_artifacts.c.path == path)
    )
    conn.execute(run_artifacts.insert().values(run_id=run_id, path=path, sha256=sha256, size=size))


def add_input(conn: Connection, run_id: str, dataset_version_id: int) -> None:
    exists = conn.execute(
        select(run_inputs.c.run_id).where(
            run_inputs.c.run_id == run_id, run_inputs.c.dataset_version_id == dataset_version_id
        )
    ).first()
    if not exists:
        conn.execute(
            run_inputs.insert().values(run_id=run_id, dataset_version_id=dataset_version_id)
        )


_BASE = (
    select(runs, projects.c.name.label("project"), experiments.c.name.label("experiment"))
    .join(projects, projects.c.id == runs.c.project_id)
    .join(experiments, experiments.c.id == runs.c.experiment_id)
)


_GET = _BASE.where(runs.c.id == bindparam("run_id"))
_IDS: Any = bindparam("ids", expanding=True)
# One query for a page of runs' params, tags and latest metrics: (kind, run, key, text, number).
_VALUES = union_all(
    select(literal("p"), params.c.run_id, params.c.key, params.c.value, null_number()).where(
        params.c.run_id.in_(_IDS)
    ),
    select(literal("t"), tags.c.run_id, tags.c.key, tags.c.value, null_number()).where(
        tags.c.run_id.in_(_IDS)
    ),
    select(
        literal("m"),
        latest_metrics.c.run_id,
        latest_metrics.c.key,
        null_text(),
        latest_metrics.c.value,
    ).where(latest_metrics.c.run_id.in_(_IDS)),
)
_INPUTS = (
    select(run_inputs.c.run_id, projects.c.name, datasets.c.name, dataset_versions.c.version)
    .join(dataset_versions, dataset_versions.c.id == run_inputs.c.dataset_version_id)
    .join(datasets, datasets.c.id == dataset_versions.c.dataset_id)
    .join(projects, projects.c.id == datasets.c.project_id)
    .where(run_inputs.c.run_id.in_(_IDS))
)
_ARTIFACTS = (
    select(
        run_artifacts.c.run_id, run_artifacts.c.path, run_artifacts.c.sha256, run_artifacts.c.size
    )
    .where(run_artifacts.c.run_id.in_(_IDS))
    .order_by(run_artifacts.c.path)
)
_SLOTS = {"p": "params", "t": "tags", "m": "metrics"}


def get(conn: Connection, run_id: str) -> Run:
    row = conn.execute(_GET, {"run_id": run_id}).first()
    if row is None:
        raise NotFound(f"run {run_id!r} not found", field="run_id")
    return _assemble(conn, [row], full=True)[0]


def search(
    conn: Connection,
    *,
    project_id: int,
    experiment_id: int | None,
    clauses: list[Clause],
    order: list[Order],
    limit: int,
    offset: int,
) -> tuple[list[Run], int]:
    """A page of a project's runs matching ``clauses``, and how many match in all.

    Each metric, param or tag named in a filter is one join on its ``(key, value)`` index, so
    the database can start from the few matching values instead of probing every run; one
    named only in the order is an outer join, so runs without it still come (last).
    """
    source: Any = runs
    joined: dict[tuple[str, str], Any] = {}

    def value_of(field: Field, *, required: bool) -> Any:
        nonlocal source
        if field.kind == "attribute":
            return _attribute(field.key)
        if (field.kind, field.key) not in joined:
            table = _VALUE_TABLES[field.kind].alias(f"{field.kind}_{len(joined)}")
            condition = and_(table.c.run_id == runs.c.id, table.c.key == field.key)
            source = source.join(table, condition, isouter=not required)
            joined[(field.kind, field.key)] = table
        return joined[(field.kind, field.key)].c.value

    filters = [
        _compare(value_of(clause.field, required=True), clause.op, clause.value)
        for clause in clauses
    ]
    # With a metric, param or tag filter, its (key, value) index is the selective way in;
    # "+ 0" keeps the planner from starting at the project's runs instead (without
    # statistics SQLite prefers the equality on project_id, and visits every run).
    project = runs.c.project_id + 0 if joined else runs.c.project_id
    conditions = [project == project_id, *filters]
    if experiment_id is not None:
        conditions.append(runs.c.experiment_id == experiment_id)
    experiment = Field("attribute", "experiment")
    by_experiment = experiments.c.id == runs.c.experiment_id
    if any(clause.field == experiment for clause in clauses):
        source = source.join(experiments, by_experiment)
    matching = select(func.count()).select_from(source).where(*conditions)
    ordering = []
    for item in order or [Order(Field("attribute", "start_time"), True)]:
        column = value_of(item.field, required=False)
        ordering.append(
            column.desc().nulls_last() if item.descending else column.asc().nulls_last()
        )
    if any(item.field == experiment for item in order) and not any(
        clause.field == experiment for clause in clauses
    ):
        source = source.join(experiments, by_experiment)
    # The page's ids from the runs (and what the filter and order join) alone, then their
    # rows: joined to projects and experiments up front, SQLite would start from those and
    # sort every run of the project once the store is analyzed (10,000 runs, newest first:
    # 25.4 ms against 7.4 ms this way).
    page = (
        select(runs.c.id)
        .select_from(source)
        .where(*conditions)
        .order_by(*ordering, runs.c.id)
        .limit(limit)
        .offset(offset)
    )
    ids = list(conn.execute(page).scalars())
    found = {row.id: row for row in conn.execute(_BASE.where(runs.c.id.in_(ids)))} if ids else {}
    rows = [found[run_id] for run_id in ids]
    if len(rows) < limit and (rows or offset == 0):
        total = offset + len(rows)  # the last page: no need to count
    else:
        total = conn.execute(matching).scalar_one()
    return _assemble(conn, rows, full=False), int(total)


_VALUE_TABLES = {"metric": latest_metrics, "param": params, "tag": tags}


def _attribute(key: str) -> Any:
    if key == "experiment":
        return experiments.c.name
    if key == "duration":  # only the web UI's table orders by it (a running run has none)
        return runs.c.end_time - runs.c.start_time
    return runs.c[key]


def _compare(column: Any, op: str, value: float | str) -> ColumnElement[bool]:
    if op == "like":
        return column.like(value)
    return {
        "=": column.__eq__,
        "!=": column.__ne__,
        "<": column.__lt__,
        "<=": column.__le__,
        ">": column.__gt__,
        ">=": column.__ge__,
    }[op](value)


def _assemble(conn: Connection, rows: list[Any], *, full: bool) -> list[Run]:
    """Fetch what a page of runs holds in a few queries in all, not a few per run."""
    ids = [row.id for row in rows]
    if not ids:
        return []
    by_run: dict[str, dict[str, Any]] = defaultdict(
        lambda: {"params": {}, "tags": {}, "metrics": {}, "inputs": [], "artifacts": []}
    )
    for kind, run_id, key, text, number in conn.execute(_VALUES, {"ids": ids}):
        by_run[run_id][_SLOTS[kind]][key] = text if kind != "m" else number
    if full:
        for run_id, project, dataset, version in conn.execute(_INPUTS, {"ids": ids}):
            by_run[run_id]["inputs"].append(
                DatasetInput(project=project, dataset=dataset, version=version)
            )
        for run_id, path, sha, size in conn.execute(_ARTIFACTS, {"ids": ids}):
            by_run[run_id]["artifacts"].append(RunArtifact(path=path, sha256=sha, size=size))
    return [
        Run(
            id=row.id,
            project=row.project,
            experiment=row.experiment,
            name=row.name,
            status=RunStatus(row.status),
            parent_id=row.parent_id,
            user=row.user,
            start_time=at(row.start_time),
            end_time=at_or_none(row.end_time),
            duration_s=None if row.end_time is None else row.end_time - row.start_time,
            git_sha=row.git_sha,
            git_dirty=row.git_dirty,
            python_version=row.python_version,
            packages=(row.packages or {}) if full else {},
            error=row.error,
            **by_run[row.id],
        )
        for row in rows
    ]


# Several runs whole, for the web UI (their histories and the rest: run_reads.py).


def get_many(conn: Connection, run_ids: list[str]) -> list[Run]:
    """Runs given by id or unique prefix, whole, in the order given (duplicates dropped)."""
    found = {row.id: row for row in conn.execute(_BASE.where(runs.c.id.in_(run_ids))).all()}
    ordered: dict[str, Any] = {}
    for given in run_ids:
        row = found.get(given)
        if row is None:  # a prefix, or unknown: resolve_id says which
            full = resolve_id(conn, given)
            row = found.get(full) or conn.execute(_GET, {"run_id": full}).one()
        ordered.setdefault(row.id, row)
    return _assemble(conn, list(ordered.values()), full=True)
