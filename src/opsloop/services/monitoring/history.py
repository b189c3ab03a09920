"""What a monitor's page draws over a period: values per window, every feature's drift in
groups of windows (the worst of each), which features each window found drifted, and the
newest window's drift with its details. Seven queries, whatever the number of windows and
features."""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from sqlalchemy import Connection

from opsloop.domain.monitoring import Monitor, MonitorValue
from opsloop.store.repos import monitors

# The rows a MonitorHistory holds, for its readers above the services (the web UI).
from opsloop.store.repos.monitors import LABEL_DRIFT as LABEL_DRIFT
from opsloop.store.repos.monitors import NOT_FEATURES as NOT_FEATURES
from opsloop.store.repos.monitors import DriftBucket as DriftBucket
from opsloop.store.repos.monitors import Newest as Newest
from opsloop.store.repos.monitors import Point as Point

MAX_HISTORY = 1_000_000  # values a page's history reads at most (windows x metrics)


@dataclass(frozen=True)
class MonitorHistory:
    """A monitor's values over a period, and its drift verdicts."""

    monitor: Monitor
    since: float
    group_s: int  # drift is grouped by the windows whose ends fall in these many seconds
    values: list[Point]  # by metric, then window
    drift: list[DriftBucket]
    drifted: dict[float, list[str]]  # window end -> the features it found drifted
    newest_drift: list[MonitorValue]  # drift.*, with details, of the newest window with any


def read_history(
    conn: Connection,
    endpoint_id: int,
    monitor: Monitor,
    metrics: Sequence[str],
    since: float,
    max_windows: int,
    max_points: int,
) -> MonitorHistory:
    window_s = monitor.config.window_s
    spanned = 1.0  # windows from the oldest in the period to the newest
    if monitor.last_window_end is not None:
        newest = monitor.last_window_end.timestamp()
        since = max(since, newest - max_windows * window_s)
        oldest = monitors.oldest_end(conn, endpoint_id, since)
        if oldest is not None:
            spanned = max(1.0, (newest - oldest) / window_s + 1)
    group_s = math.ceil(window_s * math.ceil(spanned / max_points))
    values = monitors.points(conn, endpoint_id, metrics, since, MAX_HISTORY)
    last = monitors.newest_drift_end(conn, endpoint_id, since)
    latest = [] if last is None else monitors.window_details(conn, endpoint_id, last, "drift.")
    tested = [value.metric for value in latest if decided_by_p_value(value.detail)]
    drift = (
        []
        if last is None
        else monitors.drift_buckets(conn, endpoint_id, since, group_s, tested, MAX_HISTORY)
    )
    shares = monitors.details(conn, endpoint_id, "drift.share_drifted", since, max_windows)
    drifted = {
        end: list(detail.get("drifted", [])) for end, detail in shares if isinstance(detail, dict)
    }
    return MonitorHistory(monitor, since, group_s, values, drift, drifted, latest)


def decided_by_p_value(detail: dict[str, Any] | None) -> bool:
    """Whether a feature's drift verdict rests on a p-value: its test then left one beside
    its statistic (``ks`` and ``ks_p_value``)."""
    if not detail or not isinstance(detail.get("statistics"), dict):
        return False
    return f"{detail.get('test')}_p_value" in detail["statistics"]
