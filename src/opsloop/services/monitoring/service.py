"""Monitors: configure one per endpoint, run it over the closed windows of the prediction log,
keep every value as a time series, and let the alert rules look at them.

A run computes every window that has closed since the last one it computed (the first run
starts at the endpoint's first logged prediction), at most ``MAX_WINDOWS`` of them: the most
recent. Running a window again replaces all of its values. The server's scheduler calls
``run_due``; ``opsloop monitor run`` calls ``run``.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable, Sequence
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any, Protocol

from opsloop.domain.deployments import Endpoint
from opsloop.domain.entities import Actor, ActorKind
from opsloop.domain.errors import InvalidInput, NotFound
from opsloop.domain.monitoring import (
    Monitor,
    MonitorConfig,
    MonitorValue,
    WindowResult,
    key_error,
)
from opsloop.domain.names import check_name
from opsloop.services.datasets import DatasetService
from opsloop.services.deployments import DeploymentService, subject_of
from opsloop.services.feedback import FEEDBACK_EVENT
from opsloop.services.monitoring.history import MonitorHistory, read_history
from opsloop.services.registry import RegistryService
from opsloop.store.database import Database, retry_races
from opsloop.store.repos import endpoints, events, monitors
from opsloop.store.repos._time import epoch_or_none

if TYPE_CHECKING:
    from opsloop.services.drift import DriftThresholds
    from opsloop.services.monitoring.compute import Computed
    from opsloop.services.monitoring.resolve import Resolver
    from opsloop.services.monitoring.window import Traffic, Window
    from opsloop.store.prediction_log import PredictionLog

log = logging.getLogger(__name__)
MONITOR_ACTOR = Actor(name="monitor", kind=ActorKind.MONITOR)
MAX_SOURCE = 100_000
MAX_VALUES = 100_000
MAX_METRIC = 250
RELABEL_EVERY_S = 300.0  # late labels are taken in at least this often (and once per window)


class AlertEvaluator(Protocol):
    """What the monitor asks of the alerts service once a pass is stored."""

    def evaluate(
        self, endpoint: str, rules: list[Any], notifiers: list[Any], now: float
    ) -> list[Any]: ...


class RequestCounts(Protocol):
    """The serving process's request and error counts per endpoint and time span."""

    def window(self, endpoint: str, start: float, end: float) -> tuple[int, int] | None: ...


