"""Pipeline runs with their step runs, and pipeline triggers (one aggregate: a step run only
exists for a run). A run's lease (store/repos/leases.py) is named by ``lease_name``."""

from __future__ import annotations

from typing import Any

from sqlalchemy import Connection, RowMapping, func, select

from opsloop.domain.errors import NotFound
from opsloop.domain.pipelines import (
    PipelineRun,
    PipelineStatus,
    PipelineTrigger,
    StepOutput,
    StepRun,
    StepStatus,
    TriggerKind,
    TriggerType,
)
from opsloop.store.repos._ids import resolve_prefix
from opsloop.store.repos._time import at, at_or_none
from opsloop.store.tables import (
    dataset_versions,
    datasets,
    pipeline_runs,
    pipeline_triggers,
    projects,
    step_runs,
)

ACTIVE = (PipelineStatus.QUEUED.value, PipelineStatus.RUNNING.value)
LEASE_PREFIX = "pipeline-run:"
_STEP_COLUMNS_WITHOUT_LOG = [c for c in step_runs.c if c.name != "log"]


def lease_name(run_id: str) -> str:
    """The lease that says the process executing ``run_id`` is alive."""
    return LEASE_PREFIX + run_id


# -- runs ----------------------------------------------------------------------------------


def insert_run(conn: Connection, **values: Any) -> None:
    conn.execute(pipeline_runs.insert().values(**values))


def resolve_run_id(conn: Connection, run_id: str) -> str:
    return resolve_prefix(conn, pipeline_runs.c.id, run_id, "pipeline run")


def get_run(conn: Connection, run_id: str, *, with_logs: bool = True) -> PipelineRun:
    row = conn.execute(select(pipeline_runs).where(pipeline_runs.c.id == run_id)).mappings().first()
    if row is None:
        raise NotFound(f"pipeline run {run_id!r} not found", field="run_id")
    return _run(row, _steps_of(conn, [run_id], with_logs).get(run_id, []))


def list_runs(
    conn: Connection, pipeline: str | None, limit: int, status: str | None = None
) -> list[PipelineRun]:
    """Newest first, with their steps (logs left out)."""
    statement = select(pipeline_runs).order_by(pipeline_runs.c.created_at.desc()).limit(limit)
    if pipeline is not None:
        statement = statement.where(pipeline_runs.c.pipeline == pipeline)
    if status is not None:
        statement = statement.where(pipeline_runs.c.status == status)
    rows = conn.execute(statement).mappings().all()
    steps = _steps_of(conn, [row["id"] for row in rows], with_logs=False)
    return [_run(row, steps.get(row["id"], [])) for row in rows]


def run_counts(conn: Connection) -> list[tuple[str, str | None, str, int]]:
    """(pipeline, project, status, runs) for each combination stored: one aggregate that
    gives a page its filter choices and, for any filter, how many runs match."""
    columns = (pipeline_runs.c.pipeline, pipeline_runs.c.project, pipeline_runs.c.status)
    rows = conn.execute(select(*columns, func.count()).group_by(*columns)).all()
    return [(row[0], row[1], row[2], int(row[3])) for row in rows]


def page_runs(
    conn: Connection,
    *,
    pipeline: str | None,
    project: str | None,
    status: str | None,
    limit: int,
    offset: int,
) -> list[PipelineRun]:
    """One page of runs, newest first (ties by id, so pages never overlap), each with its
    steps' positions, names, statuses, attempts and times (no output, error or log): two
    queries whatever the page size."""
    statement = (
        select(pipeline_runs)
        .order_by(pipeline_runs.c.created_at.desc(), pipeline_runs.c.id.desc())
        .limit(limit)
        .offset(offset)
    )
    if pipeline is not None:
        statement = statement.where(pipeline_runs.c.pipeline == pipeline)
    if project is not None:
        statement = statement.where(pipeline_runs.c.project == project)
    if status is not None:
        statement = statement.where(pipeline_runs.c.status == status)
    rows = conn.execute(statement).mappings().all()
    steps = _step_times_of(conn, [row["id"] for row in rows])
    return [_run(row, steps.get(row["id"], [])) for row in rows]


