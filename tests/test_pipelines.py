"""Pipeline runs: steps recorded in call order, served from the cache when their code and inputs
are unchanged, retried with backoff, failing with their traceback kept; on SQLite and
PostgreSQL."""

from __future__ import annotations

import logging
import threading
from collections import Counter
from typing import Any

import cloudpickle
import pyarrow as pa
import pytest

import opsloop
from opsloop.domain.entities import ActorKind
from opsloop.domain.errors import InvalidInput, NotFound
from opsloop.domain.pipelines import PipelineStatus, StepStatus
from opsloop.domain.settings import Settings
from opsloop.services.pipelines.definitions import Step
from opsloop.services.platform import Platform
from opsloop.store.repos import leases
from opsloop.store.repos import pipelines as repo

from .conftest import ACTOR, wait_for

CALLS: Counter[str] = Counter()
RECEIVED: list[Any] = []
PROBE: dict[str, Any] = {}
RELEASE = threading.Event()


@pytest.fixture(autouse=True)
def fresh_state() -> None:
    CALLS.clear()
    RECEIVED.clear()
    RELEASE.clear()


@opsloop.step
def numbers(n: int) -> list[int]:
    CALLS["numbers"] += 1
    print(f"making {n} numbers")
    return list(range(n))


@opsloop.step
def total(xs: list[int]) -> int:
    CALLS["total"] += 1
    return sum(xs)


@opsloop.step(cache=False)
def keep(value: Any) -> None:
    RECEIVED.append(value)


@opsloop.pipeline(name="t_sum", project="tests")
def sum_pipeline(n: int = 3) -> None:
    keep(total(numbers(n)))


@opsloop.step(retries=2, backoff_s=0.001)
def flaky(fail_times: int) -> str:
    CALLS["flaky"] += 1
    if CALLS["flaky"] <= fail_times:
        raise ConnectionError(f"attempt {CALLS['flaky']} refused")
    return "through"


@opsloop.pipeline(name="t_flaky")
def flaky_pipeline(fail_times: int = 2) -> None:
    keep(flaky(fail_times))


@opsloop.step(retries=1, backoff_s=0.001)
def explode(xs: list[int]) -> int:
    raise ValueError(f"boom at {len(xs)}")


@opsloop.pipeline(name="t_explode", project="tests")
def explode_pipeline() -> None:
    xs = numbers(2)
    total([*xs, explode(xs)])


@opsloop.pipeline(name="t_body_error")
def body_error_pipeline() -> None:
    numbers(1)
    {}["missing"]  # the body's own bug


@opsloop.pipeline(name="t_probe")
def probe_pipeline(x: int = 2) -> None:
    keep(PROBE["step"](x))


@opsloop.step
def chatty(word: str) -> str:
    print(f"said {word}")
    logging.getLogger("tests.chatty").warning("warned %s", word)
    return word


@opsloop.pipeline(name="t_chatty")
def chatty_pipeline() -> None:
    chatty("one")
    chatty("two")


@opsloop.step(timeout_s=0.2, cache=False)
def stuck() -> None:
    RELEASE.wait(30)


@opsloop.pipeline(name="t_stuck")
def stuck_pipeline() -> None:
    stuck()


@opsloop.step(cache=False)
def waits() -> str:
    RELEASE.wait(30)
    return "released"


@opsloop.pipeline(name="t_waits")
def waits_pipeline() -> None:
    waits()


@opsloop.step(cache=False)
def store_dataset(rows: int) -> str:
    version = opsloop.log_dataset(pa.table({"x": list(range(rows))}), "xs", project="tests")
    return version.ref


@opsloop.pipeline(name="t_sdk", project="tests")
def sdk_pipeline(rows: int = 3) -> None:
    store_dataset(rows)


def make_step(body: str) -> Step:
    """A step named ``tests.probe.double``, with ``body`` as its code."""
    namespace: dict[str, Any] = {"__name__": "tests.probe"}
    exec(f"def double(x):\n    return {body}\n", namespace)
    return Step(namespace["double"])


def run(platform: Platform, name: str, **params: Any) -> Any:
    return platform.pipelines.run(name, params=params, actor=ACTOR)


# -- recording -----------------------------------------------------------------------------


