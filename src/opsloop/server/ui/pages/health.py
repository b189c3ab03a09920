"""An endpoint's health in a few figures: traffic, latency and accuracy from its monitor's
newest window (or this process's counters when it has no monitor), and its open alerts."""

from __future__ import annotations

import time
from dataclasses import dataclass

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
        """The worst open alert's severity (critical, warning, info); ok without one."""
        severities = {alert.severity.value for alert in self.alerts}
        for level in ("critical", "warning", "info"):
            if level in severities:
                return level
        return "ok"


def healths(platform: Platform, listed: list[Endpoint]) -> list[Health]:
    """Each endpoint's health, its open alerts read once for all of them."""
    firing: dict[str, list[Alert]] = {endpoint.name: [] for endpoint in listed}
    if listed:
        for alert in platform.alerts.list_alerts(state="firing", limit=OPEN_ALERTS):
            firing.setdefault(alert.endpoint, []).append(alert)
    return [health_of(platform, endpoint, firing[endpoint.name]) for endpoint in listed]


def health_of(platform: Platform, endpoint: Endpoint, firing: list[Alert] | None = None) -> Health:
    """``endpoint``'s health; its open alerts are read here unless ``firing`` gives them."""
    figures: dict[str, float | None] = {}
    window = None
    monitored = True
    try:
        newest = platform.monitoring.values(endpoint.name, limit=1)
    except NotFound:
        monitored, newest = False, []
    for value in newest:
        if value.metric in SHOWN:
            figures[value.metric] = value.value
        window = f"{value.window_start:%Y-%m-%d %H:%M} → {value.window_end:%H:%M} UTC"
    requests = None
    if not monitored:
        now = time.time()
        counted = platform.counters.window(endpoint.name, now - HOUR_S, now)
        requests = None if counted is None else counted[0]
    if firing is None:
        firing = platform.alerts.list_alerts(endpoint=endpoint.name, state="firing")
    return Health(endpoint, monitored, window, figures, requests, firing)
