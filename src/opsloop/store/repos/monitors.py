"""Monitors and their values: one policy per endpoint, one row per metric per window."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from sqlalchemy import Connection, RowMapping, func, select

from opsloop.domain.monitoring import Monitor, MonitorConfig, MonitorValue
from opsloop.store.repos._time import at, at_or_none
from opsloop.store.tables import endpoints, monitor_values, monitors

_MONITORS = select(monitors, endpoints.c.name.label("endpoint")).join(
    endpoints, endpoints.c.id == monitors.c.endpoint_id
)
_INSERT_VALUES = monitor_values.insert()


def get(conn: Connection, endpoint_id: int) -> Monitor | None:
    row = conn.execute(_MONITORS.where(monitors.c.endpoint_id == endpoint_id)).mappings().first()
    return None if row is None else _monitor(row)


def list_all(conn: Connection) -> list[Monitor]:
    rows = conn.execute(_MONITORS.order_by(endpoints.c.name)).mappings()
    return [_monitor(row) for row in rows]


def save(
    conn: Connection, endpoint_id: int, config: MonitorConfig, source: str, time: float, actor: str
) -> bool:
    """Set the endpoint's monitor; True when it had none before. Its progress is kept."""
    values = {
        "config": config.model_dump(mode="json"),
        "source": source,
        "updated_at": time,
        "updated_by": actor,
    }
    changed = conn.execute(
        monitors.update().where(monitors.c.endpoint_id == endpoint_id).values(**values)
    )
    if changed.rowcount == 1:
        return False
    conn.execute(
        monitors.insert().values(
            endpoint_id=endpoint_id, last_window_end=None, created_at=time, **values
        )
    )
    return True


def advance(conn: Connection, endpoint_id: int, window_end: float) -> None:
    """Record that windows up to ``window_end`` are computed (progress never moves back)."""
    current = conn.execute(
        select(monitors.c.last_window_end).where(monitors.c.endpoint_id == endpoint_id)
    ).scalar()
    if current is None or window_end > current:
        conn.execute(
            monitors.update()
            .where(monitors.c.endpoint_id == endpoint_id)
            .values(last_window_end=window_end)
        )


def see_labels(conn: Connection, endpoint_id: int, event_id: int) -> None:
    """Record that feedback events up to ``event_id`` are taken in (never moves back)."""
    conn.execute(
        monitors.update()
        .where(
            monitors.c.endpoint_id == endpoint_id,
            (monitors.c.labels_seen_event.is_(None)) | (monitors.c.labels_seen_event < event_id),
        )
        .values(labels_seen_event=event_id)
    )


def replace_values(
    conn: Connection,
    endpoint_id: int,
    window_ends: Sequence[float],
    rows: list[dict[str, Any]],
    computed_at: float,
) -> None:
    """Every value of the windows ending at ``window_ends`` becomes ``rows`` (each with
    metric, window_start, window_end, value, detail): a window computed again keeps only
    what the new pass found."""
    for start in range(0, len(window_ends), 500):
        chunk = list(window_ends[start : start + 500])
        conn.execute(
            monitor_values.delete().where(
                monitor_values.c.endpoint_id == endpoint_id,
                monitor_values.c.window_end.in_(chunk),
            )
        )
    if rows:
        conn.execute(
            _INSERT_VALUES,
            [{"endpoint_id": endpoint_id, "computed_at": computed_at, **row} for row in rows],
        )


def values(conn: Connection, endpoint_id: int, metric: str, limit: int) -> list[MonitorValue]:
    """The last ``limit`` values of one metric, newest window first."""
    rows = conn.execute(
        select(monitor_values)
        .where(monitor_values.c.endpoint_id == endpoint_id, monitor_values.c.metric == metric)
        .order_by(monitor_values.c.window_end.desc())
        .limit(limit)
    ).mappings()
    return [_value(row) for row in rows]


def query(
    conn: Connection,
    endpoint_id: int,
    *,
    metric: str | None = None,
    prefix: str | None = None,
    since: float | None = None,
    windows: int | None = None,
    limit: int,
) -> list[MonitorValue]:
    """Values oldest window first, by metric within a window: of one ``metric`` or of those
    starting with ``prefix``, in windows ending after ``since``, of the last ``windows``
    windows; at most ``limit`` rows (the newest)."""
    conditions = [monitor_values.c.endpoint_id == endpoint_id]
    if metric is not None:
        conditions.append(monitor_values.c.metric == metric)
    if prefix is not None:
        conditions.append(monitor_values.c.metric.startswith(prefix, autoescape=True))
    if since is not None:
        conditions.append(monitor_values.c.window_end > since)
    if windows is not None:
        ends = (
            select(monitor_values.c.window_end)
            .where(*conditions)
            .group_by(monitor_values.c.window_end)
            .order_by(monitor_values.c.window_end.desc())
            .limit(windows)
            .subquery()
        )
        oldest = select(func.min(ends.c.window_end)).scalar_subquery()
        conditions.append(monitor_values.c.window_end >= oldest)
    newest = (
        select(monitor_values)
        .where(*conditions)
        .order_by(monitor_values.c.window_end.desc(), monitor_values.c.metric)
        .limit(limit)
        .subquery()
    )
    rows = conn.execute(select(newest).order_by(newest.c.window_end, newest.c.metric)).mappings()
    return [_value(row) for row in rows]


def _monitor(row: RowMapping) -> Monitor:
    return Monitor(
        endpoint=row["endpoint"],
        config=MonitorConfig.model_validate(row["config"]),
        source=row["source"],
        last_window_end=at_or_none(row["last_window_end"]),
        labels_seen_event=row["labels_seen_event"],
        created_at=at(row["created_at"]),
        updated_at=at(row["updated_at"]),
        updated_by=row["updated_by"],
    )


def _value(row: RowMapping) -> MonitorValue:
    return MonitorValue(
        metric=row["metric"],
        window_start=at(row["window_start"]),
        window_end=at(row["window_end"]),
        value=row["value"],
        detail=row["detail"],
    )