def test_a_run_records_each_step_in_call_order_with_its_output(platform: Platform) -> None:
    done = run(platform, "t_sum", n=4)
    assert done.status is PipelineStatus.SUCCEEDED
    assert (done.pipeline, done.project, done.trigger.value, done.actor) == (
        "t_sum",
        "tests",
        "manual",
        "tester",
    )
    assert [(s.position, s.name, s.status) for s in done.steps] == [
        (1, "numbers", StepStatus.SUCCEEDED),
        (2, "total", StepStatus.SUCCEEDED),
        (3, "keep", StepStatus.SUCCEEDED),
    ]
    numbers_step, total_step, _ = done.steps
    assert numbers_step.log == "making 4 numbers\n"
    assert numbers_step.output is not None and numbers_step.output.summary == "[0, 1, 2, 3]"
    assert total_step.output is not None and total_step.output.type == "int"
    assert cloudpickle.loads(platform.artifacts.get(total_step.output.sha256)) == 6
    assert all(s.attempts == 1 and s.duration_s is not None for s in done.steps)
    assert done.started_at is not None and done.ended_at is not None
    assert done.steps[0].started_at is not None and done.started_at <= done.steps[0].started_at
    assert RECEIVED == [6]


def test_events_say_who_started_a_run_and_that_the_pipeline_ended_it(platform: Platform) -> None:
    done = run(platform, "t_sum")
    found = platform.events.query(subject="pipeline:t_sum")
    assert [(e.kind, e.actor, e.actor_kind) for e in found] == [
        ("pipeline_run.started", "tester", ActorKind.USER),
        ("pipeline_run.succeeded", "pipeline:t_sum", ActorKind.PIPELINE),
    ]
    assert found[0].data["run_id"] == done.id
    assert found[0].data["trigger"] == "manual" and found[0].data["params"] == {"n": 3}
    assert all(e.project == "tests" for e in found)


def test_outside_a_pipeline_a_step_is_a_plain_call(platform: Platform) -> None:
    assert total(numbers(3)) == 3
    assert Counter({"numbers": 1, "total": 1}) == CALLS
    assert platform.pipelines.list() == []


# -- caching -------------------------------------------------------------------------------


def test_unchanged_code_and_inputs_come_from_the_cache(platform: Platform) -> None:
    first = run(platform, "t_sum", n=5)
    second = run(platform, "t_sum", n=5)
    assert [s.status for s in second.steps] == [
        StepStatus.CACHED,
        StepStatus.CACHED,
        StepStatus.SUCCEEDED,  # keep: cache=False
    ]
    assert Counter({"numbers": 1, "total": 1}) == CALLS
    assert [s.attempts for s in second.steps[:2]] == [0, 0]
    assert second.steps[1].output == first.steps[1].output
    assert RECEIVED == [10, 10]  # the cached value flows on as the computed one did
    assert f"run {first.id}" in (second.steps[0].log or "")


def test_a_changed_input_runs_the_step_again(platform: Platform) -> None:
    run(platform, "t_sum", n=3)
    again = run(platform, "t_sum", n=4)
    assert [s.status for s in again.steps] == [StepStatus.SUCCEEDED] * 3
    assert Counter({"numbers": 2, "total": 2}) == CALLS
    assert RECEIVED == [3, 6]


def test_changed_code_runs_the_step_again_and_old_code_is_still_cached(
    platform: Platform,
) -> None:
    PROBE["step"] = make_step("x * 2")
    assert run(platform, "t_probe").steps[0].status is StepStatus.SUCCEEDED
    assert run(platform, "t_probe").steps[0].status is StepStatus.CACHED
    PROBE["step"] = make_step("x * 3")  # same name, new code
    changed = run(platform, "t_probe")
    assert changed.steps[0].status is StepStatus.SUCCEEDED
    PROBE["step"] = make_step("x * 2")
    assert run(platform, "t_probe").steps[0].status is StepStatus.CACHED
    assert RECEIVED == [4, 4, 6, 4]


def test_an_input_that_cannot_be_hashed_runs_uncached_and_says_why(platform: Platform) -> None:
    PROBE["step"] = make_step("x is not None")
    lock_pipeline = opsloop.pipeline(name="t_lock")(lambda: keep(PROBE["step"](threading.Lock())))
    try:
        for _ in range(2):
            done = run(platform, "t_lock")
            assert done.steps[0].status is StepStatus.SUCCEEDED
            assert "not cached: lock cannot be hashed" in (done.steps[0].log or "")
    finally:
        platform.pipelines.registry.remove(lock_pipeline.name)


# -- retries and failures ------------------------------------------------------------------


def test_a_step_failing_twice_then_passing_succeeds_on_its_third_attempt(
    platform: Platform,
) -> None:
    done = run(platform, "t_flaky", fail_times=2)
    assert done.status is PipelineStatus.SUCCEEDED
    (step,) = [s for s in done.steps if s.name == "flaky"]
    assert (step.status, step.attempts, step.error) == (StepStatus.SUCCEEDED, 3, None)
    log = step.log or ""
    assert "ConnectionError: attempt 1 refused" in log and "attempt 2 refused" in log
    # Exponential backoff: the wait doubles after each failed attempt.
    assert "attempt 1 failed; next in 0.001 s" in log
    assert "attempt 2 failed; next in 0.002 s" in log
    assert RECEIVED == ["through"]


