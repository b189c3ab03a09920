"""Monitors and their values: one policy per endpoint, one row per metric per window."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any, NamedTuple

from sqlalchemy import (
    BigInteger,
    ColumnElement,
    Connection,
    RowMapping,
    case,
    cast,
    func,
    null,
    select,
)

from opsloop.domain.monitoring import Monitor, MonitorConfig, MonitorValue
from opsloop.store.repos import _endpoint_config
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
    return _endpoint_config.save(conn, monitors, endpoint_id, config, source, time, actor)


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


# -- what the web UI reads: light rows, a detail only where asked for --------------------------

LABEL_DRIFT = "drift.label"
# Metrics that start with ``drift.`` but are no feature's (the labels' drift is shown apart).
NOT_FEATURES = ("drift.share_drifted", "drift.prediction", LABEL_DRIFT)


class Point(NamedTuple):
    """One number of one window, as a chart needs it."""

    window_end: float
    metric: str
    value: float | None


class DriftBucket(NamedTuple):
    """One feature's drift over a group of windows: its worst in them."""

    bucket: int  # window_end // the group's seconds
    metric: str
    statistic: float | None  # the largest
    p_value: float | None  # the smallest, where a test decides by it
    window_end: float  # the newest window of the group with a value


class Newest(NamedTuple):
    """One value of a monitor's newest computed window."""

    endpoint: str
    metric: str
    window_start: float
    window_end: float
    value: float | None
    detail: dict[str, Any] | None
    computed_at: float


def points(
    conn: Connection, endpoint_id: int, metrics: Sequence[str], since: float, limit: int
) -> list[Point]:
    """Values of ``metrics`` in windows ending after ``since``, by metric then window; at
    most ``limit`` rows (the (endpoint, metric, window) index leads to just these)."""
    rows = conn.execute(
        select(monitor_values.c.window_end, monitor_values.c.metric, monitor_values.c.value)
        .where(
            monitor_values.c.endpoint_id == endpoint_id,
            monitor_values.c.metric.in_(list(metrics)),
            monitor_values.c.window_end > since,
        )
        .order_by(monitor_values.c.metric, monitor_values.c.window_end)
        .limit(limit)
    ).all()
    return [Point(*row) for row in rows]


def details(
    conn: Connection, endpoint_id: int, metric: str, since: float, limit: int
) -> list[tuple[float, dict[str, Any] | None]]:
    """``(window_end, detail)`` of one metric in windows ending after ``since``, oldest
    first; at most ``limit`` (the newest)."""
    rows = conn.execute(
        select(monitor_values.c.window_end, monitor_values.c.detail)
        .where(
            monitor_values.c.endpoint_id == endpoint_id,
            monitor_values.c.metric == metric,
            monitor_values.c.window_end > since,
        )
        .order_by(monitor_values.c.window_end.desc())
        .limit(limit)
    ).all()
    return [(end, detail) for end, detail in reversed(rows)]


def _feature_drift() -> ColumnElement[bool]:
    # "drift." holds no LIKE wildcard: nothing to escape, nothing to build per row
    metric = monitor_values.c.metric
    return metric.like("drift.%") & metric.not_in(NOT_FEATURES)


def oldest_end(conn: Connection, endpoint_id: int, since: float) -> float | None:
    """The end of the oldest window after ``since`` with any value."""
    found = conn.execute(
        select(func.min(monitor_values.c.window_end)).where(
            monitor_values.c.endpoint_id == endpoint_id, monitor_values.c.window_end > since
        )
    ).scalar()
    return None if found is None else float(found)


def newest_drift_end(conn: Connection, endpoint_id: int, since: float) -> float | None:
    """The end of the newest window after ``since`` with a feature's drift, or the labels',
    in it."""
    found = conn.execute(
        select(monitor_values.c.window_end)
        .where(
            monitor_values.c.endpoint_id == endpoint_id,
            monitor_values.c.window_end > since,
            _feature_drift() | (monitor_values.c.metric == LABEL_DRIFT),
        )
        .order_by(monitor_values.c.window_end.desc())
        .limit(1)
    ).scalar()
    return None if found is None else float(found)


def drift_buckets(
    conn: Connection,
    endpoint_id: int,
    since: float,
    seconds: int,
    tested: Sequence[str],
    limit: int,
) -> list[DriftBucket]:
    """Every feature's drift in windows ending after ``since``, grouped by the ``seconds``
    their ends fall in: the largest statistic of each group and, for the ``tested`` metrics
    (a test decides them by its p-value), the smallest p-value, which the database reads out
    of the details (they never leave it). At most ``limit`` rows."""
    end = monitor_values.c.window_end
    bucket = (cast(func.floor(end), BigInteger) // seconds).label("bucket")
    columns: list[Any] = [bucket, monitor_values.c.metric, func.max(monitor_values.c.value)]
    if tested:
        p_value = monitor_values.c.detail["p_value"].as_float()
        columns.append(func.min(case((monitor_values.c.metric.in_(list(tested)), p_value))))
    else:
        columns.append(null())
    columns.append(func.max(end))
    rows = conn.execute(
        select(*columns)
        .where(monitor_values.c.endpoint_id == endpoint_id, end > since, _feature_drift())
        .group_by(bucket, monitor_values.c.metric)
        .limit(limit)
    ).all()
    return [DriftBucket(*row) for row in rows]


def window_details(
    conn: Connection, endpoint_id: int, window_end: float, prefix: str
) -> list[MonitorValue]:
    """The values, with their details, of one window's metrics starting with ``prefix``."""
    rows = conn.execute(
        select(monitor_values)
        .where(
            monitor_values.c.endpoint_id == endpoint_id,
            monitor_values.c.window_end == window_end,
            monitor_values.c.metric.startswith(prefix, autoescape=True),
        )
        .order_by(monitor_values.c.metric)
    ).mappings()
    return [_value(row) for row in rows]


def newest_windows(conn: Connection, metrics: Sequence[str]) -> list[Newest]:
    """For every monitor that has computed a window, the values of ``metrics`` in its
    newest one (the window its progress names)."""
    rows = conn.execute(
        select(
            endpoints.c.name,
            monitor_values.c.metric,
            monitor_values.c.window_start,
            monitor_values.c.window_end,
            monitor_values.c.value,
            monitor_values.c.detail,
            monitor_values.c.computed_at,
        )
        .select_from(monitors)
        .join(endpoints, endpoints.c.id == monitors.c.endpoint_id)
        .join(
            monitor_values,
            (monitor_values.c.endpoint_id == monitors.c.endpoint_id)
            & (monitor_values.c.window_end == monitors.c.last_window_end),
        )
        .where(monitor_values.c.metric.in_(list(metrics)))
        .order_by(endpoints.c.name, monitor_values.c.metric)
    ).all()
    return [Newest(*row) for row in rows]