def mark_running(conn: Connection, run_id: str, time: float) -> bool:
    """Queued → running; False if the run is no longer queued (marked failed meanwhile)."""
    done = conn.execute(
        pipeline_runs.update()
        .where(
            pipeline_runs.c.id == run_id,
            pipeline_runs.c.status == PipelineStatus.QUEUED.value,
        )
        .values(status=PipelineStatus.RUNNING.value, started_at=time)
    )
    return bool(done.rowcount)


def finish_run(
    conn: Connection, run_id: str, status: PipelineStatus, time: float, error: str | None
) -> bool:
    """End an active run; False if it had ended already (a run is finished once)."""
    done = conn.execute(
        pipeline_runs.update()
        .where(pipeline_runs.c.id == run_id, pipeline_runs.c.status.in_(ACTIVE))
        .values(status=status.value, ended_at=time, error=error)
    )
    return bool(done.rowcount)


def active_runs(conn: Connection, pipeline: str | None = None) -> list[RowMapping]:
    """Queued and running runs (of ``pipeline`` only, if given), oldest first: id, pipeline,
    project, params."""
    statement = (
        select(
            pipeline_runs.c.id,
            pipeline_runs.c.pipeline,
            pipeline_runs.c.project,
            pipeline_runs.c.params,
        )
        .where(pipeline_runs.c.status.in_(ACTIVE))
        .order_by(pipeline_runs.c.created_at)
    )
    if pipeline is not None:
        statement = statement.where(pipeline_runs.c.pipeline == pipeline)
    return list(conn.execute(statement).mappings())


# -- steps ---------------------------------------------------------------------------------


def insert_step(conn: Connection, **values: Any) -> int:
    result = conn.execute(step_runs.insert().values(**values))
    return int(result.inserted_primary_key[0])  # type: ignore[index]


def update_step(conn: Connection, step_id: int, **values: Any) -> None:
    conn.execute(step_runs.update().where(step_runs.c.id == step_id).values(**values))


def fail_running_steps(conn: Connection, run_id: str, time: float, error: str) -> None:
    conn.execute(
        step_runs.update()
        .where(step_runs.c.run_id == run_id, step_runs.c.status == StepStatus.RUNNING.value)
        .values(status=StepStatus.FAILED.value, ended_at=time, error=error)
    )


def find_cached(conn: Connection, cache_key: str) -> tuple[dict[str, Any], str, int] | None:
    """The newest succeeded step run with this key: (output, run id, position)."""
    row = conn.execute(
        select(step_runs.c.output, step_runs.c.run_id, step_runs.c.position)
        .where(
            step_runs.c.cache_key == cache_key,
            step_runs.c.status == StepStatus.SUCCEEDED.value,
            step_runs.c.output.is_not(None),
        )
        .order_by(step_runs.c.id.desc())
        .limit(1)
    ).first()
    return None if row is None else (row[0], row[1], row[2])


def _steps_of(conn: Connection, run_ids: list[str], with_logs: bool) -> dict[str, list[StepRun]]:
    if not run_ids:
        return {}
    columns = list(step_runs.c) if with_logs else _STEP_COLUMNS_WITHOUT_LOG
    rows = conn.execute(
        select(*columns)
        .where(step_runs.c.run_id.in_(run_ids))
        .order_by(step_runs.c.run_id, step_runs.c.position)
    ).mappings()
    found: dict[str, list[StepRun]] = {}
    for row in rows:
        found.setdefault(row["run_id"], []).append(_step(row, with_logs))
    return found


def _step_times_of(conn: Connection, run_ids: list[str]) -> dict[str, list[StepRun]]:
    """The runs' steps with what a timeline needs, and nothing more."""
    if not run_ids:
        return {}
    c = step_runs.c
    rows = conn.execute(
        select(c.run_id, c.position, c.name, c.status, c.attempts, c.started_at, c.ended_at)
        .where(c.run_id.in_(run_ids))
        .order_by(c.run_id, c.position)
    )
    found: dict[str, list[StepRun]] = {}
    for run_id, position, name, status, attempts, started, ended in rows:
        found.setdefault(run_id, []).append(
            StepRun(
                position=position,
                name=name,
                status=StepStatus(status),
                attempts=attempts,
                started_at=at_or_none(started),
                ended_at=at_or_none(ended),
                duration_s=_duration(started, ended),
            )
        )
    return found


