"""Tracking rules, on SQLite and PostgreSQL."""

from __future__ import annotations

import itertools

import pytest

from opsloop.domain.entities import MetricSeries, RunStatus
from opsloop.domain.errors import Conflict, InvalidInput, NotFound
from opsloop.services.platform import Platform

from .conftest import ACTOR


def series(values: list[float], start: int = 0) -> MetricSeries:
    steps = list(range(start, start + len(values)))
    return MetricSeries(values=values, steps=steps, timestamps=[1_000 + s for s in steps])


def test_run_lifecycle_keeps_params_metrics_and_history(platform: Platform) -> None:
    run = platform.tracking.start_run(
        project="moderation", actor=ACTOR, name="lr", params={"C": 1.0, "penalty": "l2"}
    )
    assert run.status == RunStatus.RUNNING
    assert run.params == {"C": "1.0", "penalty": "l2"}
    platform.tracking.log(run.id, metrics={"loss": series([0.9, 0.5])})
    platform.tracking.log(run.id, metrics={"loss": series([0.3, 0.2], start=2)})
    ended = platform.tracking.end_run(run.id, actor=ACTOR, metrics={"f1": series([0.8])})

    assert ended.status == RunStatus.FINISHED
    assert ended.metrics == {"loss": 0.2, "f1": 0.8}
    assert ended.duration_s is not None and ended.duration_s >= 0
    history = platform.tracking.metric_history(run.id, "loss")
    assert history.values == [0.9, 0.5, 0.3, 0.2]
    assert history.steps == [0, 1, 2, 3]


def test_latest_metric_is_the_highest_step_not_the_last_written(platform: Platform) -> None:
    run = platform.tracking.start_run(project="p", actor=ACTOR)
    platform.tracking.log(run.id, metrics={"acc": series([0.5, 0.7], start=10)})
    platform.tracking.log(run.id, metrics={"acc": series([0.1], start=3)})  # late, older step
    assert platform.tracking.get_run(run.id).metrics["acc"] == 0.7
    assert platform.tracking.metric_history(run.id, "acc").steps == [3, 10, 11]


def test_finished_run_refuses_writes_and_keeps_its_data(platform: Platform) -> None:
    run = platform.tracking.start_run(project="p", actor=ACTOR, params={"a": 1})
    platform.tracking.end_run(run.id, actor=ACTOR)
    with pytest.raises(Conflict, match="FINISHED"):
        platform.tracking.log(run.id, metrics={"x": series([1.0])})
    assert platform.tracking.get_run(run.id).params == {"a": "1"}


def test_params_are_write_once(platform: Platform) -> None:
    run = platform.tracking.start_run(project="p", actor=ACTOR, params={"C": 1})
    platform.tracking.log(run.id, params={"C": 1})  # same value again is fine
    with pytest.raises(Conflict) as caught:
        platform.tracking.log(run.id, params={"C": 2})
    assert caught.value.field == "params.C"


@pytest.mark.parametrize(
    ("metrics", "field"),
    [
        ({"loss": MetricSeries(values=[float("nan")], steps=[0], timestamps=[0])}, "metrics.loss"),
        ({"loss": MetricSeries(values=[float("inf")], steps=[0], timestamps=[0])}, "metrics.loss"),
        ({"loss": MetricSeries(values=[1.0, 2.0], steps=[0], timestamps=[0])}, "metrics.loss"),
        ({"": series([1.0])}, "metrics key"),
        ({"../etc": series([1.0])}, "metrics key"),
    ],
)
def test_bad_metric_batches_are_refused_whole(
    platform: Platform, metrics: dict[str, MetricSeries], field: str
) -> None:
    run = platform.tracking.start_run(project="p", actor=ACTOR)
    good = {"ok": series([1.0])}
    with pytest.raises(InvalidInput) as caught:
        platform.tracking.log(run.id, metrics={**good, **metrics})
    assert caught.value.field == field
    assert platform.tracking.get_run(run.id).metrics == {}  # the good series went nowhere


@pytest.mark.parametrize(
    ("params", "field"),
    [
        ({"big": "x" * 6001}, "params.big"),
        ({"nan": float("nan")}, "params.nan"),
        ({"obj": [1, 2]}, "params.obj"),
    ],
)
def test_bad_params_name_the_field(platform: Platform, params: dict, field: str) -> None:
    with pytest.raises(InvalidInput) as caught:
        platform.tracking.start_run(project="p", actor=ACTOR, params=params)
    assert caught.value.field == field


def test_a_write_that_fails_midway_leaves_the_store_as_it_was(platform: Platform) -> None:
    # The project and its experiment are written first, then the parent is found missing:
    # only a rollback of the whole transaction leaves no trace of them.
    with pytest.raises(NotFound) as caught:
        platform.tracking.start_run(
            project="fresh",
            actor=ACTOR,
            parent_id="0" * 32,
            params={"C": 1},
            metrics={"loss": series([0.5])},
        )
    assert caught.value.field == "parent_id"
    assert platform.projects.list_projects() == []
    assert platform.events.query(project="fresh") == []


@pytest.mark.parametrize("name", ["", "a/b", "..", "a\\b", " lead", "x" * 129])
def test_bad_project_names_are_refused(platform: Platform, name: str) -> None:
    with pytest.raises(InvalidInput) as caught:
        platform.tracking.start_run(project=name, actor=ACTOR)
    assert caught.value.field == "project"


