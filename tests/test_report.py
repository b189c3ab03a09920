"""The report's figures checked against a made-up history with known times (the services
run on a clock the test moves), the level rules, the period's bounds, the endpoint filter,
the SVG map, and a bounded number of queries: on SQLite and PostgreSQL."""

from __future__ import annotations

import itertools
import math
import xml.etree.ElementTree as ET
from collections.abc import Iterator
from dataclasses import dataclass
from types import SimpleNamespace
from typing import Any

import pytest
from sqlalchemy import event

from opsloop.domain.entities import Actor, ActorKind
from opsloop.domain.errors import InvalidInput, NotFound
from opsloop.domain.names import ModelRef
from opsloop.domain.report import Level, Report, Stage, level_of
from opsloop.services.datasets import table_to_parquet
from opsloop.services.platform import Platform
from opsloop.store.repos import _time, evaluations, events, models

T = 1_750_000_000.0  # 2025-06-15 15:06:40 UTC: the start of the period
DAY = 86400.0
PERIOD = {"since": T, "until": T + 10 * DAY}
DANA = Actor(name="dana")
RETRAIN = Actor(name="pipeline:retrain", kind=ActorKind.PIPELINE)
MONITOR = Actor(name="monitor:ep", kind=ActorKind.MONITOR)
_tables = itertools.count()


class FakeTime:
    """What ``now()`` in the store reads: a clock the test sets."""

    def __init__(self, moment: float) -> None:
        self.moment = moment

    def time(self) -> float:
        return self.moment


@pytest.fixture
def clock(monkeypatch: pytest.MonkeyPatch) -> FakeTime:
    fake = FakeTime(T)
    monkeypatch.setattr(_time, "time", fake)
    return fake


def append(
    platform: Platform,
    at: float,
    kind: str,
    subject: str,
    actor: Actor,
    project: str | None = "mod",
    **data: Any,
) -> None:
    with platform.db.begin() as conn:
        events.append(
            conn,
            kind=kind,
            subject=subject,
            project=project,
            actor=actor.name,
            actor_kind=actor.kind,
            time=at,
            data=data,
        )


def dataset(platform: Platform, actor: Actor) -> None:
    import pyarrow as pa

    table = pa.table({"x": [1.0, 2.0, float(next(_tables))], "y": [0, 1, 0]})
    sha256, _size = platform.artifacts.put(table_to_parquet(table))
    platform.datasets.create_version("mod", "posts", sha256, actor=actor)


def judge(platform: Platform, version: int, at: float, actor: Actor, seconds: float) -> None:
    """A go verdict for ``ep``, as the evaluation service stores one (its event carrying the
    call's duration)."""
    with platform.db.begin() as conn:
        model_id = models.get_id(conn, "mod", "violation")
        evaluation_id = evaluations.insert(
            conn,
            model_version_id=models.version_id(conn, model_id, version),
            endpoint="ep",
            dataset="mod/posts@1",
            verdict="go",
            gate="rules: []",
            report={},
            created_at=at,
            created_by=actor.name,
        )
        events.append(
            conn,
            kind="model_version.evaluated",
            subject="model:mod/violation",
            project="mod",
            actor=actor.name,
            actor_kind=actor.kind,
            time=at,
            data={
                "version": version,
                "evaluation_id": evaluation_id,
                "endpoint": "ep",
                "verdict": "go",
                "duration_s": seconds,
            },
        )


def train(
    platform: Platform,
    clock: FakeTime,
    actor: Actor,
    start: float,
    registered: float,
    end: float,
    dataset_version: int,
) -> int:
    clock.moment = start
    run = platform.tracking.start_run(project="mod", actor=actor)
    platform.tracking.use_dataset(run.id, "mod", "posts", dataset_version)
    clock.moment = registered
    sha256, _size = platform.artifacts.put(weights(start))
    version = platform.registry.register_version(
        "mod", "violation", flavor="sklearn", sha256=sha256, actor=actor, run_id=run.id
    )
    clock.moment = end
    platform.tracking.end_run(run.id, actor=actor)
    return version.version


def weights(seed: float) -> bytes:
    """A real (tiny) scikit-learn model, so that a server can load what is deployed."""
    from sklearn.linear_model import LogisticRegression

    from opsloop.services.flavors.sklearn import SklearnFlavor

    model = LogisticRegression().fit([[0.0, 0.0], [1.0, 1.0], [2.0, 0.0], [3.0, 1.0]], [0, 0, 1, 1])
    model.trained_for = seed  # one artifact per version
    return SklearnFlavor().save(model)


