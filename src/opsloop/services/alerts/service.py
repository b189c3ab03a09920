"""Alerts: rules judged over an endpoint's monitor values, fired and resolved at most once each.

After each monitor pass the monitor calls ``evaluate``. A rule fires when its newest
``for_windows`` counted windows all breach it; its alert stays open (and nothing fires again)
while the value stays bad, and resolves on the first counted window within bounds. A window
whose value is missing, or whose performance figures the monitor flagged uncertain (too few
labels), does not count: it neither adds to the streak nor resolves. Every firing, resolution
and action is an Event (``alert.fired``, ``alert.resolved``, ``alert.action``) by the actor
``monitor:<endpoint>``; actions and notifications run after the firing is committed and
their failures are recorded, never raised.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

from sqlalchemy import Connection

from opsloop.domain.alerts import (
    ActionKind,
    ActionRecord,
    Alert,
    AlertRule,
    AlertState,
    NotifierSpec,
    Severity,
    judge,
)
from opsloop.domain.entities import Actor
from opsloop.domain.errors import Conflict, InvalidInput
from opsloop.domain.names import check_name
from opsloop.services.alerts import actions
from opsloop.services.alerts.actions import StartPipeline, monitor_actor
from opsloop.services.alerts.notifiers import deliver
from opsloop.services.deployments import DeploymentService, subject_of
from opsloop.store.database import Database
from opsloop.store.repos import alerts, endpoints, events, monitors
from opsloop.store.repos._time import at
from opsloop.store.repos._time import now as clock

if TYPE_CHECKING:
    import httpx

# Windows read per rule beyond the streak it needs: room for skipped (uncertain) windows.
LOOKBACK = 100
MAX_PAGE = 10_000
MAX_REASON = 2_000


class AlertService:
    def __init__(
        self,
        db: Database,
        deployments: DeploymentService,
        start_pipeline: StartPipeline | None = None,
        http: httpx.Client | None = None,
    ) -> None:
        """``start_pipeline``: ``PipelineService.start`` (None: the pipeline action fails,
        recorded as such); ``http``: the client webhooks are posted with (default: one per
        post)."""
        self.db = db
        self.deployments = deployments
        self.start_pipeline = start_pipeline
        self.http = http

    # -- the monitor's call ----------------------------------------------------------------

    def evaluate(
        self,
        endpoint: str,
        rules: Sequence[AlertRule],
        notifiers: Sequence[NotifierSpec],
        now: float,
    ) -> list[Alert]:
        """Judge ``rules`` on the endpoint's stored values; returns the alerts that fired or
        resolved in this call (after their actions ran). An open alert whose rule is no
        longer among ``rules`` resolves."""
        with self.db.read() as conn:
            endpoint_id = endpoints.get_id(conn, check_name(endpoint, "endpoint"))
            to_fire, to_resolve = _decide(conn, endpoint_id, rules)
        changed: list[Alert] = []
        for current, reason, shown_back in to_resolve:
            resolved = self._resolve(current, monitor_actor(endpoint), reason, shown_back, now)
            if resolved is not None:
                changed.append(self._notify(resolved, notifiers))
        for rule, window_end, value in to_fire:
            fired = self._fire(endpoint_id, endpoint, rule, window_end, value, now)
            if fired is not None:
                changed.append(self._notify(self._act(fired, rule), notifiers))
        return changed

    # -- reading and resolving by hand -----------------------------------------------------

    def get(self, alert_id: int) -> Alert:
        with self.db.read() as conn:
            return alerts.get(conn, alert_id)

    def list_alerts(
        self,
        endpoint: str | None = None,
        state: AlertState | str | None = None,
        limit: int = 100,
    ) -> list[Alert]:
        """Newest first; ``state`` firing, resolved, or None / ``all`` for both."""
        wanted = _state(state)
        if isinstance(limit, bool) or not isinstance(limit, int) or not 1 <= limit <= MAX_PAGE:
            raise InvalidInput(f"limit must be between 1 and {MAX_PAGE}", field="limit")
        with self.db.read() as conn:
            endpoint_id = (
                None
                if endpoint is None
                else endpoints.get_id(conn, check_name(endpoint, "endpoint"))
            )
            return alerts.list_alerts(conn, endpoint_id=endpoint_id, state=wanted, limit=limit)

    def recent(self, endpoint: str, since: float, limit: int = 100) -> list[Alert]:
        """The endpoint's open alerts and those fired after ``since`` (epoch seconds),
        newest first."""
        if isinstance(limit, bool) or not isinstance(limit, int) or not 1 <= limit <= MAX_PAGE:
            raise InvalidInput(f"limit must be between 1 and {MAX_PAGE}", field="limit")
        with self.db.read() as conn:
            endpoint_id = endpoints.get_id(conn, check_name(endpoint, "endpoint"))
            return alerts.open_or_since(conn, endpoint_id, float(since), limit)

    def resolve(self, alert_id: int, actor: Actor, reason: str = "") -> Alert:
        """Close an open alert by hand. Windows that ended before now no longer count toward
        firing its rule again. Notifies nobody: the person resolving it knows."""
        if not isinstance(reason, str) or len(reason) > MAX_REASON:
            raise InvalidInput(
                f"reason must be text of at most {MAX_REASON} characters", field="reason"
            )
        with self.db.read() as conn:
            current = alerts.get(conn, alert_id)
        resolved = self._resolve(
            current, actor, reason.strip() or "resolved by hand", None, clock()
        )
        if resolved is None:
            raise Conflict(f"alert {alert_id} is already resolved", field="alert")
        return resolved

    def firing_counts(self) -> list[tuple[str, Severity, int]]:
        """Open alerts per endpoint and severity."""
        with self.db.read() as conn:
            return alerts.firing_counts(conn)

    # -- the steps -------------------------------------------------------------------------

    def _fire(
        self,
        endpoint_id: int,
        endpoint: str,
        rule: AlertRule,
        window_end: float,
        value: float,
        now: float,
    ) -> Alert | None:
        actor = monitor_actor(endpoint)
        with self.db.begin() as conn:
            endpoints.lock(conn, endpoint_id)  # evaluators take turns: one alert per rule
            if rule.name in alerts.firing(conn, endpoint_id):
                return None
            alert_id = alerts.insert(
                conn,
                endpoint_id,
                rule=rule.name,
                severity=rule.severity,
                metric=rule.metric,
                value=value,
                threshold=rule.threshold,
                window_end=window_end,
                fired_at=now,
                condition=rule.condition,
                action=rule.action_text,
            )
            fired = alerts.get(conn, alert_id)
            events.append(
                conn,
                kind="alert.fired",
                subject=subject_of(endpoint),
                project=fired.project,
                actor=actor.name,
                actor_kind=actor.kind,
                time=now,
                data={
                    "alert": alert_id,
                    "rule": rule.name,
                    "severity": rule.severity.value,
                    "metric": rule.metric,
                    "value": value,
                    "threshold": rule.threshold,
                    "condition": rule.condition,
                    "action": rule.action_text,
                    "window_end": window_end,
                },
            )
        return fired

    def _resolve(
        self, current: Alert, actor: Actor, reason: str, window_end: float | None, now: float
    ) -> Alert | None:
        with self.db.begin() as conn:
            if not alerts.resolve(
                conn,
                current.id,
                resolved_at=now,
                by=actor.name,
                reason=reason,
                window_end=window_end,
            ):
                return None  # another evaluator, or a person, resolved it first
            events.append(
                conn,
                kind="alert.resolved",
                subject=subject_of(current.endpoint),
                project=current.project,
                actor=actor.name,
                actor_kind=actor.kind,
                time=now,
                data={
                    "alert": current.id,
                    "rule": current.rule,
                    "metric": current.metric,
                    "reason": reason,
                    "window_end": window_end,
                },
            )
            return alerts.get(conn, current.id)

    def _act(self, fired: Alert, rule: AlertRule) -> Alert:
        if rule.action is ActionKind.ROLLBACK:
            return self._record(fired, actions.rollback(self.deployments, fired))
        if rule.action is ActionKind.PIPELINE:
            assert rule.pipeline is not None
            return self._record(
                fired, actions.start_pipeline(self.start_pipeline, rule.pipeline, fired)
            )
        return fired

    def _notify(self, alert: Alert, specs: Sequence[NotifierSpec]) -> Alert:
        for spec in specs:
            alert = self._record(alert, deliver(spec, alert, self.http))
        return alert

    def _record(self, alert: Alert, record: ActionRecord) -> Alert:
        actor = monitor_actor(alert.endpoint)
        data: dict[str, Any] = {
            **record.data,
            "alert": alert.id,
            "rule": alert.rule,
            "action": record.action,
            "ok": record.ok,
            "detail": record.detail,
        }
        with self.db.begin() as conn:
            alerts.add_action(conn, alert.id, record)
            events.append(
                conn,
                kind="alert.action",
                subject=subject_of(alert.endpoint),
                project=alert.project,
                actor=actor.name,
                actor_kind=actor.kind,
                time=record.time.timestamp(),
                data=data,
            )
            return alerts.get(conn, alert.id)


_Firing = tuple[AlertRule, float, float]  # rule, window end, value
_Resolving = tuple[Alert, str, float | None]  # alert, reason, window that showed it back


def _decide(
    conn: Connection, endpoint_id: int, rules: Sequence[AlertRule]
) -> tuple[list[_Firing], list[_Resolving]]:
    """Which rules fire and which open alerts resolve, from the stored values."""
    open_alerts = alerts.firing(conn, endpoint_id)
    to_fire: list[_Firing] = []
    to_resolve: list[_Resolving] = []
    for rule in rules:
        current = open_alerts.get(rule.name)
        after = None if current else alerts.judged_until(conn, endpoint_id, rule.name)
        windows = _windows(conn, endpoint_id, rule)
        verdict, index = judge(rule, windows, after)
        if index is None:
            continue
        window_end, value = windows[index]
        assert value is not None  # judge points only at counted windows
        if verdict == "breached" and current is None:
            to_fire.append((rule, window_end, value))
        elif verdict == "healthy" and current is not None:
            reason = (
                f"{rule.metric} = {value:.6g} in the window ending "
                f"{at(window_end):%Y-%m-%d %H:%M:%S} UTC"
            )
            to_resolve.append((current, reason, window_end))
    names = {rule.name for rule in rules}
    for name, current in open_alerts.items():
        if name not in names:
            to_resolve.append((current, "its rule is no longer in the monitor", None))
    return to_fire, to_resolve


def _windows(
    conn: Connection, endpoint_id: int, rule: AlertRule
) -> list[tuple[float, float | None]]:
    """The rule's newest windows as ``(window_end, value)``, value None where the window
    does not count: no value, not a number, or flagged uncertain."""
    limit = rule.for_windows + LOOKBACK
    found = monitors.values(conn, endpoint_id, rule.metric, limit)
    flagged: set[float] = set()
    if rule.uncertain_metric is not None:
        flagged = {
            flag.window_end.timestamp()
            for flag in monitors.values(conn, endpoint_id, rule.uncertain_metric, limit)
            if flag.value is not None and flag.value != 0
        }
    windows: list[tuple[float, float | None]] = []
    for item in found:
        end = item.window_end.timestamp()
        value = item.value
        if value is None or math.isnan(value) or end in flagged:
            windows.append((end, None))
        else:
            windows.append((end, value))
    return windows


def _state(state: AlertState | str | None) -> AlertState | None:
    if state is None or state == "all":
        return None
    try:
        return AlertState(state)
    except ValueError:
        raise InvalidInput(
            f"state must be firing, resolved or all, got {state!r}", field="state"
        ) from None
