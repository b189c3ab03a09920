"""Alerts: one row per firing of a rule on an endpoint, open until it resolves.

The ``actions`` column holds what the row alone does not: the condition and action the rule
had when it fired, every action and notification done about it with its outcome, and how it
was resolved (``{"condition", "action", "done": [...], "resolution": {...} | None}``).
"""

from __future__ import annotations

from typing import Any

from sqlalchemy import Connection, RowMapping, func, select

from opsloop.domain.alerts import ActionRecord, Alert, AlertState, Severity
from opsloop.domain.errors import NotFound
from opsloop.store.repos._time import at, at_or_none
from opsloop.store.tables import alerts, endpoints, projects

_ALERTS = (
    select(alerts, endpoints.c.name.label("endpoint"), projects.c.name.label("project"))
    .join(endpoints, endpoints.c.id == alerts.c.endpoint_id)
    .join(projects, projects.c.id == endpoints.c.project_id)
)


def insert(
    conn: Connection,
    endpoint_id: int,
    *,
    rule: str,
    severity: Severity,
    metric: str,
    value: float | None,
    threshold: float,
    window_end: float,
    fired_at: float,
    condition: str,
    action: str,
) -> int:
    result = conn.execute(
        alerts.insert().values(
            endpoint_id=endpoint_id,
            rule=rule,
            severity=severity.value,
            state=AlertState.FIRING.value,
            metric=metric,
            value=value,
            threshold=threshold,
            window_end=window_end,
            fired_at=fired_at,
            resolved_at=None,
            actions={"condition": condition, "action": action, "done": [], "resolution": None},
        )
    )
    return int(result.inserted_primary_key[0])  # type: ignore[index]


def get(conn: Connection, alert_id: int) -> Alert:
    row = conn.execute(_ALERTS.where(alerts.c.id == alert_id)).mappings().first()
    if row is None:
        raise NotFound(f"alert {alert_id} not found", field="alert")
    return _alert(row)


def lock(conn: Connection, alert_id: int) -> None:
    """Hold the alert's row (PostgreSQL) until the caller's transaction ends: its actions
    JSON is read, added to and written back."""
    conn.execute(select(alerts.c.id).where(alerts.c.id == alert_id).with_for_update())


def firing(conn: Connection, endpoint_id: int) -> dict[str, Alert]:
    """The endpoint's open alerts by rule name."""
    rows = conn.execute(
        _ALERTS.where(
            alerts.c.endpoint_id == endpoint_id, alerts.c.state == AlertState.FIRING.value
        )
    ).mappings()
    return {row["rule"]: _alert(row) for row in rows}


def judged_until(conn: Connection, endpoint_id: int, rule: str) -> float | None:
    """Windows ending at or before this were judged by the rule's last (resolved) alert:
    they fired it, kept it open, or showed the value back within bounds; when a person
    resolved it, windows ending before that moment too. None: the rule never fired."""
    row = conn.execute(
        select(alerts.c.window_end, alerts.c.resolved_at, alerts.c.actions)
        .where(
            alerts.c.endpoint_id == endpoint_id,
            alerts.c.rule == rule,
            alerts.c.state == AlertState.RESOLVED.value,
        )
        .order_by(alerts.c.id.desc())
        .limit(1)
    ).first()
    if row is None:
        return None
    resolution = row.actions.get("resolution") or {}
    shown_back = resolution.get("window_end")
    return max(row.window_end, row.resolved_at if shown_back is None else shown_back)


def list_alerts(
    conn: Connection, *, endpoint_id: int | None, state: AlertState | None, limit: int
) -> list[Alert]:
    """Newest first."""
    query = _ALERTS.order_by(alerts.c.id.desc()).limit(limit)
    if endpoint_id is not None:
        query = query.where(alerts.c.endpoint_id == endpoint_id)
    if state is not None:
        query = query.where(alerts.c.state == state.value)
    return [_alert(row) for row in conn.execute(query).mappings()]


def open_or_since(conn: Connection, endpoint_id: int, since: float, limit: int) -> list[Alert]:
    """The endpoint's open alerts and those fired after ``since``, newest first; at most
    ``limit``."""
    query = (
        _ALERTS.where(
            alerts.c.endpoint_id == endpoint_id,
            (alerts.c.state == AlertState.FIRING.value) | (alerts.c.fired_at > since),
        )
        .order_by(alerts.c.id.desc())
        .limit(limit)
    )
    return [_alert(row) for row in conn.execute(query).mappings()]


def firing_counts(conn: Connection) -> list[tuple[str, Severity, int]]:
    """How many alerts are open per endpoint and severity."""
    rows = conn.execute(
        select(endpoints.c.name, alerts.c.severity, func.count())
        .join(endpoints, endpoints.c.id == alerts.c.endpoint_id)
        .where(alerts.c.state == AlertState.FIRING.value)
        .group_by(endpoints.c.name, alerts.c.severity)
    ).all()
    return [(name, Severity(severity), int(count)) for name, severity, count in rows]


def add_action(conn: Connection, alert_id: int, record: ActionRecord) -> None:
    lock(conn, alert_id)
    stored = _stored_actions(conn, alert_id)
    stored["done"] = [*stored["done"], _record_json(record)]
    conn.execute(alerts.update().where(alerts.c.id == alert_id).values(actions=stored))


def resolve(
    conn: Connection,
    alert_id: int,
    *,
    resolved_at: float,
    by: str,
    reason: str,
    window_end: float | None,
) -> bool:
    """Close the alert; False when it was not open. ``window_end``: the window that showed
    the value back within bounds (None when a person resolved it)."""
    lock(conn, alert_id)
    stored = _stored_actions(conn, alert_id)
    stored["resolution"] = {"by": by, "reason": reason, "window_end": window_end}
    changed = conn.execute(
        alerts.update()
        .where(alerts.c.id == alert_id, alerts.c.state == AlertState.FIRING.value)
        .values(state=AlertState.RESOLVED.value, resolved_at=resolved_at, actions=stored)
    )
    return changed.rowcount == 1


def _stored_actions(conn: Connection, alert_id: int) -> dict[str, Any]:
    stored = conn.execute(select(alerts.c.actions).where(alerts.c.id == alert_id)).scalar()
    if stored is None:
        raise NotFound(f"alert {alert_id} not found", field="alert")
    return dict(stored)


def _record_json(record: ActionRecord) -> dict[str, Any]:
    data = record.model_dump(mode="json")
    data["time"] = record.time.timestamp()
    return data


def _alert(row: RowMapping) -> Alert:
    stored = row["actions"]
    resolution = stored.get("resolution") or {}
    return Alert(
        id=row["id"],
        endpoint=row["endpoint"],
        project=row["project"],
        rule=row["rule"],
        severity=Severity(row["severity"]),
        state=AlertState(row["state"]),
        condition=stored.get("condition", ""),
        action=stored.get("action", ""),
        metric=row["metric"],
        value=row["value"],
        threshold=row["threshold"],
        window_end=at(row["window_end"]),
        fired_at=at(row["fired_at"]),
        resolved_at=at_or_none(row["resolved_at"]),
        resolved_by=resolution.get("by"),
        resolution=resolution.get("reason", ""),
        actions=[
            ActionRecord.model_validate({**record, "time": at(record["time"])})
            for record in stored.get("done", [])
        ],
    )
