"""Alerts fire after N counted windows, once, and resolve: on SQLite and PostgreSQL."""

from __future__ import annotations

import threading
from dataclasses import dataclass, field
from typing import Any

import pytest
import yaml

from opsloop.domain.alerts import (
    Alert,
    AlertState,
    NotifierSpec,
    Severity,
    parse_notifiers,
    parse_rules,
)
from opsloop.domain.entities import Actor, ActorKind
from opsloop.domain.errors import Conflict, InvalidInput, NotFound
from opsloop.services.alerts import AlertService
from opsloop.services.platform import Platform
from opsloop.store.repos import endpoints
from opsloop.store.tables import monitor_values

from .test_deployment_service import DEPLOYER, approved, ref

HOUR = 3600.0
ENDPOINT = "moderation"


@dataclass
class Pipelines:
    """Stands in for ``PipelineService.start``: records each call, or raises ``error``."""

    calls: list[tuple[str, dict[str, Any]]] = field(default_factory=list)
    error: Exception | None = None

    def start(self, name: str, **options: Any) -> Any:
        self.calls.append((name, options))
        if self.error is not None:
            raise self.error
        return Run(id=f"run-{len(self.calls)}", trigger_detail=options.get("detail") or {})


@dataclass
class Run:
    id: str
    trigger_detail: dict[str, Any]


@dataclass
class World:
    """An endpoint with two deployments, its monitor values, and the alert service."""

    platform: Platform
    service: AlertService
    pipelines: Pipelines
    versions: list[int]

    def write(self, metric: str, window: int, value: float | None) -> None:
        """The value of ``metric`` in window number ``window`` (hour-long windows)."""
        self.write_at(metric, window * HOUR, value)

    def write_at(self, metric: str, end: float, value: float | None) -> None:
        with self.platform.db.begin() as conn:
            conn.execute(
                monitor_values.insert().values(
                    endpoint_id=endpoints.get_id(conn, ENDPOINT),
                    metric=metric,
                    window_start=end - HOUR,
                    window_end=end,
                    value=value,
                    detail=None,
                    computed_at=end,
                )
            )

    def evaluate(
        self,
        rules: str,
        notifiers: list[NotifierSpec] | None = None,
        window: int = 0,
        now: float | None = None,
        service: AlertService | None = None,
    ) -> list[Alert]:
        """Judge the YAML ``rules`` a minute after window ``window`` ended (or at ``now``)."""
        moment = window * HOUR + 60 if now is None else now
        return (service or self.service).evaluate(
            ENDPOINT, parse_rules(yaml.safe_load(rules)), notifiers or [], moment
        )

    def kinds(self) -> list[str]:
        found = self.platform.events.query(subject=f"endpoint:{ENDPOINT}")
        return [event.kind for event in found if not event.kind.startswith("endpoint.created")]


def make_world(platform: Platform) -> World:
    versions = [approved(platform, ENDPOINT), approved(platform, ENDPOINT)]
    for version in versions:
        platform.deployments.deploy(ref(version), ENDPOINT, DEPLOYER)
    pipelines = Pipelines()
    service = AlertService(platform.db, platform.deployments, start_pipeline=pipelines.start)
    return World(platform, service, pipelines, [v.version for v in versions])


@pytest.fixture
def world(platform: Platform) -> World:
    return make_world(platform)


DRIFT_FOR_2 = '[{name: drift, when: "drift.share_drifted > 0.3", for: 2}]'