@dataclass
class Story:
    platform: Platform
    report: Report


def tell(platform: Platform, clock: FakeTime) -> None:
    """Ten days of the loop on endpoint ``ep``, at known times from ``T``:

    dana ships violation@1 by hand (data posts@2 at T, run T+100..450, registered T+400,
    evaluated T+500, deployed T+800); the retrain pipeline, started by an alert, makes posts@3
    (T+1100), trains violation@2 (T+1200..1350, registered T+1300), evaluates it (T+1400),
    canaries it (T+1500) and later promotes it (T+4000); an alert at T+5000 rolls it back
    (T+5005) and resolves at T+8000. Plus events before and after the ten-day period."""
    clock.moment = T - DAY
    dataset(platform, DANA)  # before the period
    clock.moment = T
    dataset(platform, DANA)  # posts@2: the data of violation@1
    train(platform, clock, DANA, T + 100, T + 400, T + 450, dataset_version=2)
    judge(platform, 1, T + 500, DANA, seconds=20.0)
    clock.moment = T + 800
    platform.deployments.deploy(ModelRef("mod", "violation", version=1), "ep", DANA)
    clock.moment = T + 900
    platform.registry.set_alias("mod", "violation", "challenger", 1, DANA)

    append(
        platform,
        T + 1000,
        "pipeline_run.started",
        "pipeline:retrain",
        MONITOR,
        run_id="p1",
        trigger="alert",
        detail={"alert": 7, "endpoint": "ep"},
        params={"endpoint": "ep"},
    )
    clock.moment = T + 1100
    dataset(platform, RETRAIN)  # posts@3
    train(platform, clock, RETRAIN, T + 1200, T + 1300, T + 1350, dataset_version=3)
    judge(platform, 2, T + 1400, RETRAIN, seconds=30.0)
    clock.moment = T + 1500
    platform.deployments.deploy(ModelRef("mod", "violation", version=2), "ep", RETRAIN, canary=10)
    append(platform, T + 1600, "pipeline_run.succeeded", "pipeline:retrain", RETRAIN, run_id="p1")
    append(platform, T + 2000, "feedback.received", "endpoint:ep", DANA, accepted=5, source="user")
    append(
        platform, T + 2100, "feedback.received", "endpoint:ep", DANA, accepted=9, source="system"
    )
    append(platform, T + 3000, "monitor.ran", "endpoint:ep", MONITOR, seconds=2.0)
    append(platform, T + 3500, "monitor.ran", "endpoint:ep", DANA, seconds=1.0)
    clock.moment = T + 4000
    platform.deployments.promote("ep", RETRAIN)
    append(platform, T + 5000, "alert.fired", "endpoint:ep", MONITOR, alert=7, rule="accuracy")
    append(platform, T + 6000, "monitor.ran", "endpoint:ep", MONITOR, seconds=4.0)
    clock.moment = T + 5005
    platform.deployments.rollback("ep", MONITOR, reason="alert 7")
    append(
        platform,
        T + 5005,
        "alert.action",
        "endpoint:ep",
        MONITOR,
        alert=7,
        action="rollback",
        ok=True,
        deployment=4,
    )
    append(platform, T + 8000, "alert.resolved", "endpoint:ep", MONITOR, alert=7)
    append(platform, T + 11 * DAY, "monitor.ran", "endpoint:ep", MONITOR, seconds=9.0)  # after


@pytest.fixture
def story(platform: Platform, clock: FakeTime) -> Story:
    tell(platform, clock)
    return Story(platform, platform.report.build(project="mod", **PERIOD))


def hours(report: Report, stage: Stage, side: str) -> float | None:
    found: float | None = getattr(report.stage(stage).hours, side).hours_per_month
    return found


def per_month(seconds: float, occurrences: int = 1) -> float:
    return occurrences * 3 * seconds / 3600  # a 10-day period: 3 of them in 30 days