class MonitorService:
    def __init__(
        self,
        db: Database,
        deployments: DeploymentService,
        registry: RegistryService,
        datasets: DatasetService,
        log: PredictionLog,
        *,
        alerts: AlertEvaluator | None = None,
        counters: RequestCounts | None = None,
        clock: Callable[[], float] = time.time,
    ) -> None:
        self.db = db
        self.deployments = deployments
        self.registry = registry
        self.datasets = datasets
        self.log = log
        self.alerts = alerts
        self.counters = counters
        self.clock = clock
        self._resolver: Resolver | None = None
        # Monitors whose first run found nothing logged: (config time, windows closed then).
        self._idle: dict[str, tuple[datetime, int]] = {}
        # When each monitor last computed windows again for late labels (epoch seconds).
        self._relabelled: dict[str, float] = {}
        self._idle_lock = threading.Lock()

    @property
    def resolver(self) -> Resolver:
        """Made on the first run: it brings NumPy and Arrow, which opening opsloop should not."""
        if self._resolver is None:
            from opsloop.services.monitoring.resolve import Resolver

            self._resolver = Resolver(self.db, self.registry, self.datasets, self.log)
        return self._resolver

    # -- the policy ------------------------------------------------------------------------

    def configure(self, endpoint: str, config: str, actor: Actor) -> Monitor:
        """Set (or replace) ``endpoint``'s monitor from YAML ``config``; its progress stays."""
        check_name(endpoint, "endpoint")
        if isinstance(config, str) and len(config) > MAX_SOURCE:
            raise InvalidInput(f"monitor is longer than {MAX_SOURCE} characters", field="monitor")
        parsed = MonitorConfig.parse(config)
        self._check_drift_policy(parsed, config)
        for key, ref in (("reference", parsed.reference), ("calibration", parsed.calibration)):
            if ref is None:
                continue
            try:
                self.resolver.dataset(ref)
            except NotFound as exc:
                raise key_error(config, (key,), exc.headline) from None
        state = self.deployments.get(endpoint)

        def write() -> Monitor:
            with self.db.begin() as conn:
                endpoint_id = endpoints.get_id(conn, endpoint)
                changed_at = self.clock()
                created = monitors.save(conn, endpoint_id, parsed, config, changed_at, actor.name)
                events.append(
                    conn,
                    kind="monitor.configured",
                    subject=subject_of(endpoint),
                    project=state.project,
                    actor=actor.name,
                    actor_kind=actor.kind,
                    time=changed_at,
                    data={
                        "created": created,
                        "window": parsed.window,
                        "reference": parsed.reference,
                        "baseline": None
                        if parsed.baseline is None
                        else parsed.baseline.model_dump(mode="json"),
                        "features": parsed.features,
                        "alerts": len(parsed.alerts),
                    },
                )
                found = monitors.get(conn, endpoint_id)
                assert found is not None
                return found

        return retry_races(write, f"configuring the monitor of {endpoint}")

    def get(self, endpoint: str) -> Monitor:
        with self.db.read() as conn:
            return self._monitor(conn, check_name(endpoint, "endpoint"))[1]

    def values(
        self,
        endpoint: str,
        *,
        metric: str | None = None,
        prefix: str | None = None,
        since: datetime | float | None = None,
        limit: int | None = None,
    ) -> list[MonitorValue]:
        """Stored values, oldest window first: of one ``metric`` or those starting with
        ``prefix``, of windows ending after ``since``, of the last ``limit`` windows."""
        for name, text in (("metric", metric), ("prefix", prefix)):
            if text is not None and (not isinstance(text, str) or not 0 < len(text) <= MAX_METRIC):
                raise InvalidInput(f"{name} must be 1 to {MAX_METRIC} characters", field=name)
        if limit is not None and (
            isinstance(limit, bool) or not isinstance(limit, int) or limit < 1
        ):
            raise InvalidInput("limit must be a whole number of windows from 1", field="limit")
        with self.db.read() as conn:
            endpoint_id, _ = self._monitor(conn, check_name(endpoint, "endpoint"))
            return monitors.query(
                conn,
                endpoint_id,
                metric=metric,
                prefix=prefix,
                since=epoch_or_none(since),
                windows=limit,
                limit=MAX_VALUES,
            )

    # -- what the web UI reads ---------------------------------------------------------------

    def history(
        self,
        endpoint: str,
        metrics: Sequence[str],
        since: float,
        max_windows: int,
        max_points: int,
    ) -> MonitorHistory:
        """What a monitor's page draws (``history.read_history``), of windows ending after
        ``since``: at most the newest ``max_windows``, drift in ``max_points`` groups."""
        with self.db.read() as conn:
            endpoint_id, monitor = self._monitor(conn, check_name(endpoint, "endpoint"))
            return read_history(conn, endpoint_id, monitor, metrics, since, max_windows, max_points)

    def newest_windows(self, metrics: Sequence[str]) -> dict[str, list[monitors.Newest]]:
        """Every monitor's values of ``metrics`` in its newest computed window, by endpoint
        (a monitor that has computed none is left out)."""
        with self.db.read() as conn:
            found: dict[str, list[monitors.Newest]] = {}
            for value in monitors.newest_windows(conn, metrics):
                found.setdefault(value.endpoint, []).append(value)
            return found

    def list_monitors(self) -> list[Monitor]:
        with self.db.read() as conn:
            return monitors.list_all(conn)

    # -- running ---------------------------------------------------------------------------

    def run(
        self,
        endpoint: str,
        *,
        actor: Actor,
        until: datetime | float | None = None,
        since: datetime | float | None = None,
        timings: dict[str, float] | None = None,
    ) -> list[WindowResult]:
        """Compute every window closed by ``until`` (default and at most: now) that follows
        the last one computed, or, with ``since``, every window from the one holding it (to
        take late labels in). ``timings``, if given, receives seconds per part."""
        from opsloop.services.monitoring import window as windows
        from opsloop.services.monitoring.compute import Pass, Timer
        from opsloop.services.monitoring.served import seen_ranking

        check_name(endpoint, "endpoint")
        with self.db.read() as conn:
            endpoint_id, monitor = self._monitor(conn, endpoint)
            state = endpoints.get(conn, endpoint)
            labels = _new_labels(conn, endpoint, monitor)
        config = monitor.config
        length = config.window_s
        now = self.clock()
        until_s = epoch_or_none(until)
        stop = windows.closed_before(now if until_s is None else min(until_s, now), length)
        first: int | None = None
        since_s = epoch_or_none(since)
        if since_s is not None:
            first = windows.index_of(since_s, length)
        elif monitor.last_window_end is not None:
            first = windows.first_after(monitor.last_window_end.timestamp(), length)
            if labels is not None and monitor.labels_seen_event is not None:
                late = self._late_labels(endpoint, labels[1], monitor, length)
                if late is not None:
                    first = min(first, windows.index_of(late, length))
        low = (
            stop - windows.MAX_WINDOWS if first is None else max(first, stop - windows.MAX_WINDOWS)
        )
        # An explicit ``since`` may start after windows the new labels touch: leave them seen
        # as they were, for the next ordinary run.
        # A monitor that has seen none yet starts tracking from here (0: before any event).
        seen = None
        if since_s is None:
            seen = labels[0] if labels else (0 if monitor.labels_seen_event is None else None)
        if low >= stop:
            if seen is not None:
                self._see_labels(endpoint_id, seen)
            return []
        resolver = self.resolver
        served = resolver.served(state, state.plan.primary, config.positive, config.task)
        try:
            canary = resolver.served(state, state.plan.canary, config.positive, config.task)
        except InvalidInput:  # the canary's classes lack the primary's positive class
            canary = resolver.served(state, state.plan.canary, None, config.task)
        counters = self.counters
        timer = Timer(timings)
        results: list[WindowResult] = []
        # A day of log at a time: a monitor catching up on weeks never holds them all.
        for chunk_start, chunk_stop in windows.chunks(low, stop, length):
            with timer.part("read"):
                traffic = windows.read_traffic(
                    self.log, endpoint, chunk_start * length, chunk_stop * length
                )
            if first is None:  # the first run starts at the first logged prediction
                first = self._first_window(traffic, length)
                if first is None:
                    continue
            served = seen_ranking(served, config.task, traffic["primary"].table)
            canary = seen_ranking(canary, config.task, traffic["canary"].table)
            due = windows.span(max(first, chunk_start), chunk_stop, length)
            features = resolver.features(config, served, traffic["primary"])
            with timer.part("reference"):
                reference = resolver.reference(endpoint, config, served, features)
            computed = Pass(
                endpoint=endpoint,
                config=config,
                windows=due,
                traffic=traffic,
                served=served,
                canary_served=canary,
                features=features,
                reference=reference,
                thresholds=_thresholds(config),
                counted=None
                if counters is None
                else lambda start, end: counters.window(endpoint, start, end),
                timer=timer,
            ).compute()
            with timer.part("store"):
                self._store(endpoint_id, state, due, computed, actor, sum(timer.seconds.values()))
            results.extend(item.result for item in computed)
        if seen is not None:
            self._see_labels(endpoint_id, seen)
        if first is None:
            with self._idle_lock:
                self._idle[endpoint] = (monitor.updated_at, stop)
            return []
        if self.alerts is not None:
            from opsloop.domain.alerts import parse_notifiers, parse_rules

            self.alerts.evaluate(
                endpoint, parse_rules(config.alerts), parse_notifiers(config.notify), self.clock()
            )
        return results

    def run_due(self, now: float) -> dict[str, list[WindowResult]]:
        """Run every monitor with a window closed by ``now`` that it has not computed; what
        each computed, by endpoint. A monitor that fails is logged and the others still run."""
        from opsloop.services.monitoring import window as windows

        with self.db.read() as conn:
            configured = monitors.list_all(conn)
        done: dict[str, list[WindowResult]] = {}
        for monitor in configured:
            length = monitor.config.window_s
            stop = windows.closed_before(now, length)
            if monitor.last_window_end is not None:
                caught_up = windows.first_after(monitor.last_window_end.timestamp(), length) >= stop
                if caught_up and not self._relabel_due(monitor, now):
                    continue
            else:
                with self._idle_lock:
                    if self._idle.get(monitor.endpoint) == (monitor.updated_at, stop):
                        continue  # nothing was logged when this window closed
            try:
                computed = self.run(monitor.endpoint, actor=MONITOR_ACTOR, until=now)
            except Exception:
                log.exception("monitor of endpoint %s failed", monitor.endpoint)
                continue
            if computed:
                done[monitor.endpoint] = computed
        return done

    # -- late labels -----------------------------------------------------------------------

    def _relabel_due(self, monitor: Monitor, now: float) -> bool:
        """Whether labels came since the monitor last took them in, and it is time to take
        them in: at most once per window (or per ``RELABEL_EVERY_S``, if that is sooner),
        since a busy endpoint gets labels all the time and each recompute reads its windows."""
        every = min(monitor.config.window_s, RELABEL_EVERY_S)
        with self._idle_lock:
            if now - self._relabelled.get(monitor.endpoint, float("-inf")) < every:
                return False
        with self.db.read() as conn:
            if _new_labels(conn, monitor.endpoint, monitor) is None:
                return False
        with self._idle_lock:
            self._relabelled[monitor.endpoint] = now
        return True

    def _late_labels(
        self, endpoint: str, received_after: float, monitor: Monitor, length: float
    ) -> float | None:
        """The earliest prediction in a computed window labelled at or after
        ``received_after`` (epoch seconds); None when the new labels are all for windows
        not computed yet."""
        from opsloop.services.monitoring.window import MAX_WINDOWS

        assert monitor.last_window_end is not None
        last_end = monitor.last_window_end.timestamp()
        oldest = datetime.fromtimestamp(max(0.0, last_end - MAX_WINDOWS * length), UTC)
        # A second early: the log keeps microseconds, the event a float; the cost of an
        # earlier label counted again is only a window computed again.
        received = datetime.fromtimestamp(received_after - 1.0, UTC)
        found = self.log.labelled_since(endpoint, received, oldest)
        if found is None or found.timestamp() >= last_end:
            return None
        return found.timestamp()

    def _see_labels(self, endpoint_id: int, event_id: int) -> None:
        with self.db.begin() as conn:
            monitors.see_labels(conn, endpoint_id, event_id)

    # -- the parts of a run ----------------------------------------------------------------

    def _monitor(self, conn: Any, endpoint: str) -> tuple[int, Monitor]:
        endpoint_id = endpoints.get_id(conn, endpoint)
        found = monitors.get(conn, endpoint_id)
        if found is None:
            raise NotFound(
                f"endpoint {endpoint!r} has no monitor (set one: opsloop monitor set)",
                field="monitor",
            )
        return endpoint_id, found

    @staticmethod
    def _first_window(traffic: dict[str, Traffic], length: float) -> int | None:
        from opsloop.services.monitoring.window import index_of

        starts = [found.times[0] for found in traffic.values() if found.rows]
        return index_of(float(min(starts)), length) if starts else None

    @staticmethod
    def _check_drift_policy(config: MonitorConfig, text: str) -> None:
        """Thresholds and test names the drift statistics know, or an error naming the key."""
        from opsloop.services.drift import DriftThresholds, get_statistic, statistic_names

        try:
            DriftThresholds.from_mapping(config.drift.thresholds)
        except InvalidInput as exc:
            name = (exc.field or "").removeprefix("thresholds.")
            raise key_error(text, ("drift", "thresholds", name), exc.headline) from None
        test = config.drift.test
        if isinstance(test, str) and test not in statistic_names():
            known = ", ".join(statistic_names())
            raise key_error(text, ("drift", "test"), f"unknown drift test {test!r}; known: {known}")
        for kind, name in test.items() if isinstance(test, dict) else ():
            try:
                get_statistic(name, kind)
            except InvalidInput as exc:
                raise key_error(text, ("drift", "test", kind), exc.headline) from None

    def _store(
        self,
        endpoint_id: int,
        state: Endpoint,
        due: list[Window],
        computed: list[Computed],
        actor: Actor,
        seconds: float,
    ) -> None:
        rows = [row for item in computed for row in item.rows]
        ends = [window.end for window in due]

        def write() -> None:
            with self.db.begin() as conn:
                stored_at = self.clock()
                monitors.replace_values(conn, endpoint_id, ends, rows, stored_at)
                monitors.advance(conn, endpoint_id, max(ends))
                events.append(
                    conn,
                    kind="monitor.ran",
                    subject=subject_of(state.name),
                    project=state.project,
                    actor=actor.name,
                    actor_kind=actor.kind,
                    time=stored_at,
                    data={
                        "windows": len(due),
                        "first_window_start": due[0].start,
                        "last_window_end": due[-1].end,
                        "values": len(rows),
                        "seconds": round(seconds, 3),
                    },
                )

        retry_races(write, f"storing the monitor values of {state.name}")


def _new_labels(conn: Any, endpoint: str, monitor: Monitor) -> tuple[int, float] | None:
    """The newest feedback event about ``endpoint`` the monitor has not taken in, and the
    time of the oldest such event; None when there is none."""
    return events.newer(
        conn,
        subject=subject_of(endpoint),
        kind=FEEDBACK_EVENT,
        after_id=monitor.labels_seen_event or 0,
    )


def _thresholds(config: MonitorConfig) -> DriftThresholds | None:
    if not config.drift.thresholds:
        return None
    from opsloop.services.drift import DriftThresholds

    return DriftThresholds.from_mapping(config.drift.thresholds)
