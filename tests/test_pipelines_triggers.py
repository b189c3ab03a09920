"""Triggers: a cron schedule fires once per due time, labels after N new ones, a dataset on each
new version; alerts start runs too. On SQLite and PostgreSQL."""

from __future__ import annotations

import threading
from collections.abc import Iterator
from typing import Any

import pyarrow as pa
import pytest

import opsloop
from opsloop.domain.entities import Actor, ActorKind
from opsloop.domain.errors import InvalidInput, NotFound
from opsloop.domain.names import ModelRef
from opsloop.domain.pipelines import PipelineRun, PipelineStatus, TriggerKind
from opsloop.domain.settings import Settings
from opsloop.services.datasets import table_to_parquet
from opsloop.services.platform import Platform
from opsloop.store.repos import pipelines as repo

from ._prediction_log_writer import prediction
from .conftest import ACTOR, wait_for

HEARD: list[str] = []
FIVE_MINUTES = 300.0


@pytest.fixture(autouse=True)
def nothing_heard() -> Iterator[None]:
    HEARD.clear()
    yield


@opsloop.step(cache=False)
def note(reason: str) -> None:
    HEARD.append(reason)


@opsloop.pipeline(name="t_triggered", project="tests")
def triggered(reason: str = "none") -> None:
    note(reason)


def finished(platform: Platform, runs: list[PipelineRun]) -> list[PipelineRun]:
    wait_for(lambda: all(platform.pipelines.get(r.id).finished for r in runs))
    return [platform.pipelines.get(r.id) for r in runs]


def add_dataset_version(platform: Platform, rows: int) -> None:
    data = table_to_parquet(pa.table({"x": list(range(rows))}))
    sha256, _ = platform.artifacts.put(data)
    platform.datasets.create_version("tests", "posts", sha256, actor=ACTOR)


def serving_endpoint(platform: Platform, name: str, predictions: int) -> list[str]:
    """An endpoint with ``predictions`` logged answers; returns their request ids."""
    sha256, _ = platform.artifacts.put(b"weights")
    version = platform.registry.register_version(
        "tests", "violation", flavor="sklearn", sha256=sha256, actor=ACTOR
    )
    platform.deployments.deploy(
        ModelRef("tests", "violation", version=version.version),
        name,
        ACTOR,
        force=True,
        reason="a test endpoint",
    )
    ids = [f"req-{i:03d}" for i in range(predictions)]
    platform.predictions.append_predictions([prediction(i, endpoint=name) for i in ids])
    return ids


def label(platform: Platform, endpoint: str, ids: list[str]) -> None:
    platform.feedback.record(endpoint, [{"id": i, "label": 1} for i in ids], ACTOR)


def test_a_schedule_fires_once_per_due_time(platform: Platform) -> None:
    service = platform.triggers
    trigger = service.create(
        "t_triggered", "schedule", {"cron": "*/5  * * * *"}, {"reason": "cron"}, ACTOR
    )
    assert trigger.spec == {"cron": "*/5 * * * *"}
    due = trigger.state["next"]
    assert due % FIVE_MINUTES == 0
    assert service.run_due(due - 1) == []
    (first,) = service.run_due(due)
    assert service.run_due(due) == []  # the same due time again: nothing
    assert service.run_due(due + 60) == []
    # Three due times passed with no scheduler running: one run, not three.
    (second,) = service.run_due(due + 3 * FIVE_MINUTES + 10)
    assert service.run_due(due + 3 * FIVE_MINUTES + 20) == []
    first, second = finished(platform, [first, second])
    assert [r.status for r in (first, second)] == [PipelineStatus.SUCCEEDED] * 2
    assert (first.trigger.value, first.actor, first.params) == (
        "schedule",
        "scheduler",
        {"reason": "cron"},
    )
    assert first.trigger_detail == {
        "trigger_id": trigger.id,
        "kind": "schedule",
        "cron": "*/5 * * * *",
        "due": due,
    }
    assert second.trigger_detail["due"] == due + FIVE_MINUTES
    (stored,) = service.list("t_triggered")
    assert stored.state["next"] == due + 4 * FIVE_MINUTES
    assert HEARD == ["cron", "cron"]


def test_two_schedulers_at_the_same_due_time_start_one_run(settings: Settings) -> None:
    platforms = [Platform.open(settings) for _ in range(2)]
    try:
        trigger = platforms[0].triggers.create(
            "t_triggered", "schedule", {"cron": "0 * * * *"}, {}, ACTOR
        )
        due = trigger.state["next"]
        barrier = threading.Barrier(2)
        started: list[PipelineRun] = []

        def tick(platform: Platform) -> None:
            barrier.wait()
            started.extend(platform.triggers.run_due(due))

        threads = [threading.Thread(target=tick, args=(p,)) for p in platforms]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()
        assert len(started) == 1
        finished(platforms[0], started)
        assert len(platforms[0].pipelines.list()) == 1
    finally:
        for platform in platforms:
            platform.close()


def test_labels_start_a_run_after_n_newly_labelled_predictions(platform: Platform) -> None:
    ids = serving_endpoint(platform, "moderation", predictions=10)
    label(platform, "moderation", ids[:1])  # labelled before the trigger: not new
    service = platform.triggers
    trigger = service.create(
        "t_triggered", "labels", {"endpoint": "moderation", "count": 3}, {"reason": "labels"}, ACTOR
    )
    assert trigger.state["labelled"] == 1
    assert service.run_due() == []
    label(platform, "moderation", ids[1:3])
    assert service.run_due() == []  # 2 new: not yet
    label(platform, "moderation", ids[1:3])  # labelled again: no new prediction labelled
    assert service.run_due() == []
    label(platform, "moderation", ids[3:4])
    (run,) = service.run_due()
    assert service.run_due() == []
    label(platform, "moderation", ids[4:7])
    (again,) = service.run_due()
    run, again = finished(platform, [run, again])
    assert run.trigger.value == "data"
    assert run.trigger_detail == {
        "trigger_id": trigger.id,
        "kind": "labels",
        "endpoint": "moderation",
        "new_labels": 3,
        "labelled": 4,
    }
    assert again.trigger_detail["labelled"] == 7
    assert HEARD == ["labels", "labels"]