def test_fires_after_exactly_n_windows_and_once_while_the_value_stays_bad(world: World) -> None:
    world.write("drift.share_drifted", 1, 0.5)
    assert world.evaluate(DRIFT_FOR_2, window=1) == []  # one window of the two
    world.write("drift.share_drifted", 2, 0.4)
    (fired,) = world.evaluate(DRIFT_FOR_2, window=2)
    assert (fired.rule, fired.state, fired.endpoint, fired.project) == (
        "drift",
        AlertState.FIRING,
        ENDPOINT,
        "mod",
    )
    assert (fired.metric, fired.value, fired.threshold) == ("drift.share_drifted", 0.4, 0.3)
    assert fired.window_end.timestamp() == 2 * HOUR
    assert fired.condition == "drift.share_drifted > 0.3 for 2 windows"
    assert world.evaluate(DRIFT_FOR_2, window=2) == []  # the same windows again
    world.write("drift.share_drifted", 3, 0.9)
    assert world.evaluate(DRIFT_FOR_2, window=3) == []  # still bad: no second alert
    assert [a.id for a in world.service.list_alerts(ENDPOINT)] == [fired.id]
    assert world.kinds().count("alert.fired") == 1


def test_resolves_on_the_first_good_window_then_needs_n_new_bad_ones(world: World) -> None:
    for window, value in ((1, 0.5), (2, 0.5)):
        world.write("drift.share_drifted", window, value)
    (fired,) = world.evaluate(DRIFT_FOR_2, window=2)
    world.write("drift.share_drifted", 3, 0.1)
    (resolved,) = world.evaluate(DRIFT_FOR_2, window=3)
    assert (resolved.id, resolved.state) == (fired.id, AlertState.RESOLVED)
    assert resolved.resolved_by == f"monitor:{ENDPOINT}"
    assert "drift.share_drifted = 0.1 in the window ending 1970-01-01 03:00:00 UTC" in (
        resolved.resolution
    )
    world.write("drift.share_drifted", 4, 0.6)
    assert world.evaluate(DRIFT_FOR_2, window=4) == []
    world.write("drift.share_drifted", 5, 0.6)
    (again,) = world.evaluate(DRIFT_FOR_2, window=5)
    assert again.id != fired.id and again.state is AlertState.FIRING
    assert world.kinds() == [
        "endpoint.deployed",
        "endpoint.deployed",
        "alert.fired",
        "alert.resolved",
        "alert.fired",
    ]


def test_uncertain_and_missing_windows_neither_count_nor_resolve(world: World) -> None:
    rules = '[{name: accuracy, when: "performance.accuracy < 0.8", for: 2}]'
    world.write("performance.accuracy", 1, 0.7)
    world.write("performance.uncertain", 1, 0.0)
    world.write("performance.accuracy", 2, 0.5)
    world.write("performance.uncertain", 2, 1.0)  # too few labels: not trusted
    world.write("performance.accuracy", 3, None)  # no labels at all
    assert world.evaluate(rules, window=3) == []
    world.write("performance.accuracy", 4, 0.75)
    (fired,) = world.evaluate(rules, window=4)  # windows 1 and 4 are the two counted
    assert (fired.value, fired.window_end.timestamp()) == (0.75, 4 * HOUR)
    world.write("performance.accuracy", 5, 0.95)
    world.write("performance.uncertain", 5, 1.0)
    world.write("performance.accuracy", 6, float("nan"))
    assert world.evaluate(rules, window=6) == []  # an uncertain good window does not resolve
    world.write("performance.accuracy", 7, 0.9)
    world.write("performance.uncertain", 7, 0.0)
    (resolved,) = world.evaluate(rules, window=7)
    assert resolved.id == fired.id and resolved.state is AlertState.RESOLVED


def test_an_uncertain_flag_does_not_silence_other_metrics(world: World) -> None:
    rules = "[{name: coverage, when: performance.label_coverage < 0.1}]"
    world.write("performance.label_coverage", 1, 0.02)
    world.write("performance.uncertain", 1, 1.0)
    (fired,) = world.evaluate(rules, window=1)
    assert fired.rule == "coverage"


def test_each_rule_of_an_endpoint_has_its_own_alert(world: World) -> None:
    rules = (
        '[{name: drift, when: "drift.share_drifted > 0.3"},'
        ' {name: high-drift, when: "drift.share_drifted > 0.6", severity: critical}]'
    )
    world.write("drift.share_drifted", 1, 0.5)
    assert [a.rule for a in world.evaluate(rules, window=1)] == ["drift"]
    world.write("drift.share_drifted", 2, 0.7)
    (critical,) = world.evaluate(rules, window=2)
    assert (critical.rule, critical.severity.value) == ("high-drift", "critical")
    assert sorted(world.service.firing_counts()) == [
        (ENDPOINT, Severity.CRITICAL, 1),
        (ENDPOINT, Severity.WARNING, 1),
    ]