# -- triggers ------------------------------------------------------------------------------


def insert_trigger(conn: Connection, **values: Any) -> int:
    result = conn.execute(pipeline_triggers.insert().values(**values))
    return int(result.inserted_primary_key[0])  # type: ignore[index]


def get_trigger(conn: Connection, trigger_id: int, *, for_update: bool = False) -> PipelineTrigger:
    """One trigger; ``for_update`` locks its row (PostgreSQL) until the transaction ends, so
    two schedulers deciding whether it is due take turns (SQLite's write lock does this)."""
    statement = select(pipeline_triggers).where(pipeline_triggers.c.id == trigger_id)
    if for_update:
        statement = statement.with_for_update()
    row = conn.execute(statement).mappings().first()
    if row is None:
        raise NotFound(f"pipeline trigger {trigger_id} not found", field="trigger_id")
    return _trigger(row)


def list_triggers(conn: Connection, pipeline: str | None = None) -> list[PipelineTrigger]:
    statement = select(pipeline_triggers).order_by(pipeline_triggers.c.id)
    if pipeline is not None:
        statement = statement.where(pipeline_triggers.c.pipeline == pipeline)
    return [_trigger(row) for row in conn.execute(statement).mappings()]


def set_trigger_state(conn: Connection, trigger_id: int, state: dict[str, Any]) -> None:
    conn.execute(
        pipeline_triggers.update().where(pipeline_triggers.c.id == trigger_id).values(state=state)
    )


def delete_trigger(conn: Connection, trigger_id: int) -> None:
    conn.execute(pipeline_triggers.delete().where(pipeline_triggers.c.id == trigger_id))


def latest_dataset_version(conn: Connection, project: str, name: str) -> int:
    """The newest version number of ``project/name``; 0 when it has none (or does not exist)."""
    found = conn.execute(
        select(func.max(dataset_versions.c.version))
        .join(datasets, datasets.c.id == dataset_versions.c.dataset_id)
        .join(projects, projects.c.id == datasets.c.project_id)
        .where(projects.c.name == project, datasets.c.name == name)
    ).scalar()
    return int(found or 0)


# -- rows to entities ----------------------------------------------------------------------


def _duration(start: float | None, end: float | None) -> float | None:
    return None if start is None or end is None else max(0.0, end - start)


def _run(row: RowMapping, steps: list[StepRun]) -> PipelineRun:
    return PipelineRun(
        id=row["id"],
        pipeline=row["pipeline"],
        project=row["project"],
        status=PipelineStatus(row["status"]),
        trigger=TriggerType(row["trigger"]),
        trigger_detail=row["trigger_detail"],
        params=row["params"],
        executor=row["executor"],
        actor=row["actor"],
        created_at=at(row["created_at"]),
        started_at=at_or_none(row["started_at"]),
        ended_at=at_or_none(row["ended_at"]),
        duration_s=_duration(row["started_at"], row["ended_at"]),
        error=row["error"],
        steps=steps,
    )


def _step(row: RowMapping, with_log: bool) -> StepRun:
    output = row["output"]
    return StepRun(
        position=row["position"],
        name=row["name"],
        status=StepStatus(row["status"]),
        cache_key=row["cache_key"],
        attempts=row["attempts"],
        started_at=at_or_none(row["started_at"]),
        ended_at=at_or_none(row["ended_at"]),
        duration_s=_duration(row["started_at"], row["ended_at"]),
        output=None if output is None else StepOutput.model_validate(output),
        error=row["error"],
        log=row["log"] if with_log else None,
    )


def _trigger(row: RowMapping) -> PipelineTrigger:
    return PipelineTrigger(
        id=row["id"],
        pipeline=row["pipeline"],
        kind=TriggerKind(row["kind"]),
        spec=row["spec"],
        params=row["params"],
        state=row["state"],
        enabled=bool(row["enabled"]),
        created_at=at(row["created_at"]),
        created_by=row["created_by"],
    )