def test_a_new_dataset_version_starts_a_run(platform: Platform) -> None:
    add_dataset_version(platform, 3)
    service = platform.triggers
    trigger = service.create(
        "t_triggered", "dataset", {"dataset": "tests/posts"}, {"reason": "data"}, ACTOR
    )
    assert trigger.state == {"version": 1}
    assert service.run_due() == []
    add_dataset_version(platform, 4)
    (run,) = service.run_due()
    assert service.run_due() == []
    (run,) = finished(platform, [run])
    assert (run.trigger.value, run.status) == ("data", PipelineStatus.SUCCEEDED)
    assert run.trigger_detail == {
        "trigger_id": trigger.id,
        "kind": "dataset",
        "dataset": "tests/posts@2",
        "previous": 1,
    }


def test_a_dataset_not_made_yet_fires_on_its_first_version(platform: Platform) -> None:
    service = platform.triggers
    service.create("t_triggered", "dataset", {"dataset": "tests/posts"}, {}, ACTOR)
    assert service.run_due() == []
    add_dataset_version(platform, 2)
    finished(platform, service.run_due())
    assert HEARD == ["none"]


def test_an_alert_starts_a_run_that_says_so(platform: Platform) -> None:
    monitor = Actor(name="monitor:moderation", kind=ActorKind.MONITOR)
    started = platform.pipelines.start(
        "t_triggered", trigger="alert", detail={"alert_id": 7}, params={}, actor=monitor
    )
    (done,) = finished(platform, [started])
    assert (done.trigger.value, done.trigger_detail, done.actor) == (
        "alert",
        {"alert_id": 7},
        "monitor:moderation",
    )
    began = platform.events.query(kind="pipeline_run.started")[0]
    assert (began.actor, began.actor_kind) == ("monitor:moderation", ActorKind.MONITOR)
    assert began.data["detail"] == {"alert_id": 7}


def test_triggers_are_listed_and_removed_with_events(platform: Platform) -> None:
    service = platform.triggers
    daily = service.create("t_triggered", "schedule", {"cron": "0 3 * * *"}, {}, ACTOR)
    data = service.create("t_triggered", "dataset", {"dataset": "tests/posts"}, {}, ACTOR)
    assert [t.id for t in service.list()] == [daily.id, data.id]
    assert [t.kind for t in service.list("t_triggered")] == [
        TriggerKind.SCHEDULE,
        TriggerKind.DATASET,
    ]
    assert daily.describe() == "cron 0 3 * * * (UTC)"
    with pytest.raises(NotFound):
        service.delete("t_other", daily.id, ACTOR)
    assert service.delete("t_triggered", daily.id, ACTOR).id == daily.id
    assert [t.id for t in service.list()] == [data.id]
    found = platform.events.query(subject="pipeline:t_triggered")
    assert [(e.kind, e.actor, e.data["trigger_id"]) for e in found] == [
        ("pipeline_trigger.created", "tester", daily.id),
        ("pipeline_trigger.created", "tester", data.id),
        ("pipeline_trigger.deleted", "tester", daily.id),
    ]
    assert found[0].data["spec"] == {"cron": "0 3 * * *"}


@pytest.mark.parametrize(
    ("kind", "spec", "params", "field"),
    [
        ("weekly", {"cron": "* * * * *"}, {}, "kind"),
        ("schedule", {"cron": "every minute"}, {}, "spec.cron"),
        ("schedule", {"cron": "61 * * * *"}, {}, "spec.cron"),
        ("schedule", {"cron": "0 0 31 2 *"}, {}, "spec.cron"),  # never comes due
        ("schedule", {"cron": "* * * * *", "tz": "UTC"}, {}, "spec"),
        ("labels", {"endpoint": "moderation", "count": 0}, {}, "spec.count"),
        ("labels", {"endpoint": "../x", "count": 5}, {}, "spec.endpoint"),
        ("dataset", {"dataset": "tests/posts@2"}, {}, "spec.dataset"),
        ("dataset", {"dataset": "posts"}, {}, "spec.dataset"),
        ("schedule", {"cron": "* * * * *"}, {"speed": 1}, "params"),
    ],
)
def test_a_bad_trigger_is_refused_naming_the_field(
    platform: Platform, kind: str, spec: dict[str, Any], params: dict[str, Any], field: str
) -> None:
    with pytest.raises(InvalidInput) as caught:
        platform.triggers.create("t_triggered", kind, spec, params, ACTOR)
    assert caught.value.field == field
    assert platform.triggers.list() == []


def test_a_trigger_of_a_pipeline_this_process_does_not_know_is_left_to_another(
    platform: Platform,
) -> None:
    with platform.db.begin() as conn:
        repo.insert_trigger(
            conn,
            pipeline="t_elsewhere",
            kind="schedule",
            spec={"cron": "* * * * *"},
            params={},
            state={"next": 0.0},
            enabled=True,
            created_at=0.0,
            created_by="tester",
        )
    assert platform.triggers.run_due(1_000.0) == []
    (kept,) = platform.triggers.list()
    assert kept.state == {"next": 0.0}
    with pytest.raises(NotFound):
        platform.triggers.create("t_elsewhere", "schedule", {"cron": "* * * * *"}, {}, ACTOR)
