"""The maturity map and each stage's hours per month, from a period's history.

A stage's level comes from who performed its occurrences: people (actor kind ``user``) or
machines (``pipeline``, ``monitor``, ``system``). Its hours per month are its occurrences per
30 days times the mean of their measured durations, people's and machines' apart. Where a
stage's durations are not recorded, its hours are None — "not measured", never a guess.
"""

from __future__ import annotations

import math
import re
from dataclasses import dataclass, field

from opsloop.domain.report import (
    SideHours,
    Stage,
    StageHours,
    StageReport,
    StageScope,
    level_of,
)
from opsloop.services.report.history import (
    DEPLOY_KINDS,
    PIPELINE_KINDS,
    ROLLBACK_KIND,
    RUN_END_KINDS,
    History,
)
from opsloop.store.repos.event_reads import Happened

MONTH_DAYS = 30.0
# The reason DeploymentService gives the champion move each change of primary makes
# (services/deployments.py): part of that deployment, not a registry step of its own.
DEPLOYMENT_MOVE = re.compile(
    r"(deploy|canary|shadow|promote|rollback) on endpoint \S+ \(deployment \d+\)"
)


def plural(number: int, thing: str) -> str:
    """``1 version``, ``2 versions``, ``3 feedback batches``."""
    if number == 1:
        return f"1 {thing}"
    return f"{number:,} {thing}{'es' if thing.endswith(('s', 'ch')) else 's'}"


def by_machine(event: Happened) -> bool:
    return event.actor_kind != "user"


@dataclass
class Tally:
    """A stage's occurrences by side, and the durations measured for them."""

    people: int = 0
    machines: int = 0
    people_s: list[float] = field(default_factory=list)
    machines_s: list[float] = field(default_factory=list)

    def add(self, machine: bool, duration: float | None = None) -> None:
        if machine:
            self.machines += 1
        else:
            self.people += 1
        if duration is not None and math.isfinite(duration):
            (self.machines_s if machine else self.people_s).append(max(0.0, duration))

    def hours(self, measures: str | None, days: float) -> StageHours:
        return StageHours(
            measures=measures,
            people=_side(self.people, self.people_s, days),
            machines=_side(self.machines, self.machines_s, days),
        )


def _side(occurrences: int, durations: list[float], days: float) -> SideHours:
    mean = sum(durations) / len(durations) if durations else None
    if occurrences == 0:
        hours: float | None = 0.0
    elif mean is None:
        hours = None
    else:
        hours = occurrences * (MONTH_DAYS / days) * mean / 3600
    return SideHours(
        occurrences=occurrences, measured=len(durations), mean_s=mean, hours_per_month=hours
    )


def _row(
    stage: Stage,
    tally: Tally,
    history: History,
    *,
    counted: str,
    measures: str | None,
    scope: StageScope,
    note: str = "",
    hours: Tally | None = None,
) -> StageReport:
    return StageReport(
        stage=stage,
        label=stage.label,
        level=level_of(tally.people, tally.machines),
        by_people=tally.people,
        by_machines=tally.machines,
        counted=counted,
        note=note,
        scope=scope,
        hours=(hours or tally).hours(measures, history.days),
    )


def _number(value: object) -> float | None:
    return float(value) if isinstance(value, int | float) and not isinstance(value, bool) else None


def _timed(history: History, kind: str, key: str) -> Tally:
    """The events of ``kind``, each timed by the number its data holds under ``key``."""
    tally = Tally()
    for event in history.of(kind):
        tally.add(by_machine(event), _number(event.data.get(key)))
    return tally


def maturity(history: History) -> list[StageReport]:
    """One row per stage, in the loop's order."""
    return [
        data_collection(history),
        validation(history),
        training(history),
        evaluation(history),
        registry(history),
        deployment(history),
        monitoring(history),
        retraining(history),
        rollback(history),
        review(history),
    ]


def data_collection(history: History) -> StageReport:
    tally = Tally()
    made = history.of("dataset_version.created")
    feedback = history.of("feedback.received")
    for event in made:
        tally.add(by_machine(event))
    for event in feedback:  # labels a system posts with a token still say so in their source
        tally.add(by_machine(event) or event.data.get("source") == "system")
    return _row(
        Stage.DATA_COLLECTION,
        tally,
        history,
        counted="dataset versions made, feedback batches received",
        measures=None,
        scope="mixed",
        note=f"{plural(len(made), 'dataset version')}, {plural(len(feedback), 'feedback batch')}"
        if made or feedback
        else "",
    )


def validation(history: History) -> StageReport:
    kind = "dataset_version.validated"
    failed = sum(event.data.get("verdict") == "fail" for event in history.of(kind))
    return _row(
        Stage.VALIDATION,
        _timed(history, kind, "duration_s"),
        history,
        counted="dataset versions validated",
        measures="the validation call (schema and drift)",
        scope="project",
        note=f"{failed} failed" if failed else "",
    )


def training(history: History) -> StageReport:
    tally = Tally()
    nested = 0
    for event in history.of(*RUN_END_KINDS):
        span = history.runs.get(event.subject.removeprefix("run:"))
        if span is not None and span.parent_id is not None:
            nested += 1  # a tuning trial: its time is part of its parent run's
            continue
        tally.add(by_machine(event), None if span is None else span.end - span.start)
    return _row(
        Stage.TRAINING,
        tally,
        history,
        counted="tracked runs that ended (runs inside another run are part of it)",
        measures="a run, from its start to its end",
        scope="project",
        note=f"{plural(nested, 'run')} inside other runs not counted apart" if nested else "",
    )


