"""One run's step runner: each step call is recorded, served from the cache, or executed with
retries; its output goes to the artifact store.

The cache: a step whose key (hashing.cache_key: name, code, inputs) matches a step run that
succeeded before, in any run, is not executed: it is recorded as ``cached`` and its output is
read back from the artifact store.
"""

from __future__ import annotations

import reprlib
import threading
import time
from collections.abc import Callable
from typing import Any

from opsloop.domain.pipelines import StepOutput, StepStatus, last_line
from opsloop.services.pipelines._capture import BoundedLog
from opsloop.services.pipelines.context import Scope
from opsloop.services.pipelines.definitions import Step
from opsloop.services.pipelines.executors import Executor, StepCall, StepOutcome
from opsloop.services.pipelines.hashing import Unhashable, cache_key
from opsloop.store.artifacts import ArtifactStore
from opsloop.store.database import Database
from opsloop.store.repos import pipelines as repo
from opsloop.store.repos._time import now

MAX_SUMMARY = 200
_MISS = object()
_repr = reprlib.Repr()
_repr.maxstring = MAX_SUMMARY
_repr.maxother = MAX_SUMMARY


class StepFailed(Exception):
    """A step failed its last attempt; the pipeline body sees this unless it catches it."""

    def __init__(self, step: str, position: int, attempts: int, error: str) -> None:
        self.step = step
        self.position = position
        self.attempts = attempts
        self.error = error
        super().__init__(f"step {step} failed ({_plural(attempts, 'attempt')}): {last_line(error)}")


class StepRunner:
    def __init__(
        self,
        db: Database,
        artifacts: ArtifactStore,
        executor: Executor,
        scope: Scope,
        sleep: Callable[[float], None] = time.sleep,
    ) -> None:
        self.db = db
        self.artifacts = artifacts
        self.executor = executor
        self.scope = scope
        self._sleep = sleep
        self._positions = 0
        self._lock = threading.Lock()

    def call_step(self, step: Step, args: tuple[Any, ...], kwargs: dict[str, Any]) -> Any:
        with self._lock:
            self._positions += 1
            position = self._positions
        log = BoundedLog()
        key = None
        if step.cache:
            try:
                key = cache_key(step.qualified_name, step.fn, args, kwargs)
            except Unhashable as exc:
                log.write(f"not cached: {exc}\n")
            except TypeError:
                pass  # the arguments do not fit: the call below fails and says why
        if key is not None:
            value = self._from_cache(step, position, key, log)
            if value is not _MISS:
                return value
        with self.db.begin() as conn:
            step_id = repo.insert_step(
                conn,
                run_id=self.scope.run_id,
                position=position,
                name=step.name,
                status=StepStatus.RUNNING.value,
                cache_key=key,
                attempts=1,
                started_at=now(),
                log="",
            )
        outcome = self._attempts(
            step,
            step_id,
            StepCall(step.name, step.fn, args, kwargs, step.timeout_s, self.scope),
            log,
        )
        return self._record(step, step_id, position, outcome, log)

    def _attempts(
        self, step: Step, step_id: int, call: StepCall, log: BoundedLog
    ) -> tuple[StepOutcome, int]:
        attempt = 0
        while True:
            attempt += 1
            if step.retries:
                log.write(f"--- attempt {attempt} of {step.retries + 1} ---\n")
            if attempt > 1:
                with self.db.begin() as conn:
                    repo.update_step(conn, step_id, attempts=attempt, log=log.text())
            outcome = self.executor.execute(call)
            log.write(outcome.log)
            if outcome.ok or attempt > step.retries:
                return outcome, attempt
            delay = step.backoff_s * 2 ** (attempt - 1)
            log.write(f"{outcome.error}attempt {attempt} failed; next in {delay:g} s\n")
            self._sleep(delay)

    def _record(
        self,
        step: Step,
        step_id: int,
        position: int,
        attempted: tuple[StepOutcome, int],
        log: BoundedLog,
    ) -> Any:
        outcome, attempts = attempted
        error = outcome.error
        if outcome.ok:
            try:
                value, output = self._store(outcome)
            except Exception as exc:
                error = f"the output of step {step.name} could not be stored: " + (
                    f"{type(exc).__name__}: {exc}"
                )
            else:
                with self.db.begin() as conn:
                    repo.update_step(
                        conn,
                        step_id,
                        status=StepStatus.SUCCEEDED.value,
                        attempts=attempts,
                        ended_at=now(),
                        output=output.model_dump(mode="json"),
                        log=log.text(),
                    )
                return value
        error = error or "the step failed without an error"
        with self.db.begin() as conn:
            repo.update_step(
                conn,
                step_id,
                status=StepStatus.FAILED.value,
                attempts=attempts,
                ended_at=now(),
                error=error,
                log=log.text(),
            )
        raise StepFailed(step.name, position, attempts, error)

    def _store(self, outcome: StepOutcome) -> tuple[Any, StepOutput]:
        import cloudpickle

        if outcome.pickled is not None:
            data = outcome.pickled
            value = cloudpickle.loads(data)
        else:
            value = outcome.value
            data = cloudpickle.dumps(value)
        sha256, size = self.artifacts.put(data)
        kind, summary = summarize(value)
        return value, StepOutput(sha256=sha256, size=size, type=kind, summary=summary)

    def _from_cache(self, step: Step, position: int, key: str, log: BoundedLog) -> Any:
        import cloudpickle

        with self.db.read() as conn:
            hit = repo.find_cached(conn, key)
        if hit is None:
            return _MISS
        output, source_run, source_position = hit
        try:
            value = cloudpickle.loads(self.artifacts.get(output["sha256"]))
        except Exception as exc:  # gone or unreadable: run the step instead
            log.write(f"cached output unusable ({type(exc).__name__}: {exc}); running it\n")
            return _MISS
        moment = now()
        log.write(f"cached: same code and inputs as step {source_position} of run {source_run}\n")
        with self.db.begin() as conn:
            repo.insert_step(
                conn,
                run_id=self.scope.run_id,
                position=position,
                name=step.name,
                status=StepStatus.CACHED.value,
                cache_key=key,
                attempts=0,
                started_at=moment,
                ended_at=moment,
                output=output,
                log=log.text(),
            )
        return value


def summarize(value: Any) -> tuple[str, str]:
    """A value's type (module.name) and a one-line description of it."""
    kind = type(value)
    module = kind.__module__
    name = kind.__qualname__ if module == "builtins" else f"{module}.{kind.__qualname__}"
    ref = getattr(value, "ref", None)
    if isinstance(ref, str):
        return name, ref
    shape = getattr(value, "shape", None)
    if isinstance(shape, tuple) and len(shape) == 2 and hasattr(value, "columns"):  # a frame
        return name, f"{shape[0]} rows × {shape[1]} columns"
    if isinstance(shape, tuple):
        return name, f"shape {shape}"
    rows, columns = getattr(value, "num_rows", None), getattr(value, "num_columns", None)
    if isinstance(rows, int) and isinstance(columns, int):  # an Arrow table
        return name, f"{rows} rows × {columns} columns"
    return name, _repr.repr(value)[:MAX_SUMMARY]


def _plural(count: int, word: str) -> str:
    return f"{count} {word}" + ("" if count == 1 else "s")
