"""Stored pipeline triggers: on a schedule, after N new labels, on each new version of a
dataset. Created, listed and deleted here; ``run_due`` (the server's scheduler calls it every
tick) starts a run of each one that is due, through the pipeline service. When a trigger is
due, and what it remembers between checks, is ``triggers.TriggerWatch``'s to say."""

from __future__ import annotations

import builtins
import logging
from typing import Any

from opsloop.domain.entities import Actor
from opsloop.domain.errors import NotFound, OpsloopError
from opsloop.domain.names import check_name
from opsloop.domain.pipelines import (
    PipelineRun,
    PipelineTrigger,
    check_params,
    check_trigger,
)
from opsloop.services.pipelines.service import SCHEDULER, PipelineService, subject_of
from opsloop.services.pipelines.triggers import TriggerWatch
from opsloop.store.prediction_log import PredictionLog
from opsloop.store.repos import events
from opsloop.store.repos import pipelines as repo
from opsloop.store.repos._time import now as current_time

log = logging.getLogger(__name__)


class TriggerService:
    def __init__(self, runs: PipelineService, predictions: PredictionLog) -> None:
        self.runs = runs
        self.db = runs.db
        self.watch = TriggerWatch(runs.db, predictions)

    def create(
        self,
        pipeline: str,
        kind: str,
        spec: dict[str, Any],
        params: dict[str, Any] | None,
        actor: Actor,
    ) -> PipelineTrigger:
        """Start a run of ``pipeline`` on a schedule, after N new labels, or on each new
        version of a dataset. It fires on what comes after it is created."""
        trigger_kind, checked = check_trigger(kind, spec)
        found = self.runs.pipeline(pipeline)
        given = check_params(params)
        found.bind(given)  # checked now; defaults are applied when each run starts
        moment = current_time()
        state = self.watch.initial_state(trigger_kind, checked, moment)
        with self.db.begin() as conn:
            trigger_id = repo.insert_trigger(
                conn,
                pipeline=found.name,
                kind=trigger_kind.value,
                spec=checked,
                params=given,
                state=state,
                enabled=True,
                created_at=moment,
                created_by=actor.name,
            )
            events.append(
                conn,
                kind="pipeline_trigger.created",
                subject=subject_of(found.name),
                project=found.project,
                actor=actor.name,
                actor_kind=actor.kind,
                data={"trigger_id": trigger_id, "kind": trigger_kind.value, "spec": checked},
                time=moment,
            )
            return repo.get_trigger(conn, trigger_id)

    def list(self, pipeline: str | None = None) -> builtins.list[PipelineTrigger]:
        if pipeline is not None:
            check_name(pipeline, "pipeline")
        with self.db.read() as conn:
            return repo.list_triggers(conn, pipeline)

    def delete(self, pipeline: str, trigger_id: int, actor: Actor) -> PipelineTrigger:
        check_name(pipeline, "pipeline")
        with self.db.begin() as conn:
            found = repo.get_trigger(conn, trigger_id, for_update=True)
            if found.pipeline != pipeline:
                raise NotFound(
                    f"pipeline {pipeline!r} has no trigger {trigger_id}", field="trigger_id"
                )
            repo.delete_trigger(conn, trigger_id)
            events.append(
                conn,
                kind="pipeline_trigger.deleted",
                subject=subject_of(pipeline),
                project=self._project_of(pipeline),
                actor=actor.name,
                actor_kind=actor.kind,
                data={"trigger_id": trigger_id, "kind": found.kind.value, "spec": found.spec},
            )
        return found

    def _project_of(self, pipeline: str) -> str | None:
        """The pipeline's project, if this process knows the pipeline (for its Events)."""
        try:
            return self.runs.pipeline(pipeline).project
        except NotFound:
            return None

    def run_due(self, now: float | None = None) -> builtins.list[PipelineRun]:
        """Start a run for every trigger that is due at ``now`` (epoch seconds; default: the
        current time).

        Safe to call from several processes at once: a trigger's new state and the run it
        starts are written together, only if the state is still the one the decision was made
        from, so each due time or batch of labels starts one run. Triggers of pipelines this
        process does not know are left to one that does.
        """
        moment = current_time() if now is None else now
        started: builtins.list[PipelineRun] = []
        for trigger in self.list():
            if not trigger.enabled:
                continue
            try:
                fired = self._check(trigger, moment)
            except OpsloopError as exc:
                log.warning("pipeline trigger %s: %s", trigger.id, exc.headline)
                continue
            except Exception:
                log.exception("pipeline trigger %s could not be checked", trigger.id)
                continue
            if fired is not None:
                started.append(fired)
        return started

    def _check(self, trigger: PipelineTrigger, moment: float) -> PipelineRun | None:
        try:
            pipeline = self.runs.pipeline(trigger.pipeline)
        except NotFound:
            return None
        decision = self.watch.decide(trigger, moment)
        if decision is None:
            return None
        executor = self.runs.executor(None)
        with self.db.begin() as conn:
            try:
                current = repo.get_trigger(conn, trigger.id, for_update=True)
            except NotFound:
                return None  # deleted meanwhile
            if current.state != trigger.state or not current.enabled:
                return None  # another scheduler acted on it first
            repo.set_trigger_state(conn, trigger.id, decision.state)
            if not decision.fire:
                return None
            queued = self.runs.queue(
                conn,
                pipeline,
                trigger.kind.trigger_type.value,
                decision.detail,
                trigger.params,
                SCHEDULER,
                executor,
            )
        self.runs.launch(pipeline, queued, executor, SCHEDULER)
        return queued