def test_each_stage_level_and_counts_come_from_its_actors(story: Story) -> None:
    levels = {row.stage: (row.level, row.by_people, row.by_machines) for row in story.report.stages}
    assert levels == {
        Stage.DATA_COLLECTION: (Level.MANUAL, 2, 2),  # posts@2 + a user feedback; posts@3 + system
        Stage.VALIDATION: (Level.NOT_HANDLED, 0, 0),
        Stage.TRAINING: (Level.MANUAL, 1, 1),
        Stage.EVALUATION: (Level.MANUAL, 1, 1),
        # v1 and the challenger move; v2. The champion moves deploys make are the deploys'.
        Stage.REGISTRY: (Level.MANUAL, 2, 1),
        Stage.DEPLOYMENT: (Level.AUTOMATED, 1, 2),
        Stage.MONITORING: (Level.AUTOMATED, 1, 2),
        Stage.RETRAINING: (Level.AUTOMATED, 0, 1),
        Stage.ROLLBACK: (Level.AUTOMATED, 0, 1),
        Stage.REVIEW: (Level.NOT_HANDLED, 0, 0),
    }
    assert story.report.events == 26  # the period's 26 of the kinds read: none before or after
    assert "1 by alert actions" in story.report.stage(Stage.ROLLBACK).note


def test_hours_per_month_from_measured_durations(story: Story) -> None:
    report = story.report
    assert hours(report, Stage.TRAINING, "people") == pytest.approx(per_month(350))
    assert hours(report, Stage.TRAINING, "machines") == pytest.approx(per_month(150))
    assert hours(report, Stage.EVALUATION, "people") == pytest.approx(per_month(20))
    assert hours(report, Stage.EVALUATION, "machines") == pytest.approx(per_month(30))
    # deploy: verdict (T+500) to deploy (T+800); canary: T+1400 to T+1500; the promotion:
    # the canary's time, T+1500 to T+4000. Machines: 2 occurrences, mean 1300 s.
    assert hours(report, Stage.DEPLOYMENT, "people") == pytest.approx(per_month(300))
    assert hours(report, Stage.DEPLOYMENT, "machines") == pytest.approx(per_month(1300, 2))
    assert hours(report, Stage.MONITORING, "machines") == pytest.approx(per_month(3.0, 2))
    assert hours(report, Stage.RETRAINING, "machines") == pytest.approx(per_month(600))
    assert hours(report, Stage.ROLLBACK, "machines") == pytest.approx(per_month(1005))
    # No duration is recorded for these: "not measured", not zero.
    assert hours(report, Stage.DATA_COLLECTION, "people") is None
    assert hours(report, Stage.REGISTRY, "people") is None
    assert report.stage(Stage.REGISTRY).hours.measures is None
    # Nothing happened: zero hours, which is measured.
    assert hours(report, Stage.VALIDATION, "people") == 0.0
    assert report.next_to_automate is Stage.TRAINING  # people's 0.29 h beat deploying's 0.25 h


def test_lead_time_of_each_version_shipped(story: Story) -> None:
    first, second = story.report.lead_times
    assert (first.model, first.version, first.deployed_as, first.data) == (
        "violation",
        1,
        "deploy",
        "mod/posts@2",
    )
    assert [
        first.data_to_run_s,
        first.run_to_registered_s,
        first.registered_to_evaluated_s,
        first.evaluated_to_deployed_s,
        first.deployed_to_promoted_s,
        first.total_s,
    ] == pytest.approx([100, 300, 100, 300, 0, 800])
    assert (second.version, second.deployed_as, second.data) == (2, "canary", "mod/posts@3")
    assert [second.data_to_run_s, second.deployed_to_promoted_s, second.total_s] == (
        pytest.approx([100, 2500, 2900])
    )
    assert second.promoted_at is not None and second.promoted_at.timestamp() == T + 4000
    summary = story.report.lead_time
    assert summary.total_s is not None
    assert (summary.total_s.median, summary.total_s.count) == (pytest.approx(1850), 2)


def test_delivery_and_recovery_figures(story: Story) -> None:
    delivery, recovery = story.report.delivery, story.report.recovery
    assert delivery.deployments == 3
    assert delivery.by_action == {"deployed": 1, "canary_started": 1, "promoted": 1}
    assert delivery.per_week == pytest.approx(3 / 10 * 7)
    assert (delivery.rollbacks, delivery.failed_changes) == (1, 1)  # the promotion, undone
    assert delivery.change_failure_rate == pytest.approx(1 / 3)
    assert delivery.time_to_rollback is not None and delivery.alert_to_rollback is not None
    assert delivery.time_to_rollback.median == pytest.approx(1005)  # promoted T+4000
    assert delivery.alert_to_rollback.median == pytest.approx(5)
    assert (recovery.alerts_fired, recovery.resolved, recovery.still_firing) == (1, 1, 0)
    assert recovery.time_to_recovery is not None
    assert recovery.time_to_recovery.median == pytest.approx(3000)


