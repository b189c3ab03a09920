"""Requests, errors and latency per endpoint, counted in this process as they are answered.

Two views of the same counts: per-second buckets over the last ``horizon_s`` (a day by
default) for the monitor's windows (``window``), and running totals since the process
started for Prometheus (``totals``). Predict and feedback calls are counted apart.

Recording is on the serving hot path, so it takes no lock and touches plain Python numbers:
the current second accumulates in attributes and moves into fixed-size arrays when the next
second begins. The data plane's handlers run on the event loop's thread, the only writer;
a reader on another thread (the monitor, a scrape) may see a second's counts a moment late.
Memory is bounded: ``horizon_s`` slots of 28 bytes per endpoint and route (2.4 MB a day).
"""

from __future__ import annotations

import math
import time
from array import array
from bisect import bisect_left
from collections.abc import Callable
from dataclasses import dataclass
from typing import Literal

HORIZON_S = 86_400
# Upper bounds of the latency histogram's buckets, in seconds (Prometheus ``le``).
LATENCY_BOUNDS = (0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0)

Route = Literal["predict", "feedback"]
ROUTES: tuple[Route, ...] = ("predict", "feedback")


@dataclass(frozen=True)
class WindowCounts:
    requests: int
    errors_4xx: int
    errors_5xx: int
    latency_sum_s: float

    @property
    def errors(self) -> int:
        return self.errors_4xx + self.errors_5xx


@dataclass(frozen=True)
class Totals:
    """Everything one endpoint and route answered since this process began counting."""

    endpoint: str
    route: Route
    statuses: dict[int, int]
    latency_buckets: list[int]  # per bucket of LATENCY_BOUNDS, then above the last bound
    latency_sum_s: float
    rows: int  # predictions answered (each one logged before its answer was sent)


class _Series:
    """One endpoint and route: the second being counted, the ring of past seconds, totals."""

    __slots__ = (
        "_errors_4xx",
        "_errors_5xx",
        "_latency",
        "_requests",
        "_stamps",
        "buckets",
        "errors_4xx",
        "errors_5xx",
        "latency",
        "requests",
        "rows",
        "second",
        "size",
        "statuses",
        "total_latency",
        "total_requests",
        "until",
    )

    def __init__(self, size: int) -> None:
        self.size = size
        self.second = -1
        self.until = -math.inf  # when the second being counted ends
        self.requests = self.errors_4xx = self.errors_5xx = self.rows = 0
        self.latency = 0.0
        self._stamps = array("q", [-1]) * size
        self._requests = array("i", [0]) * size
        self._errors_4xx = array("i", [0]) * size
        self._errors_5xx = array("i", [0]) * size
        self._latency = array("d", [0.0]) * size
        self.statuses: dict[int, int] = {}  # every status but 200, since counting began
        self.buckets = [0] * (len(LATENCY_BOUNDS) + 1)
        self.total_requests = 0  # before the second being counted
        self.total_latency = 0.0

    def roll(self, now: float) -> None:
        """Move the finished second into the ring and start counting the one ``now`` is in."""
        if self.requests:
            slot = self.second % self.size
            self._requests[slot] = self.requests
            self._errors_4xx[slot] = self.errors_4xx
            self._errors_5xx[slot] = self.errors_5xx
            self._latency[slot] = self.latency
            self._stamps[slot] = self.second  # last: a reader trusts the slot from here on
            self.total_requests += self.requests
            self.total_latency += self.latency
        self.second = int(now)
        self.until = self.second + 1
        self.requests = self.errors_4xx = self.errors_5xx = 0
        self.latency = 0.0

    def failed(self, status: int) -> None:
        statuses = self.statuses
        statuses[status] = statuses.get(status, 0) + 1
        if status >= 500:
            self.errors_5xx += 1
        elif status >= 400:
            self.errors_4xx += 1

    def window(self, first: int, stop: int) -> WindowCounts:
        requests = errors_4xx = errors_5xx = 0
        latency = 0.0
        current = self.second
        for second in range(first, stop):
            if second == current:
                requests += self.requests
                errors_4xx += self.errors_4xx
                errors_5xx += self.errors_5xx
                latency += self.latency
                continue
            slot = second % self.size
            if self._stamps[slot] == second:
                requests += self._requests[slot]
                errors_4xx += self._errors_4xx[slot]
                errors_5xx += self._errors_5xx[slot]
                latency += self._latency[slot]
        return WindowCounts(requests, errors_4xx, errors_5xx, latency)

    def totals(self, endpoint: str, route: Route) -> Totals:
        requests = self.total_requests + self.requests
        statuses = dict(self.statuses)
        ok = requests - sum(statuses.values())
        if ok:
            statuses[200] = ok
        return Totals(
            endpoint=endpoint,
            route=route,
            statuses=dict(sorted(statuses.items())),
            latency_buckets=list(self.buckets),
            latency_sum_s=self.total_latency + self.latency,
            rows=self.rows,
        )


class RequestCounters:
    def __init__(self, horizon_s: int = HORIZON_S, clock: Callable[[], float] = time.time) -> None:
        self.horizon_s = horizon_s
        self._clock = clock
        self.since = clock()
        self._predict: dict[str, _Series] = {}
        self._feedback: dict[str, _Series] = {}

    def record(self, endpoint: str, status: int, latency_s: float, rows: int = 0) -> None:
        """Count one answered predict call (``rows``: the predictions it returned)."""
        series = self._predict.get(endpoint)
        if series is None:
            series = self._predict[endpoint] = _Series(self.horizon_s)
        now = self._clock()
        if now >= series.until:
            series.roll(now)
        series.requests += 1
        series.latency += latency_s
        series.rows += rows
        series.buckets[bisect_left(LATENCY_BOUNDS, latency_s)] += 1
        if status != 200:
            series.failed(status)

    def record_feedback(self, endpoint: str, status: int, latency_s: float) -> None:
        """Count one answered feedback call."""
        series = self._feedback.get(endpoint)
        if series is None:
            series = self._feedback[endpoint] = _Series(self.horizon_s)
        now = self._clock()
        if now >= series.until:
            series.roll(now)
        series.requests += 1
        series.latency += latency_s
        series.buckets[bisect_left(LATENCY_BOUNDS, latency_s)] += 1
        if status != 200:
            series.failed(status)

    def knows(self, endpoint: str) -> bool:
        """Whether a predict call to ``endpoint`` was counted here."""
        return endpoint in self._predict

    def counts(
        self, endpoint: str, start: float, end: float, route: Route = "predict"
    ) -> WindowCounts | None:
        """Calls answered in ``[start, end)`` (by whole seconds); None when this process has
        no record of them: the endpoint got no such call here, the window ended before
        counting began, or it starts earlier than the ``horizon_s`` kept."""
        series = (self._predict if route == "predict" else self._feedback).get(endpoint)
        if series is None or end <= self.since or start < self._clock() - self.horizon_s:
            return None
        return series.window(math.ceil(start), math.ceil(end))

    def window(self, endpoint: str, start: float, end: float) -> tuple[int, int] | None:
        """``(requests, errors)`` of the endpoint's predict calls in ``[start, end)``; errors
        are answers with status 400 or above. None as for ``counts``."""
        found = self.counts(endpoint, start, end)
        return None if found is None else (found.requests, found.errors)

    def totals(self) -> list[Totals]:
        """Running totals of every endpoint and route, for a scrape."""
        found: list[Totals] = []
        for route, by_endpoint in (("predict", self._predict), ("feedback", self._feedback)):
            for endpoint, series in sorted(by_endpoint.items()):
                found.append(series.totals(endpoint, route))  # type: ignore[arg-type]
        return found
