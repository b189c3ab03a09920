"""Monitoring: every monitor's newest window at a glance, and one monitor over a period —
each feature's drift against its threshold, live and estimated accuracy, label coverage, and
the alerts with what their actions did (deployers may resolve an open one, through the API)."""

from __future__ import annotations

import math
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Annotated, Any

from fastapi import APIRouter, Depends, Request
from fastapi.responses import HTMLResponse

from opsloop.domain.auth import Role
from opsloop.domain.deployments import Endpoint
from opsloop.domain.errors import InvalidInput
from opsloop.domain.monitoring import Monitor, MonitorValue
from opsloop.domain.names import check_name
from opsloop.server.ui.pages.health import worst
from opsloop.server.ui.render import render
from opsloop.server.ui.viewer import Viewer, viewer_of
from opsloop.services.monitoring.history import (
    LABEL_DRIFT,
    NOT_FEATURES,
    DriftBucket,
    MonitorHistory,
    Newest,
    Point,
    decided_by_p_value,
)

router = APIRouter(include_in_schema=False)

PERIODS = (1, 7, 30, 90)  # days a monitor's page may look back
DEFAULT_DAYS = 7
MAX_WINDOWS = 2_200  # drawn at most: 90 days of 1h windows (shorter windows: the newest)
MAX_POINTS = 400  # drift drawn per feature at most: beyond, each point the worst of its windows
RECENT_WINDOWS = 24  # rows of the windows table
ALERTS_SHOWN = 100
SCORE_CAP = 10.0  # a drift score far past its threshold is drawn at this, so others stay legible
NEWEST = (
    "drift.share_drifted",
    "estimated.accuracy",
    "performance.accuracy",
    "performance.label_coverage",
    "performance.labels",
    "performance.uncertain",
    "service.requests",
    "performance.mae",  # a regressor's live figure, in place of accuracy
    "performance.ndcg_at_k",  # a ranking's
)
LIVE_METRICS = ("performance.accuracy", "performance.mae", "performance.ndcg_at_k")
LIVE_LABELS = {"performance.mae": "MAE", "performance.ndcg_at_k": "NDCG@k"}  # shown beside it
SERIES = NEWEST[1:]


def at(epoch: float) -> datetime:
    return datetime.fromtimestamp(epoch, UTC)


# -- the list --------------------------------------------------------------------------------


@dataclass(frozen=True)
class Summary:
    """One monitored endpoint's newest window, and its open alerts."""

    endpoint: str
    project: str
    monitor: Monitor
    figures: dict[str, float | None]
    window: tuple[datetime, datetime] | None
    ran_at: datetime | None
    drifted: list[str] | None  # None: the window has no drift (no reference, no traffic)
    features: int | None
    alerts: int
    state: str  # the worst open alert's severity, ok without one

    @property
    def live(self) -> float | None:
        """Accuracy, else a regressor's MAE or a ranking's NDCG@k."""
        return live_figure(self.figures)[1]

    @property
    def live_label(self) -> str:
        """What ``live`` is, when it is not accuracy."""
        return live_figure(self.figures)[0]


@router.get("/ui/monitoring", response_class=HTMLResponse)
def monitoring(request: Request, viewer: Annotated[Viewer, Depends(viewer_of)]) -> HTMLResponse:
    started = time.perf_counter()
    platform = request.app.state.platform
    listed: list[Endpoint] = platform.deployments.list_endpoints()
    configured = {monitor.endpoint: monitor for monitor in platform.monitoring.list_monitors()}
    newest = platform.monitoring.newest_windows(NEWEST)
    open_alerts: dict[str, dict[str, int]] = {}
    for name, severity, count in platform.alerts.firing_counts():
        open_alerts.setdefault(name, {})[severity.value] = count
    summaries = [
        summarize(endpoint, configured[endpoint.name], newest.get(endpoint.name, []), open_alerts)
        for endpoint in listed
        if endpoint.name in configured
    ]
    unmonitored = [endpoint for endpoint in listed if endpoint.name not in configured]
    return render(
        request,
        "monitoring.html",
        viewer,
        started,
        summaries=summaries,
        unmonitored=unmonitored,
    )


def summarize(
    endpoint: Endpoint, monitor: Monitor, values: list[Newest], open_alerts: dict[str, Any]
) -> Summary:
    figures = {value.metric: value.value for value in values}
    share = next((v for v in values if v.metric == "drift.share_drifted"), None)
    detail = share.detail if share is not None and share.detail else {}
    severities = open_alerts.get(endpoint.name, {})
    first = values[0] if values else None
    return Summary(
        endpoint=endpoint.name,
        project=endpoint.project,
        monitor=monitor,
        figures=figures,
        window=None if first is None else (at(first.window_start), at(first.window_end)),
        ran_at=None if not values else at(max(value.computed_at for value in values)),
        drifted=list(detail["drifted"]) if "drifted" in detail else None,
        features=detail.get("features"),
        alerts=sum(severities.values()),
        state=worst(severities),
    )


def live_figure(figures: dict[str, float | None]) -> tuple[str, float | None]:
    """A window's live figure, and its name where it is not accuracy."""
    live = first_live_metric(lambda name: figures.get(name) is not None)
    return LIVE_LABELS.get(live, ""), figures.get(live)


