"""The delivery figures of a period: lead time per shipped version, deploy frequency, change
failure rate, time to roll back, alert to recovery, and the review queues' figures."""

from __future__ import annotations

from collections.abc import Iterable

from opsloop.domain.report import (
    LEAD_STEPS,
    Delivery,
    LeadTime,
    LeadTimeSummary,
    Recovery,
    ReviewFigures,
)
from opsloop.services.report.history import DEPLOY_KINDS, ROLLBACK_KIND, History
from opsloop.services.review.figures import spread
from opsloop.store.repos._time import at, at_or_none
from opsloop.store.repos.report_reads import DeploymentRow

WEEK_DAYS = 7.0


def lead_times(history: History) -> list[LeadTime]:
    """One row per version first deployed on an endpoint in the period, oldest first."""
    rows = []
    for key, (endpoint, shipped) in history.shipped:
        origin = history.origins.get(key)
        evaluated = (
            None
            if shipped.evaluation_id is None
            else history.evaluation_times.get(shipped.evaluation_id)
        )
        promoted = _primary_from(history, endpoint, shipped)
        data_at = None if origin is None else origin.data_at
        run_at = None if origin is None else origin.run_started_at
        registered = None if origin is None else origin.registered_at
        rows.append(
            LeadTime(
                endpoint=endpoint,
                model=key[1],
                version=key[2],
                deployed_as=shipped.action,
                data=None if origin is None else origin.data,
                data_at=at_or_none(data_at),
                run_started_at=at_or_none(run_at),
                registered_at=at_or_none(registered),
                evaluated_at=at_or_none(evaluated),
                deployed_at=at(shipped.time),
                promoted_at=at_or_none(promoted),
                data_to_run_s=_between(data_at, run_at),
                run_to_registered_s=_between(run_at, registered),
                registered_to_evaluated_s=_between(registered, evaluated),
                evaluated_to_deployed_s=_between(evaluated, shipped.time),
                deployed_to_promoted_s=_between(shipped.time, promoted),
                total_s=_between(data_at, promoted),
            )
        )
    return sorted(rows, key=lambda row: (row.deployed_at, row.endpoint))


def _primary_from(history: History, endpoint: str, shipped: DeploymentRow) -> float | None:
    """When the shipped version first served as the primary, before the period's end."""
    if shipped.action == "deploy":
        return shipped.time
    for row in history.deployments.get(endpoint, []):
        if (
            row.number > shipped.number
            and row.action in ("deploy", "promote")
            and (row.model, row.version) == (shipped.model, shipped.version)
        ):
            return row.time
    return None


def _between(start: float | None, end: float | None) -> float | None:
    """Elapsed seconds; a milestone reached inside the one before it (a dataset logged by
    the run that read it) counts as no wait."""
    if start is None or end is None:
        return None
    return max(0.0, end - start)


def summary(rows: list[LeadTime]) -> LeadTimeSummary:
    return LeadTimeSummary.model_validate(
        {
            step: spread(value for row in rows if (value := getattr(row, step)) is not None)
            for step in LEAD_STEPS
        }
    )


def delivery(history: History) -> Delivery:
    changes = history.of(*DEPLOY_KINDS)
    rollbacks = history.of(ROLLBACK_KIND)
    by_action: dict[str, int] = {}
    for event in changes:
        action = event.kind.removeprefix("endpoint.")
        by_action[action] = by_action.get(action, 0) + 1
    undone: set[tuple[str, int]] = set()
    served: list[float] = []
    for event in rollbacks:
        endpoint, number = event.subject, event.data.get("number")
        restores = event.data.get("restores")
        if not isinstance(number, int):
            continue
        if isinstance(restores, int):
            undone.update((endpoint, n) for n in range(restores + 1, number))
        lasted = history.served_before(event)
        if lasted is not None:
            served.append(lasted)
    failed = sum((event.subject, event.data.get("number")) in undone for event in changes)
    return Delivery(
        deployments=len(changes),
        by_action=by_action,
        per_week=len(changes) / history.days * WEEK_DAYS,
        rollbacks=len(rollbacks),
        failed_changes=failed,
        change_failure_rate=failed / len(changes) if changes else None,
        time_to_rollback=spread(max(0.0, value) for value in served),
        alert_to_rollback=spread(_alert_to_rollback(history)),
    )


def _alert_to_rollback(history: History) -> Iterable[float]:
    """For each rollback an alert's action made: the rollback's time less the alert's."""
    fired = {event.data.get("alert"): event.time for event in history.of("alert.fired")}
    rolled = {
        (event.subject, event.data.get("number")): event.time for event in history.of(ROLLBACK_KIND)
    }
    for action in history.of("alert.action"):
        data = action.data
        if data.get("action") != "rollback" or not data.get("ok"):
            continue
        started = fired.get(data.get("alert"))
        done = rolled.get((action.subject, data.get("deployment")), action.time)
        if started is not None:
            yield max(0.0, done - started)


def recovery(history: History) -> Recovery:
    fired = history.of("alert.fired")
    resolved = {event.data.get("alert"): event.time for event in history.of("alert.resolved")}
    times = [
        resolved[event.data.get("alert")] - event.time
        for event in fired
        if event.data.get("alert") in resolved
    ]
    return Recovery(
        alerts_fired=len(fired),
        resolved=len(times),
        still_firing=len(fired) - len(times),
        time_to_recovery=spread(max(0.0, value) for value in times),
    )


def review_figures(history: History) -> ReviewFigures:
    backlog, oldest = history.review_backlog
    return ReviewFigures(
        routed=history.review_routed,
        decided=len(history.review_decisions),
        closed=len(history.review_closed),
        backlog=backlog,
        oldest_open_age_s=None if oldest is None else max(0.0, history.until - oldest),
        time_to_decision=spread(closed - routed for routed, closed in history.review_closed),
        handling_time=spread(
            decided - claimed
            for _who, claimed, decided in history.review_decisions
            if claimed is not None
        ),
    )
