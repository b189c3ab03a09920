"""Where a step's code runs: executors, registered by name, chosen by the ``executor`` setting.

An executor runs one attempt of one step and reports what happened; the runner around it does
the rest (cache, retries, records), so a new executor (Ray: ``ray://host:port``) is one more
class here and no change to pipelines.

- ``inline`` (default): in the calling thread of this process. Cheap; a step that crashes
  the interpreter takes the process with it, and a timeout cannot stop the step.
- ``process``: a fresh ``python -m opsloop.services.pipelines._worker`` per attempt. The call
  goes in a cloudpickle file and the result (or the traceback) comes back in another; a crash
  of the step is a failed attempt, a timeout kills the worker and whatever it started.
"""

from __future__ import annotations

import contextlib
import contextvars
import os
import signal
import subprocess
import sys
import tempfile
import threading
import traceback
from abc import ABC, abstractmethod
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import Any, ClassVar

from opsloop.domain.errors import InvalidInput
from opsloop.services.pipelines._capture import MAX_LOG_CHARS, BoundedLog, captured
from opsloop.services.pipelines.context import Scope, inside_step

WORKER_MODULE = "opsloop.services.pipelines._worker"
RESULT_OK = b"o"
RESULT_ERROR = b"e"


@dataclass(frozen=True)
class StepCall:
    """One attempt to run a step: the function, its arguments, and the run it is part of."""

    step: str
    fn: Callable[..., Any]
    args: tuple[Any, ...]
    kwargs: dict[str, Any]
    timeout_s: float | None
    scope: Scope


@dataclass(frozen=True)
class StepOutcome:
    ok: bool
    value: Any = None
    pickled: bytes | None = None  # the value as cloudpickle bytes when it crossed a process
    error: str | None = None  # the formatted traceback, or why the step's process ended
    log: str = ""


class Executor(ABC):
    """Runs one attempt of a step. ``name`` is the setting's value, or its URL scheme."""

    name: ClassVar[str]

    def __init__(self, target: str = "") -> None:
        self.target = target or self.name

    @abstractmethod
    def execute(self, call: StepCall) -> StepOutcome: ...


class InlineExecutor(Executor):
    name = "inline"

    def execute(self, call: StepCall) -> StepOutcome:
        log = BoundedLog()
        if call.timeout_s is None:
            return self._attempt(call, log)
        # A thread we can stop waiting for (not stop): the step's context goes with it.
        done: list[StepOutcome] = []
        context = contextvars.copy_context()
        worker = threading.Thread(
            target=lambda: done.append(context.run(self._attempt, call, log)),
            name=f"opsloop-step-{call.step}",
            daemon=True,
        )
        worker.start()
        worker.join(call.timeout_s)
        if done:
            return done[0]
        return StepOutcome(
            ok=False,
            error=(
                f"TimeoutError: step {call.step} did not finish within {call.timeout_s:g} s; "
                "the inline executor cannot stop it, so it goes on in the background "
                "(the process executor kills a step that times out)"
            ),
            log=log.text(),
        )

    def _attempt(self, call: StepCall, log: BoundedLog) -> StepOutcome:
        try:
            with captured(log), inside_step():
                value = call.fn(*call.args, **call.kwargs)
        except KeyboardInterrupt:
            raise
        except BaseException as exc:  # SystemExit from step code is a failed step too
            return StepOutcome(ok=False, error=user_traceback(exc), log=log.text())
        return StepOutcome(ok=True, value=value, log=log.text())