def first_live_metric(has: Callable[[str], bool]) -> str:
    """The first of ``LIVE_METRICS`` that ``has`` a value; accuracy when none does."""
    return next((name for name in LIVE_METRICS if has(name)), LIVE_METRICS[0])


# -- one monitor -----------------------------------------------------------------------------


@dataclass
class Feature:
    """One feature's drift over the period, and its newest verdict."""

    name: str
    scores: list[float | None]
    window_end: float = 0.0  # of the newest verdict
    statistic: float | None = None
    p_value: float | None = None
    threshold: float | None = None
    drifted: bool | None = None
    test: str | None = None
    by_p_value: bool = False
    windows: int = 0  # windows of the period with a verdict
    drifted_windows: int = 0

    @property
    def score(self) -> float | None:
        decided_by = self.p_value if self.by_p_value else self.statistic
        return score(decided_by, self.threshold, self.by_p_value, self.drifted)


@dataclass(frozen=True)
class WindowRow:
    end: datetime
    requests: float | None
    labels: float | None
    coverage: float | None
    live: float | None
    estimated: float | None
    uncertain: bool


@dataclass
class Performance:
    live_metric: str  # performance.accuracy, a regressor's .mae or a ranking's .ndcg_at_k
    charts: dict[str, Any] = field(default_factory=dict)
    recent: list[WindowRow] = field(default_factory=list)
    windows: int = 0  # windows of the period with traffic
    uncertain: int = 0


@router.get("/ui/monitoring/{name}", response_class=HTMLResponse)
def monitor(
    request: Request,
    name: str,
    viewer: Annotated[Viewer, Depends(viewer_of)],
    days: str | None = None,
) -> HTMLResponse:
    started = time.perf_counter()
    period = period_of(days)
    platform = request.app.state.platform
    since = time.time() - period * 86400.0
    history = platform.monitoring.history(
        check_name(name, "endpoint"), SERIES, since, MAX_WINDOWS, MAX_POINTS
    )
    features, drift_chart = drift_of(history)
    label_drift = label_drift_of(history)
    performance = performance_of(history.values)
    alerts = platform.alerts.recent(name, since, ALERTS_SHOWN)
    return render(
        request,
        "monitor.html",
        viewer,
        started,
        name=name,
        monitor=history.monitor,
        days=period,
        periods=PERIODS,
        since=at(history.since),
        features=features,
        drift_chart=drift_chart,
        label_drift=label_drift,
        grouped=span_text(history.group_s)
        if history.group_s > history.monitor.config.window_s
        else None,
        score_cap=SCORE_CAP,
        performance=performance,
        alerts=alerts,
        can_resolve=viewer.can(Role.DEPLOYER),
    )


def period_of(days: str | None) -> int:
    """The page's period in days, or InvalidInput naming the choices."""
    if days is None:
        return DEFAULT_DAYS
    choices = ", ".join(map(str, PERIODS))
    if days.strip() not in {str(period) for period in PERIODS}:
        raise InvalidInput(f"days must be one of {choices}, got {days!r}", field="days")
    return int(days)


def span_text(seconds: int) -> str:
    """``6 hours``, ``2 days``, ``90 seconds``."""
    for unit, length in (("day", 86400), ("hour", 3600), ("minute", 60)):
        if seconds % length == 0:
            count = seconds // length
            return f"{count} {unit}{'' if count == 1 else 's'}"
    return f"{seconds} seconds"


def score(
    value: float | None, threshold: float | None, by_p_value: bool, drifted: bool | None
) -> float | None:
    """How far a verdict is from its threshold, on one scale for every test: 1 at the
    threshold, above 1 drifted. ``value`` is the p-value of a test decided by it, which
    scores log p / log cut-off, else the distance, which scores distance / cut-off. Drawn at
    most ``SCORE_CAP``."""
    if value is None or threshold is None:
        return None
    if by_p_value:
        if not 0 < threshold < 1:
            return None
        found = math.log(value) / math.log(threshold) if value > 0 else SCORE_CAP
    elif threshold > 0:
        found = value / threshold
    else:
        found = SCORE_CAP if drifted else 0.0
    return round(found, 3) if found < SCORE_CAP else SCORE_CAP


