"""Pipeline runs: started by hand, by a trigger or by an alert; executed step by step.

A run is a row from the moment it is queued. While a process executes it, that process holds
a lease on it (the ``leases`` table), renewed by a heartbeat; a run whose lease has lapsed was
left by a process that died, and is marked failed when a platform next opens the store.
"""

from __future__ import annotations

import builtins
import logging
import threading
import uuid
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from sqlalchemy import Connection

from opsloop.domain.entities import Actor, ActorKind
from opsloop.domain.errors import InvalidInput
from opsloop.domain.names import check_name
from opsloop.domain.pipelines import (
    PipelineInfo,
    PipelineRun,
    PipelineStatus,
    TriggerType,
    check_params,
    last_line,
)
from opsloop.domain.settings import Settings
from opsloop.services.pipelines._leases import RunLeases
from opsloop.services.pipelines.context import Scope, pipeline_actor, scoped, subject_of
from opsloop.services.pipelines.definitions import REGISTRY, Pipeline, PipelineRegistry
from opsloop.services.pipelines.executors import (
    Executor,
    make_executor,
    stop_workers,
    user_traceback,
)
from opsloop.services.pipelines.loading import load_pipelines
from opsloop.services.pipelines.runner import StepFailed, StepRunner
from opsloop.store.artifacts import ArtifactStore
from opsloop.store.database import Database
from opsloop.store.repos import events, leases
from opsloop.store.repos import pipelines as repo
from opsloop.store.repos._time import at
from opsloop.store.repos._time import now as current_time

if TYPE_CHECKING:
    from opsloop.services.platform import Platform

log = logging.getLogger(__name__)

MAX_LIST = 1_000
MAX_ERROR_EVENT = 500
SCHEDULER = Actor(name="scheduler", kind=ActorKind.SYSTEM)


@dataclass(frozen=True)
class RunCount:
    """How many runs of ``pipeline`` (in ``project``) have ``status``."""

    pipeline: str
    project: str | None
    status: str
    runs: int

    def matches(self, pipeline: str | None, project: str | None, status: str | None) -> bool:
        return (
            pipeline in (None, self.pipeline)
            and project in (None, self.project)
            and status in (None, self.status)
        )


@dataclass(frozen=True)
class RunPage:
    runs: builtins.list[PipelineRun]
    total: int  # runs that match the filters, on every page
    counts: builtins.list[RunCount]  # every run stored, whatever the filters