def evaluation(history: History) -> StageReport:
    return _row(
        Stage.EVALUATION,
        _timed(history, "model_version.evaluated", "duration_s"),
        history,
        counted="model versions evaluated",
        measures="the evaluation call (recorded as duration_s on the event)",
        scope="endpoint",
    )


def registry(history: History) -> StageReport:
    tally = Tally()
    moves = 0
    for event in history.of("model_version.created", "alias.moved"):
        if event.kind == "alias.moved":
            if DEPLOYMENT_MOVE.fullmatch(str(event.data.get("reason", ""))):
                continue
            moves += 1
        tally.add(by_machine(event))
    return _row(
        Stage.REGISTRY,
        tally,
        history,
        counted="model versions registered, aliases moved (not by a deployment)",
        measures=None,
        scope="project",
        note=f"{plural(tally.people + tally.machines - moves, 'version')}, "
        f"{plural(moves, 'alias move')}"
        if tally.people or tally.machines
        else "",
    )


def deployment(history: History) -> StageReport:
    tally = Tally()
    for event in history.of(*DEPLOY_KINDS):
        endpoint = event.subject.removeprefix("endpoint:")
        duration = None
        if event.kind == "endpoint.promoted":
            started = _canary_start(history, endpoint, event.data)
            duration = None if started is None else event.time - started
        else:
            evaluation = event.data.get("evaluation_id")
            verdict = (
                history.evaluation_times.get(evaluation) if isinstance(evaluation, int) else None
            )
            duration = None if verdict is None else event.time - verdict
        tally.add(by_machine(event), duration)
    return _row(
        Stage.DEPLOYMENT,
        tally,
        history,
        counted="deploys, canaries, shadows and promotions",
        measures="the wait from the gate's verdict to the deploy; for a promotion, the canary's "
        "time before it",
        scope="endpoint",
    )


def _canary_start(history: History, endpoint: str, data: dict[str, object]) -> float | None:
    """When the version a promotion made primary started as this endpoint's canary."""
    number = data.get("number")
    if not isinstance(number, int):
        return None
    for row in reversed(history.deployments.get(endpoint, [])):
        if (
            row.number < number
            and row.action == "canary"
            and (row.model, row.version) == (data.get("model"), data.get("version"))
        ):
            return row.time
    return None


def monitoring(history: History) -> StageReport:
    return _row(
        Stage.MONITORING,
        _timed(history, "monitor.ran", "seconds"),
        history,
        counted="monitor runs",
        measures="a monitor run's computation",
        scope="endpoint",
    )


def retraining(history: History) -> StageReport:
    """Runs of the pipelines that registered a model version in the period; automated
    when their trigger was a schedule, an alert, new data or new labels."""
    ends = {event.data.get("run_id"): event for event in history.of(*PIPELINE_KINDS[1:])}
    tally = Tally()
    triggers: dict[str, int] = {}
    for started in history.of("pipeline_run.started"):
        if started.subject not in history.makers:  # pipeline:NAME is also the actor of its steps
            continue
        trigger = str(started.data.get("trigger", "manual"))
        triggers[trigger] = triggers.get(trigger, 0) + 1
        end = ends.get(started.data.get("run_id"))
        tally.add(trigger != "manual", None if end is None else end.time - started.time)
    return _row(
        Stage.RETRAINING,
        tally,
        history,
        counted="runs of pipelines that registered a model version, by trigger",
        measures="a pipeline run, from its start to its end",
        scope="endpoint",
        note="by trigger: " + ", ".join(f"{n} {name}" for name, n in sorted(triggers.items()))
        if triggers
        else "",
    )


def rollback(history: History) -> StageReport:
    tally = Tally()
    by_alerts = 0
    for event in history.of(ROLLBACK_KIND):
        by_alerts += event.actor_kind == "monitor"
        tally.add(by_machine(event), history.served_before(event))
    return _row(
        Stage.ROLLBACK,
        tally,
        history,
        counted="rollbacks",
        measures="how long the deployment rolled back served",
        scope="endpoint",
        note=f"{by_alerts} by alert actions" if by_alerts else "",
    )


def review(history: History) -> StageReport:
    """The level is the routing's: deciding is people's work by nature, so what a team can
    automate is filling the queue. Without routing in the period, the decisions decide."""
    routing = history.of("review.routed")
    decided = history.of("review_item.decided")
    kinds = {event.actor: by_machine(event) for event in decided}
    level = Tally()
    for event in routing or decided:
        level.add(by_machine(event))
    hours = Tally()
    for reviewer, claimed, decided_at in history.review_decisions:
        hours.add(kinds.get(reviewer, False), None if claimed is None else decided_at - claimed)
    decisions = (
        f"{plural(hours.people, 'decision')} by people, {hours.machines:,} by machines"
        if hours.people or hours.machines
        else ""
    )
    counted = "routing passes" if routing else "decisions (no routing pass in the period)"
    return _row(
        Stage.REVIEW,
        level,
        history,
        counted=counted,
        measures="a decision's handling, from claiming the item to deciding it",
        scope="endpoint",
        note=decisions,
        hours=hours,
    )
