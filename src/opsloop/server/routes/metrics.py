"""``GET /metrics``: Prometheus text exposition, collected when scraped.

Nothing is updated for Prometheus while serving: the request counters are read, and the
store asked for endpoint plans and open alerts, at scrape time. Each scrape gets its own
registry, never prometheus_client's global one, so many apps in one process do not clash.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import TYPE_CHECKING, Any

from fastapi import APIRouter, Response

from opsloop.domain.alerts import Severity
from opsloop.server.deps import Ctx
from opsloop.services.serving.counters import LATENCY_BOUNDS, RequestCounters

if TYPE_CHECKING:
    from opsloop.services.platform import Platform

router = APIRouter(tags=["metrics"])


@router.get("/metrics", response_class=Response, responses={200: {"content": {"text/plain": {}}}})
async def metrics(ctx: Ctx) -> Response:
    """Requests, latency, predictions logged, open alerts and what each endpoint serves."""
    text, media_type = await ctx.call(exposition, ctx.platform.counters, ctx.platform)
    return Response(text, media_type=media_type)


def exposition(counters: RequestCounters, platform: Platform) -> tuple[bytes, str]:
    from prometheus_client import (
        CONTENT_TYPE_LATEST,
        CollectorRegistry,
        PlatformCollector,
        ProcessCollector,
        generate_latest,
    )

    registry = CollectorRegistry(auto_describe=False)
    ProcessCollector(registry=registry)
    PlatformCollector(registry=registry)
    registry.register(OpsloopCollector(counters, platform))
    return generate_latest(registry), CONTENT_TYPE_LATEST


class OpsloopCollector:
    """opsloop's own metrics, read from the counters and the store on each ``collect``."""

    def __init__(self, counters: RequestCounters, platform: Platform) -> None:
        self.counters = counters
        self.platform = platform

    def collect(self) -> Iterator[Any]:
        from prometheus_client.core import (
            CounterMetricFamily,
            GaugeMetricFamily,
            HistogramMetricFamily,
        )

        requests = CounterMetricFamily(
            "opsloop_requests",
            "Predict and feedback calls answered by this process, by status.",
            labels=["endpoint", "route", "status"],
        )
        latency = HistogramMetricFamily(
            "opsloop_request_latency_seconds",
            "Time from a call's arrival to its answer, in this process.",
            labels=["endpoint", "route"],
        )
        logged = CounterMetricFamily(
            "opsloop_predictions_logged",
            "Predictions answered by this process (each logged before its answer was sent).",
            labels=["endpoint"],
        )
        for totals in self.counters.totals():
            for status, count in totals.statuses.items():
                requests.add_metric([totals.endpoint, totals.route, str(status)], count)
            cumulative, buckets = 0, []
            for bound, count in zip(
                [*map(str, LATENCY_BOUNDS), "+Inf"], totals.latency_buckets, strict=True
            ):
                cumulative += count
                buckets.append((bound, cumulative))
            latency.add_metric([totals.endpoint, totals.route], buckets, totals.latency_sum_s)
            if totals.route == "predict":
                logged.add_metric([totals.endpoint], totals.rows)
        yield requests
        yield latency
        yield logged
        yield from self._store_metrics(GaugeMetricFamily)

    def _store_metrics(self, gauge: Any) -> Iterator[Any]:
        endpoints = self.platform.deployments.list_endpoints()
        open_alerts = {
            (endpoint, severity): count
            for endpoint, severity, count in self.platform.alerts.firing_counts()
        }
        firing = gauge(
            "opsloop_alerts_firing",
            "Open alerts per endpoint and severity.",
            labels=["endpoint", "severity"],
        )
        info = gauge(
            "opsloop_endpoint_info",
            "The model versions an endpoint serves, one series per role (value 1).",
            labels=["endpoint", "model", "version", "role"],
        )
        for endpoint in endpoints:
            for severity in Severity:
                count = open_alerts.get((endpoint.name, severity), 0)
                firing.add_metric([endpoint.name, severity.value], count)
            plan = endpoint.plan
            for role, slot in (
                ("primary", plan.primary),
                ("canary", plan.canary),
                ("shadow", plan.shadow),
            ):
                if slot is not None:
                    info.add_metric([endpoint.name, slot.model, str(slot.version), role], 1)
        yield firing
        yield info