def test_a_step_out_of_retries_fails_the_run_keeps_its_traceback_and_stops_the_rest(
    platform: Platform,
) -> None:
    done = run(platform, "t_explode")
    assert done.status is PipelineStatus.FAILED
    assert [(s.name, s.status, s.attempts) for s in done.steps] == [
        ("numbers", StepStatus.SUCCEEDED, 1),
        ("explode", StepStatus.FAILED, 2),
    ]
    error = done.steps[1].error or ""
    assert error.startswith("Traceback (most recent call last):")
    assert 'raise ValueError(f"boom at {len(xs)}")' in error
    assert error.rstrip().endswith("ValueError: boom at 2")
    assert "opsloop/services/pipelines" not in error  # the step's frames, not ours
    assert CALLS["total"] == 0  # the step after it never ran
    assert done.error == "step explode failed (2 attempts): ValueError: boom at 2"
    (ended,) = platform.events.query(kind="pipeline_run.failed")
    assert (ended.actor, ended.actor_kind) == ("pipeline:t_explode", ActorKind.PIPELINE)
    assert ended.data == {
        "run_id": done.id,
        "error": "step explode failed (2 attempts): ValueError: boom at 2",
        "step": "explode",
    }


def test_an_error_in_the_pipeline_body_fails_the_run_with_its_traceback(
    platform: Platform,
) -> None:
    done = run(platform, "t_body_error")
    assert done.status is PipelineStatus.FAILED
    assert [s.status for s in done.steps] == [StepStatus.SUCCEEDED]
    assert done.error is not None
    assert '{}["missing"]' in done.error and done.error.rstrip().endswith("KeyError: 'missing'")


def test_an_inline_step_past_its_timeout_fails(platform: Platform) -> None:
    try:
        done = run(platform, "t_stuck")
    finally:
        RELEASE.set()
    assert done.status is PipelineStatus.FAILED
    assert (done.steps[0].error or "").startswith(
        "TimeoutError: step stuck did not finish within 0.2 s"
    )


# -- what a step sees ----------------------------------------------------------------------


def test_print_and_logging_go_to_the_log_of_the_step_that_made_them(platform: Platform) -> None:
    done = run(platform, "t_chatty")
    one, two = (s.log or "" for s in done.steps)
    assert one.startswith("said one\n") and "WARNING tests.chatty: warned one" in one
    assert "two" not in one
    assert two.startswith("said two\n") and "warned two" in two


def test_sdk_calls_in_a_step_act_as_the_pipeline_on_the_running_platform(
    platform: Platform, monkeypatch: pytest.MonkeyPatch
) -> None:
    opened: list[Settings] = []
    real_open = Platform.open.__func__  # type: ignore[attr-defined]
    monkeypatch.setattr(
        Platform, "open", classmethod(lambda cls, s: opened.append(s) or real_open(cls, s))
    )
    done = run(platform, "t_sdk", rows=3)
    assert done.status is PipelineStatus.SUCCEEDED, done.error
    assert opened == []  # the step talked to this platform, not to a second one
    assert platform.datasets.get_version("tests", "xs").num_rows == 3
    (created,) = platform.events.query(kind="dataset_version.created")
    assert (created.actor, created.actor_kind) == ("pipeline:t_sdk", ActorKind.PIPELINE)


# -- starting, listing, recovering ---------------------------------------------------------


def test_start_returns_a_queued_run_that_ends_in_the_background(platform: Platform) -> None:
    started = platform.pipelines.start("t_waits", actor=ACTOR)
    assert started.status is PipelineStatus.QUEUED and started.steps == []
    wait_for(lambda: [s.status for s in platform.pipelines.get(started.id).steps] == ["running"])
    assert platform.pipelines.get(started.id).status is PipelineStatus.RUNNING
    assert platform.pipelines.running_here() == [started.id]
    RELEASE.set()
    platform.pipelines.wait()  # what a short-lived process does before it closes
    assert platform.pipelines.get(started.id).finished
    assert platform.pipelines.running_here() == []  # a server keeps no trace of ended runs
    done = platform.pipelines.get(started.id[:8])  # a unique prefix finds it
    assert done.status is PipelineStatus.SUCCEEDED
    assert done.steps[0].output is not None and done.steps[0].output.summary == "'released'"


@opsloop.pipeline(name="t_retrain_like")
def retrain_like_pipeline(endpoint: str, epochs: int = 10) -> None:
    waits()