def test_the_period_bounds_what_counts(story: Story) -> None:
    platform = story.platform
    later = platform.report.build(project="mod", since=T + 4500, until=T + 11 * DAY + 1)
    assert later.stage(Stage.MONITORING).by_machines == 2  # T+6000 and the one at T+11 days
    assert later.stage(Stage.TRAINING).level is Level.NOT_HANDLED
    assert later.lead_times == []  # both versions first went out before it
    assert later.delivery.rollbacks == 1 and later.delivery.deployments == 0
    # The rollback's undone deployment lies before the period: still measured.
    assert later.delivery.time_to_rollback is not None
    assert later.delivery.time_to_rollback.median == pytest.approx(1005)
    empty = platform.report.build(project="mod", since=T - 10 * DAY, until=T - DAY)
    assert empty.events == 0
    assert {row.level for row in empty.stages} == {Level.NOT_HANDLED}
    assert empty.delivery.change_failure_rate is None
    # The first dataset version, made exactly at ``until`` of this one, is not in it.
    edge = platform.report.build(project="mod", since=T - 2 * DAY, until=T - DAY)
    assert edge.stage(Stage.DATA_COLLECTION).by_people == 0
    edge = platform.report.build(project="mod", since=T - DAY, until=T - DAY + 1)
    assert edge.stage(Stage.DATA_COLLECTION).by_people == 1


def test_an_endpoint_narrows_the_endpoint_stages(story: Story, clock: FakeTime) -> None:
    platform = story.platform
    clock.moment = T + 9000
    platform.deployments.deploy(
        ModelRef("mod", "violation", version=1), "other", DANA, force=True, reason="a test"
    )
    everything = platform.report.build(project="mod", **PERIOD)
    assert everything.stage(Stage.DEPLOYMENT).by_people == 2
    narrowed = platform.report.build(endpoint="ep", **PERIOD)
    assert (narrowed.project, narrowed.endpoint) == ("mod", "ep")
    assert narrowed.stage(Stage.DEPLOYMENT).by_people == 1
    assert [row.endpoint for row in narrowed.lead_times] == ["ep", "ep"]
    other = platform.report.build(project="mod", endpoint="other", **PERIOD)
    assert other.stage(Stage.DEPLOYMENT).by_people == 1
    assert other.stage(Stage.MONITORING).level is Level.NOT_HANDLED
    assert other.stage(Stage.RETRAINING).level is Level.NOT_HANDLED  # its params name ep
    assert other.stage(Stage.TRAINING).by_people == 1  # project-wide
    assert other.stage(Stage.TRAINING).scope == "project"
    assert [(row.endpoint, row.deployed_as) for row in other.lead_times] == [("other", "deploy")]


def test_the_svg_map_is_xml_naming_every_stage_with_its_level(story: Story) -> None:
    text = story.platform.report.svg(story.report)
    root = ET.fromstring(text)
    assert root.tag == "{http://www.w3.org/2000/svg}svg"
    labels = {
        group.get("aria-label")
        for group in root.iter("{http://www.w3.org/2000/svg}g")
        if group.get("aria-label")
    }
    assert labels == {f"{row.label}: {row.level.value}" for row in story.report.stages}
    words = " ".join(node.text or "" for node in root.iter())
    for row in story.report.stages:  # in words too, beside the colour
        assert row.label in words
    assert "● automated" in words and "◐ manual" in words and "○ not handled" in words
    assert "not measured" in words


@pytest.mark.parametrize(
    ("people", "machines", "level"),
    [
        (0, 0, Level.NOT_HANDLED),
        (3, 1, Level.MANUAL),
        (2, 2, Level.MANUAL),  # people still do half of it
        (1, 2, Level.AUTOMATED),
        (0, 1, Level.AUTOMATED),
    ],
)
def test_the_level_rule(people: int, machines: int, level: Level) -> None:
    assert level_of(people, machines) is level