def test_an_alert_whose_rule_is_gone_resolves(world: World) -> None:
    world.write("drift.share_drifted", 1, 0.5)
    (fired,) = world.evaluate('[{name: drift, when: "drift.share_drifted > 0.3"}]', window=1)
    (resolved,) = world.evaluate("[]", window=2)
    assert resolved.id == fired.id
    assert resolved.resolution == "its rule is no longer in the monitor"


def test_resolving_by_hand(world: World) -> None:
    rules = '[{name: drift, when: "drift.share_drifted > 0.3"}]'
    world.write("drift.share_drifted", 1, 0.5)
    (fired,) = world.evaluate(rules, window=1)
    person = Actor(name="dana")
    resolved = world.service.resolve(fired.id, person, "  known: a marketing campaign  ")
    assert (resolved.state, resolved.resolved_by, resolved.resolution) == (
        AlertState.RESOLVED,
        "dana",
        "known: a marketing campaign",
    )
    event = world.platform.events.query(kind="alert.resolved")[0]
    assert (event.actor, event.actor_kind, event.data["alert"]) == ("dana", ActorKind.USER, 1)
    with pytest.raises(Conflict):
        world.service.resolve(fired.id, person, "again")
    # windows that ended before the resolution are judged: they do not fire it again...
    world.write("drift.share_drifted", 2, 0.5)
    assert world.evaluate(rules, window=2) == []
    # ...a bad window ending after it does
    assert resolved.resolved_at is not None
    later = resolved.resolved_at.timestamp() + HOUR
    world.write_at("drift.share_drifted", later, 0.5)
    (refired,) = world.evaluate(rules, now=later + 60)
    assert refired.id != fired.id


def test_reading_alerts(world: World) -> None:
    rules = '[{name: drift, when: "drift.share_drifted > 0.3"}]'
    world.write("drift.share_drifted", 1, 0.5)
    (first,) = world.evaluate(rules, window=1)
    world.write("drift.share_drifted", 2, 0.1)
    world.evaluate(rules, window=2)
    world.write("drift.share_drifted", 3, 0.5)
    (second,) = world.evaluate(rules, window=3)
    service = world.service
    assert [a.id for a in service.list_alerts()] == [second.id, first.id]
    assert [a.id for a in service.list_alerts(ENDPOINT, "firing")] == [second.id]
    assert [a.id for a in service.list_alerts(state="resolved")] == [first.id]
    assert [a.id for a in service.list_alerts(state="all", limit=1)] == [second.id]
    assert service.get(first.id).state is AlertState.RESOLVED
    with pytest.raises(NotFound):
        service.get(999)
    with pytest.raises(NotFound):
        service.list_alerts("no-such-endpoint")
    with pytest.raises(InvalidInput) as caught:
        service.list_alerts(state="open")
    assert caught.value.field == "state"
    with pytest.raises(InvalidInput):
        service.list_alerts(limit=0)
    with pytest.raises(NotFound):
        service.evaluate("no-such-endpoint", [], [], 0.0)


def test_two_evaluators_at_once_fire_one_alert(world: World) -> None:
    world.write("drift.share_drifted", 1, 0.5)
    rules = parse_rules([{"name": "drift", "when": "drift.share_drifted > 0.3"}])
    notifiers = parse_notifiers(["log"])
    start = threading.Barrier(4)
    fired: list[Alert] = []

    def evaluate() -> None:
        start.wait()
        fired.extend(world.service.evaluate(ENDPOINT, rules, notifiers, HOUR))

    threads = [threading.Thread(target=evaluate) for _ in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert len(fired) == 1
    assert len(world.service.list_alerts()) == 1