def test_unless_active_gives_the_run_at_work_instead_of_a_second_one(platform: Platform) -> None:
    start = platform.pipelines.start
    first = start("t_retrain_like", actor=ACTOR, params={"endpoint": "e"}, unless_active=True)
    assert first.params == {"endpoint": "e", "epochs": 10}  # stored with its default
    again = start("t_retrain_like", actor=ACTOR, params={"endpoint": "e"}, unless_active=True)
    spelled = start(
        "t_retrain_like", actor=ACTOR, params={"endpoint": "e", "epochs": 10}, unless_active=True
    )
    assert again.id == spelled.id == first.id
    other = start("t_retrain_like", actor=ACTOR, params={"endpoint": "f"}, unless_active=True)
    assert other.id != first.id  # another endpoint's retrain is another run
    RELEASE.set()
    platform.pipelines.wait()
    RELEASE.clear()
    later = start("t_retrain_like", actor=ACTOR, params={"endpoint": "e"}, unless_active=True)
    assert later.id not in (first.id, other.id)  # the first had ended: a new run
    RELEASE.set()
    platform.pipelines.wait()
    runs = platform.pipelines.list("t_retrain_like")
    assert [r.id for r in runs] == [later.id, other.id, first.id]
    assert {r.status for r in runs} == {PipelineStatus.SUCCEEDED}


def test_runs_are_listed_newest_first_without_their_logs(platform: Platform) -> None:
    first = run(platform, "t_sum", n=1)
    second = run(platform, "t_chatty")
    listed = platform.pipelines.list()
    assert [r.id for r in listed] == [second.id, first.id]
    assert all(s.log is None for r in listed for s in r.steps)
    assert [r.id for r in platform.pipelines.list(pipeline="t_sum")] == [first.id]
    assert platform.pipelines.list(status="failed") == []
    assert len(platform.pipelines.list(limit=1)) == 1


@pytest.mark.parametrize(
    ("call", "field", "words"),
    [
        (lambda p: run(p, "t_sum", m=3), "params", "takes params n"),
        (lambda p: run(p, "t_probe", x=float("nan")), "params.x", "finite"),
        (lambda p: run(p, "t_sum", n=object()), "params", "JSON"),
        (
            lambda p: p.pipelines.run("t_sum", actor=ACTOR, executor="warp"),
            "executor",
            "known: inline, process",
        ),
        (lambda p: p.pipelines.run("t_sum", actor=ACTOR, trigger="whim"), "trigger", "manual"),
        (lambda p: p.pipelines.list(limit=0), "limit", "between"),
    ],
)
def test_bad_requests_are_refused_naming_the_field(
    platform: Platform, call: Any, field: str, words: str
) -> None:
    with pytest.raises(InvalidInput) as caught:
        call(platform)
    assert caught.value.field == field
    assert words in caught.value.headline
    assert platform.pipelines.list() == []


def test_an_unknown_pipeline_is_not_found_and_the_known_ones_are_named(platform: Platform) -> None:
    with pytest.raises(NotFound) as caught:
        run(platform, "t_nope")
    assert "t_sum" in caught.value.headline and "t_flaky" in caught.value.headline
    assert "OPSLOOP_PIPELINES" in caught.value.headline


def test_a_run_left_by_a_dead_process_is_marked_failed_when_the_store_opens_again(
    settings: Settings,
) -> None:
    first = Platform.open(settings)
    try:
        long_ago, far_ahead = 1_000_000_000.0, 4_000_000_000.0
        with first.db.begin() as conn:
            for run_id, lease_until in (
                ("a" * 32, long_ago),
                ("b" * 32, far_ahead),
                ("c" * 32, None),
            ):
                repo.insert_run(
                    conn,
                    id=run_id,
                    pipeline="t_sum",
                    project="tests",
                    status="running",
                    trigger="manual",
                    trigger_detail={},
                    params={},
                    executor="inline",
                    actor="tester",
                    created_at=long_ago,
                    started_at=long_ago,
                )
                if lease_until is not None:
                    leases.take(conn, repo.lease_name(run_id), "gone:1:x", lease_until)
    finally:
        first.close()
    second = Platform.open(settings)
    try:
        dead, alive, unleased = (second.pipelines.get(c * 32) for c in "abc")
        assert dead.status is PipelineStatus.FAILED and unleased.status is PipelineStatus.FAILED
        assert "abandoned: process gone:1:x, which was running it, stopped" in (dead.error or "")
        assert "abandoned: no process holds it" in (unleased.error or "")
        assert alive.status is PipelineStatus.RUNNING  # its process is still renewing it
        failed = second.events.query(kind="pipeline_run.failed")
        assert sorted(e.data["run_id"] for e in failed) == ["a" * 32, "c" * 32]
        assert second.pipelines.recover() == []  # once only
    finally:
        second.close()
