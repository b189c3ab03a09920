"""Experiment tracking: runs, their params, tags, metric history, artifacts and inputs."""

from __future__ import annotations

import math
import re
import uuid
from collections.abc import Mapping
from datetime import datetime
from typing import Any

from sqlalchemy.exc import IntegrityError as SQLIntegrityError

from opsloop.domain.entities import Actor, MetricSeries, Run, RunStatus
from opsloop.domain.errors import Conflict, InvalidInput, NotFound
from opsloop.domain.names import (
    MAX_PARAM_VALUE,
    MAX_TAG_VALUE,
    check_key,
    check_label,
    check_name,
)
from opsloop.domain.run_query import TABLE_ORDER, Order, parse_filter, parse_order
from opsloop.services.projects import ProjectService
from opsloop.store.artifacts import ArtifactStore, check_sha256
from opsloop.store.database import Database, retry_races
from opsloop.store.repos import datasets, events, projects, run_reads, runs
from opsloop.store.repos._time import at, epoch_of, now

MAX_SEARCH_PAGE = 10_000
MAX_ERROR_TEXT = 20_000
MAX_CLOCK_SKEW_S = 300.0
SMALL_SERIES = 32  # below this, plain Python checks beat NumPy's per-call cost
RUN_ID = re.compile(r"^[0-9a-f]{32}\Z")


def clean_params(values: Mapping[str, Any] | None) -> dict[str, str]:
    """Params are strings once stored; numbers and booleans are written as Python prints them."""
    cleaned: dict[str, str] = {}
    for key, value in (values or {}).items():
        check_key(key, "params key")
        if isinstance(value, float) and not math.isfinite(value):
            raise InvalidInput(
                f"param {key!r} is {value}; params must be finite", field=f"params.{key}"
            )
        if not isinstance(value, str | int | float | bool):
            raise InvalidInput(
                f"param {key!r} must be a string, number or boolean, not {type(value).__name__}",
                field=f"params.{key}",
            )
        cleaned[key] = _bounded("param", key, str(value), MAX_PARAM_VALUE)
    return cleaned


def clean_tags(values: Mapping[str, Any] | None) -> dict[str, str]:
    cleaned: dict[str, str] = {}
    for key, value in (values or {}).items():
        check_key(key, "tags key")
        cleaned[key] = _bounded("tag", key, str(value), MAX_TAG_VALUE)
    return cleaned


def _bounded(kind: str, key: str, text: str, limit: int) -> str:
    if len(text) > limit:
        raise InvalidInput(
            f"{kind} {key!r} is {len(text)} characters, more than {limit}",
            field=f"{kind}s.{key}",
        )
    return text


def clip_error(error: str | None) -> str | None:
    """A failed run keeps the end of its traceback, where the cause is."""
    if error is not None and len(error) > MAX_ERROR_TEXT:
        return error[-MAX_ERROR_TEXT:]
    return error


def refuse_changed_params(run_id: str, stored: Mapping[str, str], given: Mapping[str, str]) -> None:
    """Params are write-once: the same value again is fine, a different one is a conflict."""
    for key, value in given.items():
        before = stored.get(key)
        if before is not None and before != value:
            raise Conflict(
                f"param {key!r} of run {run_id} is already {before!r}; params are write-once "
                f"(got {value!r})",
                field=f"params.{key}",
            )


def not_finite(key: str, value: object, step: int | None = None) -> InvalidInput:
    """The error for a metric value that is NaN or infinite."""
    where = "" if step is None else f" at step {step}"
    return InvalidInput(
        f"metric {key!r}{where} is {value}; metric values must be finite numbers",
        field=f"metrics.{key}",
    )


def check_metrics(series: Mapping[str, MetricSeries] | None) -> dict[str, MetricSeries]:
    for key, points in (series or {}).items():
        check_key(key, "metrics key")
        count = len(points.values)
        if len(points.steps) != count or len(points.timestamps) != count:
            raise InvalidInput(
                f"metric {key!r}: values, steps and timestamps must have the same length "
                f"({count}, {len(points.steps)}, {len(points.timestamps)})",
                field=f"metrics.{key}",
            )
        if count <= SMALL_SERIES:
            bad = [i for i, value in enumerate(points.values) if not math.isfinite(value)]
        else:
            import numpy as np

            bad = np.flatnonzero(~np.isfinite(np.asarray(points.values, dtype="f8"))).tolist()
        if bad:
            raise not_finite(key, points.values[bad[0]], points.steps[bad[0]])
    return dict(series or {})