class PipelineService:
    def __init__(
        self,
        db: Database,
        artifacts: ArtifactStore,
        settings: Settings,
        registry: PipelineRegistry = REGISTRY,
    ) -> None:
        self.db = db
        self.artifacts = artifacts
        self.settings = settings
        self.registry = registry
        self.leases = RunLeases(db)
        self._platform: Platform | None = None
        self._threads: dict[str, threading.Thread] = {}
        self._threads_lock = threading.Lock()

    def attach(self, platform: Platform) -> None:
        """The platform this service is part of: step code run in this process reaches the
        store through it (the SDK talks to it in process) instead of opening it again."""
        self._platform = platform

    # -- pipelines -------------------------------------------------------------------------

    def load(self) -> builtins.list[str]:
        """Import the modules the ``pipelines`` setting names (once per process)."""
        return load_pipelines(self.settings.pipelines)

    def pipeline(self, name: str) -> Pipeline:
        self.load()
        return self.registry.get(check_name(name, "pipeline"))

    def pipelines(self) -> builtins.list[PipelineInfo]:
        self.load()
        return [found.info() for found in self.registry.all()]

    # -- runs ------------------------------------------------------------------------------

    def start(
        self,
        name: str,
        *,
        trigger: str = TriggerType.MANUAL.value,
        detail: dict[str, Any] | None = None,
        params: dict[str, Any] | None = None,
        actor: Actor,
        executor: str | None = None,
        unless_active: bool = False,
    ) -> PipelineRun:
        """Queue a run and execute it on a background thread; returns the queued run.
        ``unless_active``: if a run of ``name`` with the same params (defaults filled in) is
        queued or running, that run instead (an alert that fires again must not start a
        second retrain of the same endpoint while the first is still at work)."""
        pipeline, queued, chosen, new = self._queued(
            name, trigger, detail, params, actor, executor, unless_active=unless_active
        )
        if new:
            self.launch(pipeline, queued, chosen, actor)
        return queued

    def run(
        self,
        name: str,
        *,
        trigger: str = TriggerType.MANUAL.value,
        detail: dict[str, Any] | None = None,
        params: dict[str, Any] | None = None,
        actor: Actor,
        executor: str | None = None,
    ) -> PipelineRun:
        """Queue a run and execute it in this thread; returns the finished run."""
        pipeline, queued, chosen, _ = self._queued(name, trigger, detail, params, actor, executor)
        self.leases.track(queued.id)
        self._execute(pipeline, queued, chosen, actor)
        return self.get(queued.id)

    def get(self, run_id: str) -> PipelineRun:
        with self.db.read() as conn:
            return repo.get_run(conn, repo.resolve_run_id(conn, run_id))

    def _queued(
        self,
        name: str,
        trigger: str,
        detail: dict[str, Any] | None,
        params: dict[str, Any] | None,
        actor: Actor,
        executor: str | None,
        *,
        unless_active: bool = False,
    ) -> tuple[Pipeline, PipelineRun, Executor, bool]:
        """The pipeline, its run as queued (row, lease, event), the executor chosen, and
        whether the run is new: with ``unless_active``, an active run with the same params,
        looked up in the transaction that would queue the new one, stands instead. (On
        SQLite the transaction's write lock makes that exact; on PostgreSQL two starts at
        the same moment could both queue: the alerts that ask for it take turns.)"""
        pipeline, chosen = self.pipeline(name), self.executor(executor)
        with self.db.begin() as conn:
            if unless_active:
                active = self._active_run(conn, pipeline, params)
                if active is not None:
                    return pipeline, active, chosen, False
            queued = self.queue(conn, pipeline, trigger, detail, params, actor, chosen)
        return pipeline, queued, chosen, True

    def _active_run(
        self, conn: Connection, pipeline: Pipeline, params: dict[str, Any] | None
    ) -> PipelineRun | None:
        """The oldest queued or running run of ``pipeline`` with ``params`` as a run would
        store them (defaults filled in)."""
        bound = pipeline.bind(check_params(params))
        for row in repo.active_runs(conn, pipeline.name):
            if row["params"] == bound:
                return repo.get_run(conn, row["id"], with_logs=False)
        return None

    def list(
        self, pipeline: str | None = None, limit: int = 100, status: str | None = None
    ) -> builtins.list[PipelineRun]:
        """Runs newest first, with their steps (without logs)."""
        if not isinstance(limit, int) or not 1 <= limit <= MAX_LIST:
            raise InvalidInput(f"limit must be between 1 and {MAX_LIST}", field="limit")
        if pipeline is not None:
            check_name(pipeline, "pipeline")
        if status is not None and status not in PipelineStatus.__members__.values():
            statuses = ", ".join(s.value for s in PipelineStatus)
            raise InvalidInput(f"status must be one of {statuses}", field="status")
        with self.db.read() as conn:
            return repo.list_runs(conn, pipeline, limit, status)

    def page(
        self,
        *,
        pipeline: str | None = None,
        project: str | None = None,
        status: str | None = None,
        limit: int = 50,
        offset: int = 0,
    ) -> RunPage:
        """One page of runs (newest first; steps with their statuses and times only), how many
        match the filters, and the runs stored per pipeline, project and status; read in one
        transaction."""
        if not isinstance(limit, int) or not 1 <= limit <= MAX_LIST:
            raise InvalidInput(f"limit must be between 1 and {MAX_LIST}", field="limit")
        if not isinstance(offset, int) or offset < 0:
            raise InvalidInput("offset must be a whole number, 0 or more", field="offset")
        if pipeline is not None:
            check_name(pipeline, "pipeline")
        if project is not None:
            check_name(project, "project")
        if status is not None and status not in PipelineStatus.__members__.values():
            statuses = ", ".join(s.value for s in PipelineStatus)
            raise InvalidInput(f"status {status!r} must be one of {statuses}", field="status")
        with self.db.read() as conn:
            counts = [RunCount(*row) for row in repo.run_counts(conn)]
            total = sum(c.runs for c in counts if c.matches(pipeline, project, status))
            runs = (
                repo.page_runs(
                    conn,
                    pipeline=pipeline,
                    project=project,
                    status=status,
                    limit=limit,
                    offset=offset,
                )
                if offset < total
                else []
            )
        return RunPage(runs, total, counts)

    def executor(self, executor: str | None) -> Executor:
        if executor is not None and not isinstance(executor, str):
            raise InvalidInput("executor must be a name", field="executor")
        return make_executor(executor or self.settings.executor)

    def queue(
        self,
        conn: Connection,
        pipeline: Pipeline,
        trigger: str,
        detail: dict[str, Any] | None,
        params: dict[str, Any] | None,
        actor: Actor,
        executor: Executor,
    ) -> PipelineRun:
        try:
            trigger_type = TriggerType(trigger)
        except ValueError:
            kinds = ", ".join(t.value for t in TriggerType)
            raise InvalidInput(f"trigger must be one of {kinds}", field="trigger") from None
        values: dict[str, Any] = {
            "id": uuid.uuid4().hex,
            "pipeline": pipeline.name,
            "project": pipeline.project,
            "status": PipelineStatus.QUEUED.value,
            "trigger": trigger_type.value,
            "trigger_detail": check_params(detail, "detail"),
            "params": pipeline.bind(check_params(params)),
            "executor": executor.name,
            "actor": actor.name,
            "created_at": current_time(),
        }
        repo.insert_run(conn, **values)
        self.leases.take(conn, values["id"])
        return PipelineRun.model_validate({**values, "created_at": at(values["created_at"])})

    def launch(
        self, pipeline: Pipeline, run: PipelineRun, executor: Executor, actor: Actor
    ) -> None:
        self.leases.track(run.id)
        thread = threading.Thread(
            target=self._execute,
            args=(pipeline, run, executor, actor),
            name=f"opsloop-pipeline-{run.id[:8]}",
            daemon=True,
        )
        with self._threads_lock:
            self._threads[run.id] = thread
        thread.start()

    def running_here(self) -> builtins.list[str]:
        """Ids of the runs this process is executing on threads of its own."""
        with self._threads_lock:
            return builtins.list(self._threads)

    def wait(self) -> None:
        """Block until the runs this process executes on its threads have ended.

        A process that lives for one command (``opsloop monitor run`` from cron, a script)
        calls this before it lets go of the store, so a run its alerts started ends as it
        would in a server instead of being cut off.
        """
        while True:
            with self._threads_lock:
                threads = builtins.list(self._threads.values())
            if not threads:
                return
            for thread in threads:
                thread.join()

    def _execute(
        self, pipeline: Pipeline, run: PipelineRun, executor: Executor, actor: Actor
    ) -> None:
        scope = Scope(
            run.id, pipeline.name, pipeline_actor(pipeline.name), self._platform, self.settings
        )
        status, failed_step = PipelineStatus.FAILED, None
        error: str | None = "interrupted"
        try:
            with self.db.begin() as conn:
                if not repo.mark_running(conn, run.id, current_time()):
                    return  # marked failed before it could start
                events.append(
                    conn,
                    kind="pipeline_run.started",
                    subject=subject_of(pipeline.name),
                    project=pipeline.project,
                    actor=actor.name,
                    actor_kind=actor.kind,
                    data={
                        "run_id": run.id,
                        "trigger": run.trigger.value,
                        "detail": run.trigger_detail,
                        "params": run.params,
                        "executor": run.executor,
                    },
                )
            runner = StepRunner(self.db, self.artifacts, executor, scope)
            try:
                with scoped(scope, runner):
                    pipeline.fn(**run.params)
            except StepFailed as exc:
                error, failed_step = str(exc), exc.step
            except Exception as exc:
                error = user_traceback(exc)
            else:
                status, error = PipelineStatus.SUCCEEDED, None
        except Exception as exc:  # the store itself failed: say so on the run if we can
            log.exception("pipeline run %s could not be recorded", run.id)
            error = f"opsloop could not record the run: {type(exc).__name__}: {exc}"
        finally:
            self._finish(pipeline, run.id, scope.actor, status, error, failed_step)

    def _finish(
        self,
        pipeline: Pipeline,
        run_id: str,
        actor: Actor,
        status: PipelineStatus,
        error: str | None,
        failed_step: str | None = None,
    ) -> None:
        try:
            with self.db.begin() as conn:
                self._end(
                    conn, run_id, pipeline.name, pipeline.project, actor, status, error, failed_step
                )
        finally:
            self.leases.untrack(run_id)
            with self._threads_lock:  # a run on a thread of its own: that thread ends now
                self._threads.pop(run_id, None)

    def _end(
        self,
        conn: Connection,
        run_id: str,
        pipeline: str,
        project: str | None,
        actor: Actor,
        status: PipelineStatus,
        error: str | None,
        failed_step: str | None = None,
    ) -> bool:
        """End an active run (once): status, its running steps, its lease, its event."""
        moment = current_time()
        if not repo.finish_run(conn, run_id, status, moment, error):
            return False
        if error is not None:
            repo.fail_running_steps(conn, run_id, moment, error)
        leases.release(conn, repo.lease_name(run_id))
        data: dict[str, Any] = {"run_id": run_id}
        if error is not None:
            data["error"] = last_line(error)[:MAX_ERROR_EVENT]
        if failed_step is not None:
            data["step"] = failed_step
        events.append(
            conn,
            kind=f"pipeline_run.{status.value}",
            subject=subject_of(pipeline),
            project=project,
            actor=actor.name,
            actor_kind=actor.kind,
            data=data,
            time=moment,
        )
        return True

    # -- liveness --------------------------------------------------------------------------

    def recover(self) -> builtins.list[str]:
        """Mark failed the runs left queued or running by a process that is gone (its lease
        lapsed); return their ids."""
        with self.db.read() as conn:
            active = repo.active_runs(conn)
            held = leases.held(conn, (repo.lease_name(row["id"]) for row in active))
        moment = current_time()
        recovered = []
        for row in active:
            if row["id"] in self.leases.active():
                continue
            lease = held.get(repo.lease_name(row["id"]))
            if lease is not None and lease[1] >= moment:
                continue
            error = (
                "the run was abandoned: no process holds it (the one that started it is gone)"
                if lease is None
                else f"the run was abandoned: process {lease[0]}, which was running it, "
                "stopped before it ended (its lease lapsed)"
            )
            with self.db.begin() as conn:
                ended = self._end(
                    conn,
                    row["id"],
                    row["pipeline"],
                    row["project"],
                    pipeline_actor(row["pipeline"]),
                    PipelineStatus.FAILED,
                    error,
                )
            if ended:
                recovered.append(row["id"])
        return recovered

    def close(self) -> None:
        """Stop the heartbeat. Runs still going in this process end with it: marked failed
        first, then their worker processes stopped (a step in one must not outlive its run),
        so the run's own thread, seeing its step killed, finds it ended already."""
        self.leases.stop()
        running = sorted(self.leases.active())
        for run_id in running:
            try:
                with self.db.begin() as conn:
                    found = repo.get_run(conn, run_id, with_logs=False)
                    self._end(
                        conn,
                        run_id,
                        found.pipeline,
                        found.project,
                        pipeline_actor(found.pipeline),
                        PipelineStatus.FAILED,
                        "the process running it shut down before the run ended",
                    )
            except Exception:
                log.exception("pipeline run %s could not be marked failed", run_id)
        stop_workers(running)