def test_retraining_counts_pipelines_that_made_a_version_by_trigger(
    sqlite_platform: Platform,
) -> None:
    platform = sqlite_platform
    for number, (trigger, actor) in enumerate([("manual", DANA), ("schedule", MONITOR)]):
        start = T + 1000 * number
        append(
            platform,
            start,
            "pipeline_run.started",
            "pipeline:retrain",
            actor,
            run_id=f"r{number}",
            trigger=trigger,
            params={},
        )
        append(
            platform,
            start + 60,
            "pipeline_run.failed",
            "pipeline:retrain",
            RETRAIN,
            run_id=f"r{number}",
        )
    append(
        platform,
        T + 10,
        "pipeline_run.started",
        "pipeline:etl",
        DANA,
        run_id="e",
        trigger="manual",
        params={},
    )
    append(platform, T + 20, "model_version.created", "model:mod/violation", RETRAIN, version=1)
    found = platform.report.build(project="mod", **PERIOD).stage(Stage.RETRAINING)
    assert (found.level, found.by_people, found.by_machines) == (Level.MANUAL, 1, 1)
    assert found.note == "by trigger: 1 manual, 1 schedule"
    assert found.hours.people.mean_s == pytest.approx(60)


def test_a_pipeline_without_a_project_counts_only_where_it_worked(
    sqlite_platform: Platform,
) -> None:
    """A pipeline defined without a project records its runs without one: a project's report
    takes those that registered a version in it or name its endpoint, not another's."""
    platform = sqlite_platform
    runs = [  # (pipeline, run, what it names, whether it registers a version in mod)
        ("retrain", "r", {}, True),
        ("score", "s", {"endpoint": "elsewhere"}, False),
        ("etl", "e", {}, False),
    ]
    for number, (pipeline, run, params, registers) in enumerate(runs):
        start = T + 100 * number
        subject = f"pipeline:{pipeline}"
        append(
            platform,
            start,
            "pipeline_run.started",
            subject,
            DANA,
            project=None,
            run_id=run,
            trigger="manual",
            params=params,
        )
        if registers:
            actor = Actor(name=subject, kind=ActorKind.PIPELINE)
            append(platform, start + 5, "model_version.created", "model:mod/m", actor, version=1)
        append(
            platform, start + 60, "pipeline_run.succeeded", subject, DANA, project=None, run_id=run
        )
    mine = platform.report.build(project="mod", **PERIOD)
    assert mine.events == 3  # the retrain's start, its version, its end
    retraining = mine.stage(Stage.RETRAINING)
    assert (retraining.by_people, retraining.by_machines) == (1, 0)
    everything = platform.report.build(**PERIOD)
    assert everything.events == 7  # no project named: every run counts


@pytest.mark.parametrize(
    ("routing", "deciders", "level"),
    [
        ([ActorKind.SYSTEM, ActorKind.SYSTEM], [ActorKind.USER] * 3, Level.AUTOMATED),
        ([ActorKind.USER], [ActorKind.USER] * 3, Level.MANUAL),
        ([], [ActorKind.USER], Level.MANUAL),  # no routing in the period: the decisions decide
        ([], [], Level.NOT_HANDLED),
    ],
)
def test_review_level_is_the_routing(
    sqlite_platform: Platform,
    routing: list[ActorKind],
    deciders: list[ActorKind],
    level: Level,
) -> None:
    for number, kind in enumerate(routing):
        append(
            sqlite_platform,
            T + number,
            "review.routed",
            "endpoint:ep",
            Actor(name="review", kind=kind),
            routed=3,
        )
    for number, kind in enumerate(deciders):
        append(
            sqlite_platform,
            T + 100 + number,
            "review_item.decided",
            "endpoint:ep",
            Actor(name=f"rita{number}", kind=kind),
            item=number,
        )
    found = sqlite_platform.report.build(project="mod", **PERIOD).stage(Stage.REVIEW)
    assert found.level is level
    assert found.by_people + found.by_machines == len(routing or deciders)


def test_bad_periods_and_names_are_refused(sqlite_platform: Platform) -> None:
    report = sqlite_platform.report
    with pytest.raises(InvalidInput) as caught:
        report.build(since=T + 10, until=T)
    assert caught.value.field == "since"
    report.build(since=T - 366 * 86400, until=T)  # a year, leap day included, is allowed
    with pytest.raises(InvalidInput) as caught:
        report.build(since=T - 366 * 86400 - 1, until=T)
    assert caught.value.field == "since" and "at most 366 days" in caught.value.headline
    with pytest.raises(InvalidInput) as caught:
        report.build(since="the first of May")
    assert caught.value.field == "since" and "2026-05-01" in caught.value.headline
    with pytest.raises(InvalidInput):
        report.build(until=math.inf)
    with pytest.raises(NotFound) as missing:
        report.build(project="ghost")
    assert missing.value.field == "project"
    with pytest.raises(NotFound):
        report.build(endpoint="ghost")


