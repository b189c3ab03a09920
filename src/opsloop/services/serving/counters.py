"""Requests, errors and latency per endpoint, counted in this process as they are answered.

Two views of the same counts: running totals since the process started for Prometheus
(``totals``; predict and feedback calls apart), and, for predict calls, per-second requests
and errors over the last ``horizon_s`` (a day by default) for the monitor's windows
(``window``).

Recording is on the serving hot path, so it takes no lock and touches plain Python numbers:
the current second accumulates in attributes and moves into fixed-size arrays when the next
second begins. The data plane's handlers run on the event loop's thread, the only writer;
a reader on another thread (the monitor, a scrape) may see a second's counts a moment late.
Memory is bounded: ``horizon_s`` slots of 16 bytes per endpoint (1.4 MB a day).
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
class Totals:
    """Everything one endpoint and route answered since this process began counting."""

    endpoint: str
    route: Route
    statuses: dict[int, int]
    latency_buckets: list[int]  # per bucket of LATENCY_BOUNDS, then above the last bound
    latency_sum_s: float
    rows: int  # predictions answered (each one logged before its answer was sent)


class _Series:
    """One endpoint and route: the second being counted, the ring of past seconds (kept for
    predict calls only: ``size`` 0 keeps none), totals."""

    __slots__ = (
        "_errors",
        "_requests",
        "_stamps",
        "buckets",
        "errors",
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
        self.requests = self.errors = self.rows = 0
        self.latency = 0.0
        self._stamps = array("q", [-1]) * size
        self._requests = array("i", [0]) * size
        self._errors = array("i", [0]) * size
        self.statuses: dict[int, int] = {}  # every status but 200, since counting began
        self.buckets = [0] * (len(LATENCY_BOUNDS) + 1)
        self.total_requests = 0  # before the second being counted
        self.total_latency = 0.0

    def roll(self, now: float) -> None:
        """Move the finished second into the ring and start counting the one ``now`` is in."""
        if self.requests:
            if self.size:
                slot = self.second % self.size
                self._requests[slot] = self.requests
                self._errors[slot] = self.errors
                self._stamps[slot] = self.second  # last: a reader trusts the slot from here on
            self.total_requests += self.requests
            self.total_latency += self.latency
        self.second = int(now)
        self.until = self.second + 1
        self.requests = self.errors = 0
        self.latency = 0.0

    def count(self, now: float, status: int, latency_s: float, rows: int) -> None:
        if now >= self.until:
            self.roll(now)
        self.requests += 1
        self.latency += latency_s
        self.rows += rows
        self.buckets[bisect_left(LATENCY_BOUNDS, latency_s)] += 1
        if status != 200:
            self.statuses[status] = self.statuses.get(status, 0) + 1
            if status >= 400:
                self.errors += 1

    def window(self, first: int, stop: int) -> tuple[int, int]:
        requests = errors = 0
        current = self.second
        for second in range(first, stop):
            if second == current:
                requests += self.requests
                errors += self.errors
                continue
            slot = second % self.size
            if self._stamps[slot] == second:
                requests += self._requests[slot]
                errors += self._errors[slot]
        return requests, errors

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

    def record(
        self,
        endpoint: str,
        status: int,
        latency_s: float,
        rows: int = 0,
        *,
        route: Route = "predict",
    ) -> None:
        """Count one answered call (``rows``: the predictions it returned)."""
        kept = self._predict if route == "predict" else self._feedback
        series = kept.get(endpoint)
        if series is None:
            series = kept[endpoint] = _Series(self.horizon_s if route == "predict" else 0)
        series.count(self._clock(), status, latency_s, rows)

    def knows(self, endpoint: str) -> bool:
        """Whether a predict call to ``endpoint`` was counted here."""
        return endpoint in self._predict

    def window(self, endpoint: str, start: float, end: float) -> tuple[int, int] | None:
        """``(requests, errors)`` of the endpoint's predict calls in ``[start, end)`` (by whole
        seconds); errors are answers with status 400 or above. None when this process has no
        record of them: the endpoint got no call here, the window ended before counting began,
        or it starts earlier than the ``horizon_s`` kept."""
        series = self._predict.get(endpoint)
        if series is None or end <= self.since or start < self._clock() - self.horizon_s:
            return None
        return series.window(math.ceil(start), math.ceil(end))

    def totals(self) -> list[Totals]:
        """Running totals of every endpoint and route, for a scrape."""
        found: list[Totals] = []
        for route, by_endpoint in (("predict", self._predict), ("feedback", self._feedback)):
            for endpoint, series in sorted(by_endpoint.items()):
                found.append(series.totals(endpoint, route))  # type: ignore[arg-type]
        return found