def test_nested_runs_record_their_parent(platform: Platform) -> None:
    parent = platform.tracking.start_run(project="p", actor=ACTOR, name="sweep")
    child = platform.tracking.start_run(project="p", actor=ACTOR, parent_id=parent.id[:8])
    assert child.parent_id == parent.id
    found, _ = platform.tracking.search_runs("p", filter=f"parent_id = '{parent.id}'")
    assert [r.id for r in found] == [child.id]


def test_unknown_run_and_project_are_not_found(platform: Platform) -> None:
    with pytest.raises(NotFound, match="run 'deadbeef00' not found"):
        platform.tracking.get_run("deadbeef00")
    with pytest.raises(NotFound, match="project 'ghost'"):
        platform.tracking.search_runs("ghost")


def test_search_filters_and_orders_by_metrics_params_and_attributes(platform: Platform) -> None:
    for index, (c, f1) in enumerate([(0.1, 0.70), (1.0, 0.85), (10.0, 0.80)]):
        run = platform.tracking.start_run(
            project="p", actor=ACTOR, name=f"r{index}", params={"C": c}, tags={"team": "mod"}
        )
        platform.tracking.end_run(run.id, actor=ACTOR, metrics={"f1": series([f1])})
    failed = platform.tracking.start_run(project="p", actor=ACTOR, name="broken")
    platform.tracking.end_run(failed.id, actor=ACTOR, status=RunStatus.FAILED, error="boom")

    def names(**query: str) -> list[str]:
        found, _total = platform.tracking.search_runs("p", **query)
        return [r.name for r in found]

    assert names(filter="metrics.f1 >= 0.8", order_by="metrics.f1 desc") == ["r1", "r2"]
    assert names(filter="params.C = '10.0'") == ["r2"]
    assert names(filter="status = 'FAILED'") == ["broken"]
    assert names(filter="tags.team = 'mod' and metrics.f1 < 0.8") == ["r0"]
    assert names(filter="name like 'r%'", order_by="name asc") == ["r0", "r1", "r2"]
    assert names(order_by="metrics.f1 asc")[:3] == ["r0", "r2", "r1"]  # no f1 sorts last
    _found, total = platform.tracking.search_runs("p", limit=1)
    assert total == 4


def test_counts_match_when_an_experiment_and_a_metric_filter_meet(platform: Platform) -> None:
    for experiment, f1 in [("a", 0.9), ("b", 0.9), ("b", 0.2), ("b", 0.7)]:
        run = platform.tracking.start_run(project="p", actor=ACTOR, experiment=experiment)
        platform.tracking.end_run(run.id, actor=ACTOR, metrics={"f1": series([f1])})
    found, total = platform.tracking.search_runs(
        "p", filter="experiment = 'b' and metrics.f1 > 0.5", order_by="metrics.f1 desc", limit=1
    )
    assert total == 2
    assert [r.metrics["f1"] for r in found] == [0.9]
    _found, total = platform.tracking.search_runs("p", experiment="b", filter="metrics.f1 < 0.8")
    assert total == 2


def test_times_and_text_attributes_compare_by_their_type(platform: Platform) -> None:
    run = platform.tracking.start_run(project="p", actor=ACTOR, name="r")
    platform.tracking.end_run(run.id, actor=ACTOR)

    def count(query: str) -> int:
        return platform.tracking.search_runs("p", filter=query)[1]

    assert count("start_time > '2000-01-01'") == 1
    assert count("start_time > '2999-01-01T00:00:00+00:00'") == 0
    assert count(f"end_time >= {run.start_time.timestamp()}") == 1
    for bad in ("status = 5", "start_time > 'yesterday'", "name < 3"):
        with pytest.raises(InvalidInput) as caught:
            count(bad)
        assert caught.value.field == "filter"


def test_concurrent_alias_moves_keep_a_consistent_history(platform: Platform) -> None:
    from concurrent.futures import ThreadPoolExecutor

    for _ in range(4):
        platform.registry.register_version(
            "p",
            "m",
            flavor="python_function",
            sha256=platform.artifacts.put(b"m")[0],
            actor=ACTOR,
        )
    with ThreadPoolExecutor(8) as pool:
        list(
            pool.map(
                lambda v: platform.registry.set_alias("p", "m", "champion", v, ACTOR),
                [1, 2, 3, 4] * 6,
            )
        )
    moves = list(reversed(platform.registry.alias_history("p", "m", "champion")))
    assert len(moves) == 24
    for before, after in itertools.pairwise(moves):
        assert after.from_version == before.to_version  # no move saw a stale "from"


@pytest.mark.parametrize(
    "query",
    ["metrics.f1 >", "bogus = 1", "metrics.f1 = 'high'", "metrics.f1 ~ 3", "name like 3"],
)
def test_bad_search_filters_are_invalid(platform: Platform, query: str) -> None:
    platform.tracking.start_run(project="p", actor=ACTOR)
    with pytest.raises(InvalidInput) as caught:
        platform.tracking.search_runs("p", filter=query)
    assert caught.value.field == "filter"


def test_runs_write_events(platform: Platform) -> None:
    run = platform.tracking.start_run(project="p", actor=ACTOR)
    platform.tracking.end_run(run.id, actor=ACTOR, status=RunStatus.FAILED, error="x")
    kinds = [e.kind for e in platform.events.query(subject=f"run:{run.id}")]
    assert kinds == ["run.started", "run.failed"]