def test_an_endpoint_of_another_project_is_refused(story: Story) -> None:
    story.platform.projects.create("other", DANA)
    with pytest.raises(InvalidInput) as caught:
        story.platform.report.build(project="other", endpoint="ep")
    assert "belongs to project 'mod'" in caught.value.headline


def test_iso_text_and_the_default_period(story: Story) -> None:
    found = story.platform.report.build(
        project="mod", since="2025-06-15T15:06:40", until="2025-06-25T15:06:40"
    )
    assert found.model_dump(exclude={"made_at"}) == story.report.model_dump(exclude={"made_at"})
    default = story.platform.report.build(project="mod")  # the 30 days up to the clock's now
    assert default.days == pytest.approx(30)


def test_a_bounded_number_of_queries_whatever_the_events(story: Story) -> None:
    platform = story.platform

    def statements() -> int:
        seen: list[str] = []

        def count(*args: Any) -> None:
            seen.append(args[2])

        event.listen(platform.db.engine, "before_cursor_execute", count)
        try:
            platform.report.build(project="mod", **PERIOD)
        finally:
            event.remove(platform.db.engine, "before_cursor_execute", count)
        return len(seen)

    before = statements()
    for number in range(200):
        append(platform, T + 7000 + number, "monitor.ran", "endpoint:ep", MONITOR, seconds=1.0)
        append(platform, T + 7000 + number, "review_item.decided", "endpoint:ep", DANA, item=1)
    assert statements() == before <= 16


@pytest.fixture
def sqlite_platform(sqlite_settings: Any) -> Iterator[Platform]:
    opened = Platform.open(sqlite_settings)
    opened.projects.create("mod", DANA)
    yield opened
    opened.close()


def test_label_delay_and_the_review_queue(settings: Any, monkeypatch: pytest.MonkeyPatch) -> None:
    """The review story of test_review_stats: four items routed by the system at T0+60,
    three decided by people (claimed → decided: 30, 60, 10 s), one left open; each decision's
    label, and one label posted later, arrive on the test's clock."""
    from opsloop.services import feedback

    from ._review_world import ENDPOINT, RITA, SAM, T0, make_world

    worlds = make_world(settings)
    world = next(worlds)
    try:
        # Labels are stamped with the time they arrive: on the story's clock here.
        monkeypatch.setattr(feedback, "time", SimpleNamespace(time=world.clock))
        world.configure("uncertain: {low: 0.3, high: 0.7}\n")
        world.log(
            [
                ("r1", T0 + 10, "violation", 0.62),
                ("r2", T0 + 11, "ok", 0.42),
                ("r3", T0 + 12, "violation", 0.55),
                ("r4", T0 + 13, "ok", 0.49),
                ("r5", T0 + 14, "ok", 0.1),  # not routed: labelled an hour later
            ]
        )
        world.route(T0 + 60)
        for who, claimed_at, decided_at in ((RITA, 100, 130), (RITA, 200, 260), (SAM, 300, 310)):
            world.clock.now = T0 + claimed_at
            item = world.review.claim(ENDPOINT, who)
            assert item is not None
            world.clock.now = T0 + decided_at
            world.review.decide(ENDPOINT, item.id, who, "violation")
        world.clock.now = T0 + 3600
        world.platform.feedback.record(ENDPOINT, [{"id": "r5", "label": "ok"}], DANA)
        found = world.platform.report.build(endpoint=ENDPOINT, since=T0, until=T0 + DAY)
    finally:
        worlds.close()

    # Label delays (prediction → label): r4 117 s, r3 248 s, r2 299 s, r5 3586 s.
    delay = found.labels.label_delay
    assert delay is not None and found.labels.labelled == 4
    assert delay.median == pytest.approx((248 + 299) / 2)
    assert delay.p90 == pytest.approx(299 + 0.7 * (3586 - 299))
    queue = found.review
    assert (queue.routed, queue.decided, queue.closed, queue.backlog) == (4, 3, 3, 1)
    assert queue.oldest_open_age_s == pytest.approx(DAY - 60)  # r1, open at the period's end
    assert queue.time_to_decision is not None and queue.handling_time is not None
    assert (queue.time_to_decision.median, queue.handling_time.median) == (200.0, 30.0)
    review = found.stage(Stage.REVIEW)
    assert (review.level, review.by_machines, review.by_people) == (Level.AUTOMATED, 1, 0)
    assert review.note == "3 decisions by people, 0 by machines"
    assert review.hours.people.mean_s == pytest.approx(100 / 3)
    assert found.stage(Stage.DATA_COLLECTION).by_people == 4  # the labels' feedback batches