def drift_of(history: MonitorHistory) -> tuple[list[Feature], dict[str, Any] | None]:
    """Each feature's newest verdict, drifted ones first, and the chart of their scores:
    per group of windows its worst, scored against its newest verdict's threshold."""
    features = {
        value.metric: _verdict(value, value.metric.removeprefix("drift."))
        for value in history.newest_drift
        if value.metric not in NOT_FEATURES and value.detail
    }
    group_s = history.group_s
    x_of: dict[int, float] = {}  # group -> the newest window end in it
    by_metric: dict[str, list[DriftBucket]] = {}
    for bucket in history.drift:
        by_metric.setdefault(bucket.metric, []).append(bucket)
        x_of[bucket.bucket] = max(x_of.get(bucket.bucket, 0.0), bucket.window_end)
    groups = sorted(x_of)
    index = {group: i for i, group in enumerate(groups)}
    drifted_at: dict[str, set[float]] = {}  # feature -> the windows that found it drifted
    for end, names in history.drifted.items():
        for name in names:
            drifted_at.setdefault(name, set()).add(end)
    for metric, buckets in by_metric.items():
        feature = features.get(metric)
        if feature is None:  # no verdict in the newest window: its last one stands
            feature = features[metric] = Feature(metric.removeprefix("drift."), [])
        scores: list[float | None] = [None] * len(groups)
        threshold, by_p_value = feature.threshold, feature.by_p_value
        drifted = drifted_at.get(feature.name, set())
        drifted_groups = {int(end) // group_s for end in drifted}
        for group, _, statistic, p_value, _ in buckets:
            decided_by = p_value if by_p_value else statistic
            found = score(decided_by, threshold, by_p_value, group in drifted_groups)
            scores[index[group]] = found
        feature.scores = scores
        feature.windows = len(history.drifted)
        feature.drifted_windows = len(drifted)
        newest = max(buckets, key=lambda bucket: bucket.window_end)
        if newest.window_end > feature.window_end:
            feature.window_end, feature.statistic = newest.window_end, newest.statistic
            seen = newest.window_end in history.drifted
            feature.drifted = (newest.window_end in drifted) if seen else None
    ordered = sorted(features.values(), key=lambda f: (not f.drifted, f.name))
    if not groups:
        return ordered, None
    series: list[dict[str, Any]] = [
        {"label": f.name, "values": f.scores or [None] * len(groups)} for f in ordered
    ]
    series.append({"label": "threshold", "values": [1.0] * len(groups)})
    x = [x_of[group] for group in groups]
    return ordered, {"x": x, "series": series, "y": "drift score (1 = threshold)"}


@dataclass(frozen=True)
class LabelDrift:
    """The newest verdict on the labels that came back, against the reference's target."""

    verdict: Feature
    compared: str  # labels, grades or list lengths
    unseen: dict[str, int]  # values the reference never held (compared as categories), counted


def label_drift_of(history: MonitorHistory) -> LabelDrift | None:
    for value in history.newest_drift:
        if value.metric == LABEL_DRIFT and value.detail:
            compared = str(value.detail.get("compared", "labels"))
            unseen = {str(k): int(n) for k, n in (value.detail.get("unseen") or {}).items()}
            return LabelDrift(_verdict(value, "label"), compared, unseen)
    return None


def _verdict(value: MonitorValue, name: str) -> Feature:
    """A drift value's verdict, as its detail gives it."""
    detail = value.detail or {}
    return Feature(
        name=name,
        scores=[],
        window_end=value.window_end.timestamp(),
        statistic=value.value,
        p_value=detail.get("p_value"),
        threshold=detail.get("threshold"),
        drifted=detail.get("drifted"),
        test=detail.get("test"),
        by_p_value=decided_by_p_value(detail),
    )


def performance_of(values: list[Point]) -> Performance:
    """Live and estimated accuracy and label coverage per window, and the newest windows."""
    by_metric: dict[str, dict[float, float | None]] = {}
    for value in values:
        if value.metric in SERIES:
            by_metric.setdefault(value.metric, {})[value.window_end] = value.value
    live_metric = first_live_metric(lambda name: _any(by_metric.get(name)))
    live = by_metric.get(live_metric, {})
    estimated = by_metric.get("estimated." + live_metric.removeprefix("performance."), {})
    coverage = by_metric.get("performance.label_coverage", {})
    labels = by_metric.get("performance.labels", {})
    flags = by_metric.get("performance.uncertain", {})
    served_count = by_metric.get("service.requests", {})
    ends = sorted({end for series in by_metric.values() for end in series})
    found = Performance(live_metric)
    if not ends:
        return found
    found.charts["performance"] = {
        "x": ends,
        "series": [
            {"label": "live (labels)", "values": [_short(live.get(end)) for end in ends]},
            {"label": "estimated", "values": [_short(estimated.get(end)) for end in ends]},
        ],
        "y": live_metric.removeprefix("performance."),
    }
    found.charts["coverage"] = {
        "x": ends,
        "series": [
            {"label": "label coverage", "values": [_short(coverage.get(end)) for end in ends]}
        ],
        "y": "labelled share",
    }
    served = [end for end in ends if served_count.get(end)]
    found.windows = len(served)
    found.uncertain = sum(1 for end in served if flags.get(end))
    found.recent = [
        WindowRow(
            end=at(end),
            requests=served_count.get(end),
            labels=labels.get(end),
            coverage=coverage.get(end),
            live=live.get(end),
            estimated=estimated.get(end),
            uncertain=bool(flags.get(end)),
        )
        for end in reversed(ends[-RECENT_WINDOWS:])
    ]
    return found


def _any(values: dict[float, float | None] | None) -> bool:
    return bool(values) and any(value is not None for value in values.values())  # type: ignore[union-attr]


def _short(value: float | None) -> float | None:
    """Four significant digits: what a chart shows, at a fraction of the page's weight."""
    return None if value is None else float(f"{value:.4g}")
