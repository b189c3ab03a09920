"""An endpoint's health in a few figures: traffic, latency and accuracy from its monitor's
newest window (or this process's counters when it has no monitor), and its open alerts."""

from __future__ import annotations

import time
from dataclasses import dataclass
from datetime import UTC, datetime

from opsloop.domain.alerts import Alert
from opsloop.domain.deployments import Endpoint
from opsloop.domain.errors import NotFound
from opsloop.services.platform import Platform

HOUR_S = 3600.0
OPEN_ALERTS = 10_000  # at most one per endpoint and rule is open: far more than any store has
SHOWN = (
    "service.requests",
    "service.latency_p99_ms",
    "service.error_rate",
    "performance.accuracy",
    "performance.label_coverage",
    "performance.uncertain",
    "estimated.accuracy",
    "drift.share_drifted",
)


@dataclass(frozen=True)
class Health:
    endpoint: Endpoint
    monitored: bool
    window: str | None  # the newest computed window, when there is a monitor
    figures: dict[str, float | None]
    requests_last_hour: int | None  # this process's own count, without a monitor
    alerts: list[Alert]

    @property
    def state(self) -> str:
        return worst({alert.severity.value for alert in self.alerts})


def worst(severities: set[str] | dict[str, int]) -> str:
    """The worst severity among open alerts' (critical, warning, info); ok without one."""
    return next((level for level in ("critical", "warning", "info") if level in severities), "ok")


def healths(platform: Platform, listed: list[Endpoint]) -> list[Health]:
    """Each endpoint's health, in a fixed number of reads whatever their number: the
    monitors, every monitor's newest window, the open alerts."""
    if not listed:
        return []
    monitored = {monitor.endpoint for monitor in platform.monitoring.list_monitors()}
    newest = {
        name: [(v.metric, v.value, v.window_start, v.window_end) for v in values]
        for name, values in platform.monitoring.newest_windows(SHOWN).items()
    }
    firing: dict[str, list[Alert]] = {endpoint.name: [] for endpoint in listed}
    for alert in platform.alerts.list_alerts(state="firing", limit=OPEN_ALERTS):
        firing.setdefault(alert.endpoint, []).append(alert)
    return [
        _health(
            platform,
            endpoint,
            endpoint.name in monitored,
            newest.get(endpoint.name, []),
            firing[endpoint.name],
        )
        for endpoint in listed
    ]


def health_of(platform: Platform, endpoint: Endpoint) -> Health:
    """One endpoint's health."""
    try:
        values = platform.monitoring.values(endpoint.name, limit=1)
    except NotFound:
        monitored, newest = False, []
    else:
        monitored = True
        newest = [
            (v.metric, v.value, v.window_start.timestamp(), v.window_end.timestamp())
            for v in values
        ]
    firing = platform.alerts.list_alerts(endpoint=endpoint.name, state="firing")
    return _health(platform, endpoint, monitored, newest, firing)


def _health(
    platform: Platform,
    endpoint: Endpoint,
    monitored: bool,
    newest: list[tuple[str, float | None, float, float]],  # (metric, value, start, end)
    firing: list[Alert],
) -> Health:
    figures = {metric: value for metric, value, _, _ in newest if metric in SHOWN}
    window = None
    if newest:
        _, _, start, end = newest[0]
        window = f"{_utc(start):%Y-%m-%d %H:%M} → {_utc(end):%H:%M} UTC"
    requests = None
    if not monitored:
        now = time.time()
        counted = platform.counters.window(endpoint.name, now - HOUR_S, now)
        requests = None if counted is None else counted[0]
    return Health(endpoint, monitored, window, figures, requests, firing)


def _utc(epoch: float) -> datetime:
    return datetime.fromtimestamp(epoch, UTC)
