"""Executors: the process executor isolates a step (a crash or a timeout fails the step, not the
caller), and a new executor is one class, chosen by name."""

from __future__ import annotations

import ctypes
import os
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pandas as pd
import pyarrow as pa
import pytest

import opsloop
from opsloop.domain.entities import ActorKind
from opsloop.domain.errors import InvalidInput
from opsloop.domain.pipelines import PipelineStatus, StepStatus
from opsloop.domain.settings import Settings
from opsloop.services.pipelines.executors import (
    EXECUTORS,
    InlineExecutor,
    StepCall,
    StepOutcome,
    make_executor,
    register_executor,
)
from opsloop.services.platform import Platform

from .conftest import ACTOR


@pytest.fixture
def platform(sqlite_settings: Settings) -> Iterator[Platform]:
    opened = Platform.open(sqlite_settings)
    yield opened
    opened.close()


@opsloop.step
def frame(rows: int) -> pd.DataFrame:
    print(f"frame made by process {os.getpid()}")
    return pd.DataFrame({"x": range(rows)})


@opsloop.step(cache=False)
def crash(data: pd.DataFrame, how: str) -> int:
    if how == "exit":
        os._exit(7)
    if how == "segfault":
        ctypes.string_at(0)
    if how == "raise":
        raise RuntimeError(f"no good with {len(data)} rows")
    return int(data["x"].sum())


@opsloop.pipeline(name="t_isolated")
def isolated(rows: int = 4, how: str = "none") -> None:
    crash(frame(rows), how)


@opsloop.step(timeout_s=1.0, cache=False)
def hang(pid_file: str) -> None:
    Path(pid_file).write_text(str(os.getpid()))
    import time

    time.sleep(120)


@opsloop.pipeline(name="t_hang")
def hang_pipeline(pid_file: str) -> None:
    hang(pid_file)


@opsloop.step(cache=False)
def store(rows: int) -> str:
    return opsloop.log_dataset(pa.table({"x": list(range(rows))}), "xs", project="iso").ref


@opsloop.pipeline(name="t_worker_sdk")
def worker_sdk(rows: int = 2) -> None:
    store(rows)


@opsloop.step(cache=False)
def linger(pid_file: str) -> None:
    Path(pid_file).write_text(str(os.getpid()))
    import time

    time.sleep(120)


@opsloop.pipeline(name="t_linger")
def linger_pipeline(pid_file: str) -> None:
    linger(pid_file)


def run_in_processes(platform: Platform, name: str, **params: Any) -> Any:
    return platform.pipelines.run(name, params=params, actor=ACTOR, executor="process")


def test_values_cross_the_process_boundary_and_the_log_comes_back(platform: Platform) -> None:
    done = run_in_processes(platform, "t_isolated", rows=4)
    assert done.status is PipelineStatus.SUCCEEDED, done.error
    assert done.executor == "process"
    made, summed = done.steps
    assert made.output is not None and made.output.summary == "4 rows × 1 columns"
    assert summed.output is not None and summed.output.summary == "6"
    worker_pid = int((made.log or "").split()[-1])
    assert worker_pid != os.getpid()


@pytest.mark.parametrize(
    ("how", "reason"),
    [("exit", "exit code 7"), ("segfault", "killed by signal SIGSEGV")],
)
def test_a_step_that_kills_its_process_fails_and_the_caller_goes_on(
    platform: Platform, how: str, reason: str
) -> None:
    done = run_in_processes(platform, "t_isolated", how=how)
    assert done.status is PipelineStatus.FAILED
    assert [s.status for s in done.steps] == [StepStatus.SUCCEEDED, StepStatus.FAILED]
    assert done.steps[1].error == f"the step's process ended without a result: {reason}"
    # This process is alive and its store usable: the next run works.
    assert run_in_processes(platform, "t_isolated").status is PipelineStatus.SUCCEEDED


def test_an_exception_in_a_worker_comes_back_as_its_traceback(platform: Platform) -> None:
    done = run_in_processes(platform, "t_isolated", how="raise")
    error = done.steps[1].error or ""
    assert error.startswith("Traceback (most recent call last):")
    assert 'raise RuntimeError(f"no good with {len(data)} rows")' in error
    assert error.rstrip().endswith("RuntimeError: no good with 4 rows")
    assert "_worker.py" not in error


def test_a_step_past_its_timeout_is_killed_with_its_process(
    platform: Platform, tmp_path: Path
) -> None:
    pid_file = tmp_path / "pid"
    done = run_in_processes(platform, "t_hang", pid_file=str(pid_file))
    assert done.status is PipelineStatus.FAILED
    assert done.steps[0].error == (
        "TimeoutError: step hang did not finish within 1 s; its process was killed"
    )
    with pytest.raises(ProcessLookupError):
        os.kill(int(pid_file.read_text()), 0)


def test_a_platform_that_closes_mid_step_stops_the_worker_process(
    sqlite_settings: Settings, tmp_path: Path
) -> None:
    import time

    pid_file = tmp_path / "pid"
    opened = Platform.open(sqlite_settings)
    started = opened.pipelines.start(
        "t_linger", params={"pid_file": str(pid_file)}, actor=ACTOR, executor="process"
    )
    for _ in range(600):  # the worker writes its pid once it runs the step
        if pid_file.exists() and pid_file.read_text():
            break
        time.sleep(0.05)
    worker = int(pid_file.read_text())
    opened.close()
    for _ in range(100):  # killed: gone once reaped
        try:
            os.kill(worker, 0)
        except ProcessLookupError:
            break
        time.sleep(0.05)
    with pytest.raises(ProcessLookupError):
        os.kill(worker, 0)
    again = Platform.open(sqlite_settings)
    try:
        ended = again.pipelines.get(started.id)
    finally:
        again.close()
    assert ended.status is PipelineStatus.FAILED
    assert ended.error == "the process running it shut down before the run ended"


def test_sdk_calls_in_a_worker_act_as_the_pipeline_on_the_same_store(platform: Platform) -> None:
    done = run_in_processes(platform, "t_worker_sdk", rows=5)
    assert done.status is PipelineStatus.SUCCEEDED, done.error
    assert platform.datasets.get_version("iso", "xs").num_rows == 5
    (created,) = platform.events.query(kind="dataset_version.created")
    assert (created.actor, created.actor_kind) == ("pipeline:t_worker_sdk", ActorKind.PIPELINE)


def test_an_unknown_executor_is_refused_naming_the_known_ones() -> None:
    with pytest.raises(InvalidInput) as caught:
        make_executor("ray://head:10001")
    assert caught.value.field == "executor"
    assert "'ray://head:10001' is not known (known: inline, process)" in caught.value.headline


def test_a_new_executor_is_one_class_and_pipelines_do_not_change(platform: Platform) -> None:
    seen: list[tuple[str, str]] = []

    class Recording(InlineExecutor):
        name = "recording"

        def execute(self, call: StepCall) -> StepOutcome:
            seen.append((call.step, self.target))
            return super().execute(call)

    register_executor(Recording)
    try:
        done = platform.pipelines.run(
            "t_isolated", params={"rows": 3}, actor=ACTOR, executor="recording://cluster"
        )
    finally:
        del EXECUTORS["recording"]
    assert done.status is PipelineStatus.SUCCEEDED
    assert done.executor == "recording"
    assert seen == [("frame", "recording://cluster"), ("crash", "recording://cluster")]
