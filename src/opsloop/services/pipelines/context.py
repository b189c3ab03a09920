"""What code running inside a pipeline run sees: the run's step runner and whom it acts as.

Both are context variables, so runs on several threads of one process (a server's scheduler,
an alert) each see their own. A step runs with the runner unset: a step called from inside
another step is a plain call.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from contextvars import ContextVar
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Protocol

from opsloop.domain.entities import Actor, ActorKind

if TYPE_CHECKING:
    from opsloop.domain.settings import Settings


def subject_of(pipeline: str) -> str:
    """A pipeline's name on Events: the subject of its runs' and the actor of its steps'."""
    return f"pipeline:{pipeline}"


def pipeline_actor(pipeline: str) -> Actor:
    """Who a pipeline's steps act as, on every Event their work records."""
    return Actor(name=subject_of(pipeline), kind=ActorKind.PIPELINE)


@dataclass(frozen=True)
class Scope:
    """A run as its step code sees it.

    ``platform`` is the Platform executing the run when it runs in this process: the SDK then
    talks to it in process instead of opening the store a second time. In a worker process
    it is None and ``settings`` names the store to open.
    """

    run_id: str
    pipeline: str
    actor: Actor
    platform: Any = None
    settings: Settings | None = None


class StepCaller(Protocol):
    def call_step(self, step: Any, args: tuple[Any, ...], kwargs: dict[str, Any]) -> Any: ...


_scope: ContextVar[Scope | None] = ContextVar("opsloop_pipeline_scope", default=None)
_runner: ContextVar[StepCaller | None] = ContextVar("opsloop_step_runner", default=None)


def current_scope() -> Scope | None:
    return _scope.get()


def current_runner() -> StepCaller | None:
    return _runner.get()


@contextmanager
def scoped(scope: Scope, runner: StepCaller | None) -> Iterator[None]:
    """Run the block as part of ``scope``'s run, with steps routed to ``runner``."""
    scope_token = _scope.set(scope)
    runner_token = _runner.set(runner)
    try:
        yield
    finally:
        _runner.reset(runner_token)
        _scope.reset(scope_token)


@contextmanager
def inside_step() -> Iterator[None]:
    """A step's own body: steps it calls are plain calls."""
    token = _runner.set(None)
    try:
        yield
    finally:
        _runner.reset(token)