def _check_running(run_id: str, status: RunStatus) -> None:
    if status != RunStatus.RUNNING:
        raise Conflict(f"run {run_id} is {status.value}; it takes no more writes", field="run_id")


class TrackingService:
    def __init__(self, db: Database, artifacts: ArtifactStore, projects: ProjectService) -> None:
        self.db = db
        self.artifacts = artifacts
        self.project_service = projects

    def start_run(
        self,
        *,
        project: str,
        actor: Actor,
        experiment: str = "default",
        name: str | None = None,
        run_id: str | None = None,
        parent_id: str | None = None,
        start_time: datetime | None = None,
        params: Mapping[str, Any] | None = None,
        tags: Mapping[str, Any] | None = None,
        metrics: Mapping[str, MetricSeries] | None = None,
        git_sha: str | None = None,
        git_dirty: bool | None = None,
        python_version: str | None = None,
        packages: Mapping[str, str] | None = None,
        end: RunStatus | None = None,
        error: str | None = None,
    ) -> Run:
        """Create a run, with a first batch; with ``end`` it is also closed, in one transaction.

        ``run_id`` may be chosen by the caller (32 hex digits: the SDK makes ids itself so a
        run can be written before the server has heard of it); ``start_time`` defaults to now.
        """
        if run_id is None:
            run_id = uuid.uuid4().hex
        elif not isinstance(run_id, str) or not RUN_ID.match(run_id):
            raise InvalidInput("run id must be 32 lower-case hex digits", field="id")
        name = check_label(name, "name") if name is not None else f"run-{run_id[:8]}"
        clean, clean_tag_values = clean_params(params), clean_tags(tags)
        series = check_metrics(metrics)
        started = now() if start_time is None else epoch_of(start_time)
        if started > now() + MAX_CLOCK_SKEW_S:
            raise InvalidInput("start_time is in the future", field="start_time")
        if end == RunStatus.RUNNING:
            raise InvalidInput("a run ends FINISHED, FAILED or KILLED", field="end")
        return retry_races(
            lambda: self._insert_run(
                run_id,
                project,
                experiment,
                name,
                actor,
                parent_id,
                started,
                clean,
                clean_tag_values,
                series,
                git_sha,
                git_dirty,
                python_version,
                packages,
                end,
                error,
            ),
            f"starting run {run_id}",
        )

    def _insert_run(
        self,
        run_id: str,
        project: str,
        experiment: str,
        name: str,
        actor: Actor,
        parent_id: str | None,
        started: float,
        clean: dict[str, str],
        clean_tag_values: dict[str, str],
        series: dict[str, MetricSeries],
        git_sha: str | None,
        git_dirty: bool | None,
        python_version: str | None,
        packages: Mapping[str, str] | None,
        end: RunStatus | None,
        error: str | None,
    ) -> Run:
        with self.db.begin() as conn:
            project_id = self.project_service.ensure(conn, project, actor)
            experiment_id = self.project_service.ensure_experiment(
                conn, project_id, project, experiment, actor
            )
            if parent_id is not None:
                try:
                    parent_id, _status, parent_project = runs.state_of(conn, parent_id)
                except NotFound:
                    raise NotFound(
                        f"parent run {parent_id!r} not found", field="parent_id"
                    ) from None
                if parent_project != project:
                    raise InvalidInput(
                        f"parent run {parent_id} belongs to another project", field="parent_id"
                    )
            ended = now() if end is not None else None
            error = clip_error(error)
            # A new run has nothing to compare with or replace: plain inserts, and the answer
            # is built from what was written rather than read back.
            try:
                runs.insert(
                    conn,
                    id=run_id,
                    project_id=project_id,
                    experiment_id=experiment_id,
                    name=name,
                    status=(end or RunStatus.RUNNING).value,
                    parent_id=parent_id,
                    user=actor.name,
                    start_time=started,
                    end_time=ended,
                    error=error if end is not None else None,
                    git_sha=git_sha,
                    git_dirty=git_dirty,
                    python_version=python_version,
                    packages=dict(packages or {}),
                )
            except SQLIntegrityError:  # the primary key: this id is taken
                raise Conflict(f"run {run_id} already exists", field="id") from None
            runs.insert_values(conn, run_id, clean, clean_tag_values)
            _written, latest = runs.write_metrics(conn, run_id, series)
            told = {
                "subject": f"run:{run_id}",
                "project": project,
                "actor": actor.name,
                "actor_kind": actor.kind,
            }
            happened = [
                {
                    **told,
                    "kind": "run.started",
                    "time": started,
                    "data": {"experiment": experiment, "name": name, "parent_id": parent_id},
                }
            ]
            if end is not None and ended is not None:
                happened.append(
                    {
                        **told,
                        "kind": f"run.{end.value.lower()}",
                        "time": ended,
                        "data": {"status": end.value},
                    }
                )
            events.append_many(conn, happened)
        return Run(
            id=run_id,
            project=project,
            experiment=experiment,
            name=name,
            status=end or RunStatus.RUNNING,
            parent_id=parent_id,
            user=actor.name,
            start_time=at(started),
            end_time=None if ended is None else at(ended),
            duration_s=None if ended is None else ended - started,
            params=clean,
            tags=clean_tag_values,
            metrics=latest,
            git_sha=git_sha,
            git_dirty=git_dirty,
            python_version=python_version,
            packages=dict(packages or {}),
            error=error if end is not None else None,
        )

    def log(
        self,
        run_id: str,
        *,
        params: Mapping[str, Any] | None = None,
        tags: Mapping[str, Any] | None = None,
        metrics: Mapping[str, MetricSeries] | None = None,
    ) -> int:
        """Write a batch to a running run; returns the number of metric points written."""
        clean, clean_tag_values, series = (
            clean_params(params),
            clean_tags(tags),
            check_metrics(metrics),
        )
        with self.db.begin() as conn:
            run_id, status, _project = runs.state_of(conn, run_id, for_update=True)
            _check_running(run_id, status)
            return self._write(conn, run_id, clean, clean_tag_values, series)

    def end_run(
        self,
        run_id: str,
        *,
        actor: Actor,
        status: RunStatus = RunStatus.FINISHED,
        error: str | None = None,
        params: Mapping[str, Any] | None = None,
        tags: Mapping[str, Any] | None = None,
        metrics: Mapping[str, MetricSeries] | None = None,
    ) -> Run:
        """Write the last batch and close the run, in one transaction."""
        if status == RunStatus.RUNNING:
            raise InvalidInput("a run ends FINISHED, FAILED or KILLED", field="status")
        clean, clean_tag_values, series = (
            clean_params(params),
            clean_tags(tags),
            check_metrics(metrics),
        )
        with self.db.begin() as conn:
            run_id, current, project = runs.state_of(conn, run_id, for_update=True)
            _check_running(run_id, current)
            self._write(conn, run_id, clean, clean_tag_values, series)
            self._finish(conn, run_id, project, status, error, actor)
            return runs.get(conn, run_id)

    @staticmethod
    def _finish(
        conn: Any, run_id: str, project: str, status: RunStatus, error: str | None, actor: Actor
    ) -> None:
        error = clip_error(error)
        ended = now()
        runs.finish(conn, run_id, status, ended, error)
        events.append(
            conn,
            kind=f"run.{status.value.lower()}",
            subject=f"run:{run_id}",
            project=project,
            actor=actor.name,
            actor_kind=actor.kind,
            time=ended,
            data={"status": status.value},
        )

    @staticmethod
    def _write(
        conn: Any,
        run_id: str,
        params: dict[str, str],
        tags: dict[str, str],
        series: dict[str, MetricSeries],
    ) -> int:
        stored = runs.params_of(conn, run_id, list(params))
        refuse_changed_params(run_id, stored, params)
        fresh = {key: value for key, value in params.items() if key not in stored}
        runs.insert_values(conn, run_id, fresh, {})
        runs.write_tags(conn, run_id, tags)
        return runs.write_metrics(conn, run_id, series)[0]

    def get_run(self, run_id: str) -> Run:
        with self.db.read() as conn:
            return runs.get(conn, runs.resolve_id(conn, run_id))

    def metric_history(self, run_id: str, key: str) -> MetricSeries:
        with self.db.read() as conn:
            return run_reads.metric_history(conn, runs.resolve_id(conn, run_id), key)

    def search_runs(
        self,
        project: str,
        *,
        experiment: str | None = None,
        filter: str | None = None,
        order_by: str | None = None,
        limit: int = 100,
        offset: int = 0,
    ) -> tuple[list[Run], int]:
        return self._search(project, experiment, filter, parse_order(order_by), limit, offset)

    def browse_runs(
        self,
        project: str,
        *,
        experiment: str | None = None,
        filter: str | None = None,
        order_by: str | None = None,
        limit: int = 50,
        offset: int = 0,
    ) -> tuple[list[Run], int]:
        """``search_runs`` for the web UI's table, whose order may also name ``duration``."""
        order = parse_order(order_by, TABLE_ORDER)
        return self._search(project, experiment, filter, order, limit, offset)

    def _search(
        self,
        project: str,
        experiment: str | None,
        filter: str | None,
        order: list[Order],
        limit: int,
        offset: int,
    ) -> tuple[list[Run], int]:
        if not 1 <= limit <= MAX_SEARCH_PAGE:
            raise InvalidInput(f"limit must be between 1 and {MAX_SEARCH_PAGE}", field="limit")
        if offset < 0:
            raise InvalidInput("offset must be >= 0", field="offset")
        clauses = parse_filter(filter)
        with self.db.read() as conn:
            project_id, experiment_id = _scope(conn, project, experiment)
            return runs.search(
                conn,
                project_id=project_id,
                experiment_id=experiment_id,
                clauses=clauses,
                order=order,
                limit=limit,
                offset=offset,
            )

    def common_keys(
        self, project: str, *, experiment: str | None = None, sample: int = 500
    ) -> tuple[list[str], list[str]]:
        """(metric keys, param keys) of the project's newest ``sample`` runs, most used first."""
        with self.db.read() as conn:
            project_id, experiment_id = _scope(conn, project, experiment)
            return run_reads.common_keys(
                conn, project_id=project_id, experiment_id=experiment_id, sample=sample
            )

    def get_runs(self, run_ids: list[str]) -> list[Run]:
        """Runs by id or unique prefix, whole, in the order given; NotFound names the first
        unknown one."""
        with self.db.read() as conn:
            return runs.get_many(conn, run_ids)

    def metric_histories(
        self, run_ids: list[str], keys: list[str] | None = None
    ) -> dict[str, dict[str, MetricSeries]]:
        """run id -> key -> history, for full run ids, in one query (only ``keys`` if given)."""
        with self.db.read() as conn:
            return run_reads.metric_histories(conn, run_ids, keys)

    def registered_from(self, run_id: str) -> list[str]:
        """The refs (``project/model@version``) of the model versions made from a run."""
        with self.db.read() as conn:
            found = run_reads.registered_from(conn, runs.resolve_id(conn, run_id))
        return [f"{project}/{model}@{version}" for project, model, version in found]

    def log_artifact(self, run_id: str, path: str, sha256: str) -> Run:
        """Attach an uploaded blob to a run under a relative path."""
        check_sha256(sha256)
        if not path or path.startswith("/") or ".." in path.split("/") or "\\" in path:
            raise InvalidInput(
                f"artifact path {path!r} must be relative, without '..'", field="path"
            )
        size = self.artifacts.size(sha256)
        with self.db.begin() as conn:
            run_id, status, _project = runs.state_of(conn, run_id, for_update=True)
            _check_running(run_id, status)
            runs.add_artifact(conn, run_id, path, sha256, size)
        return self.get_run(run_id)

    def use_dataset(self, run_id: str, project: str, dataset: str, version: int | None) -> Run:
        with self.db.begin() as conn:
            run_id, status, _project = runs.state_of(conn, run_id, for_update=True)
            _check_running(run_id, status)
            runs.add_input(conn, run_id, datasets.version_id(conn, project, dataset, version))
        return self.get_run(run_id)


def _scope(conn: Any, project: str, experiment: str | None) -> tuple[int, int | None]:
    """The ids of a project and (when named) one of its experiments; NotFound otherwise."""
    project_id = projects.get_id(conn, check_name(project, "project"))
    if experiment is None:
        return project_id, None
    experiment_id = projects.find_experiment_id(conn, project_id, experiment)
    if experiment_id is None:
        raise NotFound(f"experiment {project}/{experiment} not found", field="experiment")
    return project_id, experiment_id