class ProcessExecutor(Executor):
    name = "process"

    def execute(self, call: StepCall) -> StepOutcome:
        import cloudpickle

        scope = call.scope
        worker_scope = Scope(scope.run_id, scope.pipeline, scope.actor, None, scope.settings)
        try:
            inner = cloudpickle.dumps((call.fn, call.args, call.kwargs, worker_scope))
        except Exception as exc:
            return StepOutcome(
                ok=False,
                error=f"step {call.step} cannot be sent to a worker process: "
                f"{type(exc).__name__}: {exc}",
            )
        with tempfile.TemporaryDirectory(prefix="opsloop-step-") as folder:
            paths = [Path(folder) / name for name in ("call.pkl", "result.pkl", "log.txt")]
            call_path, result_path, log_path = paths
            call_path.write_bytes(cloudpickle.dumps({"sys_path": list(sys.path), "call": inner}))
            with log_path.open("wb") as log_file:
                process = subprocess.Popen(
                    [sys.executable, "-m", WORKER_MODULE, str(call_path), str(result_path)],
                    stdin=subprocess.DEVNULL,
                    stdout=log_file,
                    stderr=subprocess.STDOUT,
                    start_new_session=True,  # its own process group: a timeout kills it all
                    env=_worker_environment(),
                )
                with _WORKERS_LOCK:
                    _WORKERS.setdefault(scope.run_id, set()).add(process)
                timed_out = False
                try:
                    code = process.wait(timeout=call.timeout_s)
                except subprocess.TimeoutExpired:
                    timed_out = True
                    code = None
                finally:
                    if process.poll() is None:
                        _kill_group(process)
                    with _WORKERS_LOCK:
                        workers = _WORKERS.get(scope.run_id)
                        if workers is not None:
                            workers.discard(process)
                            if not workers:
                                del _WORKERS[scope.run_id]
            log = _tail(log_path)
            if timed_out:
                return StepOutcome(
                    ok=False,
                    error=f"TimeoutError: step {call.step} did not finish within "
                    f"{call.timeout_s:g} s; its process was killed",
                    log=log,
                )
            result = result_path.read_bytes() if result_path.exists() else b""
        if result[:1] == RESULT_OK:
            return StepOutcome(ok=True, pickled=result[1:], log=log)
        if result[:1] == RESULT_ERROR:
            return StepOutcome(ok=False, error=result[1:].decode(errors="replace"), log=log)
        return StepOutcome(
            ok=False,
            error=f"the step's process ended without a result: {_exit_reason(code)}",
            log=log,
        )


# The worker processes running steps now, by run: in their own sessions, they would outlive
# a server that shuts down mid-step unless it stops them (``stop_workers``).
_WORKERS: dict[str, set[subprocess.Popen[bytes]]] = {}
_WORKERS_LOCK = threading.Lock()


def stop_workers(run_ids: Iterable[str]) -> int:
    """Kill the worker processes (and what they started) of these runs' steps; how many."""
    with _WORKERS_LOCK:
        doomed = [process for run_id in run_ids for process in _WORKERS.pop(run_id, ())]
    for process in doomed:
        if process.poll() is None:
            _kill_group(process)
    return len(doomed)


EXECUTORS: dict[str, type[Executor]] = {}


def register_executor(kind: type[Executor]) -> type[Executor]:
    EXECUTORS[kind.name] = kind
    return kind


register_executor(InlineExecutor)
register_executor(ProcessExecutor)


def make_executor(setting: str) -> Executor:
    """The executor a setting names: ``inline``, ``process``, or ``scheme://...``."""
    name = setting.split("://", 1)[0] if "://" in setting else setting
    kind = EXECUTORS.get(name)
    if kind is None:
        known = ", ".join(sorted(EXECUTORS))
        raise InvalidInput(f"executor {setting!r} is not known (known: {known})", field="executor")
    return kind(setting)


def user_traceback(exc: BaseException) -> str:
    """The traceback from the step's own frames on (ours, above them, say nothing)."""
    tb = exc.__traceback__
    while tb is not None and tb.tb_frame.f_code.co_filename in _OUR_FILES:
        tb = tb.tb_next
    return "".join(traceback.format_exception(type(exc), exc, tb))


_OUR_FILES = {__file__, str(Path(__file__).with_name("_worker.py"))}


def _worker_environment() -> dict[str, str]:
    env = dict(os.environ)
    # The worker reaches the store its run's platform uses, never a server from the env.
    env.pop("OPSLOOP_URL", None)
    return env


def _kill_group(process: subprocess.Popen[bytes]) -> None:
    with contextlib.suppress(ProcessLookupError):
        os.killpg(process.pid, signal.SIGKILL)
    process.wait()


def _tail(path: Path) -> str:
    with path.open("rb") as handle:
        size = handle.seek(0, os.SEEK_END)
        keep = MAX_LOG_CHARS
        handle.seek(max(0, size - keep))
        text = handle.read().decode(errors="replace")
    if size > keep:
        return f"[... {size - keep} earlier bytes dropped ...]\n{text}"
    return text


def _exit_reason(code: int | None) -> str:
    if code is None:
        return "it did not exit"
    if code < 0:
        try:
            return f"killed by signal {signal.Signals(-code).name}"
        except ValueError:
            return f"killed by signal {-code}"
    return f"exit code {code}"
