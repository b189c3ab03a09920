"""``@step`` and ``@pipeline``: plain functions, and the process-wide registry of pipelines.

Outside a pipeline run a step is a plain call (so it can be unit-tested as it is). Inside one,
calling it goes through the run's step runner: recorded, cached, retried.
"""

from __future__ import annotations

import functools
import inspect
import math
import threading
from collections.abc import Callable
from typing import Any, TypeVar, overload

from opsloop.domain.errors import Conflict, InvalidInput, NotFound
from opsloop.domain.names import check_label, check_name
from opsloop.domain.numbers import is_number
from opsloop.domain.pipelines import PipelineInfo, PipelineParam
from opsloop.services.pipelines.context import current_runner

F = TypeVar("F", bound=Callable[..., Any])
MAX_RETRIES = 100


class Step:
    """A function run as one recorded step of a pipeline."""

    def __init__(
        self,
        fn: Callable[..., Any],
        *,
        name: str | None = None,
        retries: int = 0,
        backoff_s: float = 1.0,
        timeout_s: float | None = None,
        cache: bool = True,
    ) -> None:
        if not callable(fn):
            raise InvalidInput("@step decorates a function", field="step")
        self.fn = fn
        # Shown, never part of a path or URL: any label will do (``_load`` included).
        self.name = check_label(name or fn.__name__, "step name")
        if not isinstance(retries, int) or isinstance(retries, bool):
            raise InvalidInput("retries must be a whole number", field="retries")
        if not 0 <= retries <= MAX_RETRIES:
            raise InvalidInput(f"retries must be from 0 to {MAX_RETRIES}", field="retries")
        if not is_number(backoff_s) or backoff_s < 0:
            raise InvalidInput(
                "backoff_s must be a number of seconds, 0 or more", field="backoff_s"
            )
        if timeout_s is not None and (not is_number(timeout_s) or timeout_s <= 0):
            raise InvalidInput("timeout_s must be a number of seconds above 0", field="timeout_s")
        self.retries = retries
        self.backoff_s = float(backoff_s)
        self.timeout_s = None if timeout_s is None else float(timeout_s)
        self.cache = bool(cache)
        functools.update_wrapper(self, fn)

    @property
    def qualified_name(self) -> str:
        return f"{self.fn.__module__}.{self.fn.__qualname__}"

    def __call__(self, *args: Any, **kwargs: Any) -> Any:
        runner = current_runner()
        if runner is None:
            return self.fn(*args, **kwargs)
        return runner.call_step(self, args, kwargs)

    def __repr__(self) -> str:
        return f"<step {self.name} ({self.qualified_name})>"


class Pipeline:
    """A function whose body calls steps; registered by name when it is defined."""

    def __init__(self, fn: Callable[..., Any], name: str | None, project: str | None) -> None:
        self.fn = fn
        self.name = check_name(name or fn.__name__, "pipeline name")
        self.project = None if project is None else check_name(project, "project")
        self.signature = inspect.signature(fn)
        for param in self.signature.parameters.values():
            if param.kind in (param.POSITIONAL_ONLY, param.VAR_POSITIONAL):
                raise InvalidInput(
                    f"pipeline {self.name}: parameters are given by name; {param.name!r} cannot be",
                    field="pipeline",
                )
        functools.update_wrapper(self, fn)

    @property
    def qualified_name(self) -> str:
        return f"{self.fn.__module__}.{self.fn.__qualname__}"

    def __call__(self, *args: Any, **kwargs: Any) -> Any:
        """The body as a plain call (nothing recorded): ``opsloop.run_pipeline`` records one."""
        return self.fn(*args, **kwargs)

    def bind(self, params: dict[str, Any]) -> dict[str, Any]:
        """``params`` checked against the pipeline's signature, with the defaults of those not
        given (the ones JSON can hold), so a run records every value it ran with."""
        try:
            bound = self.signature.bind(**params)
        except TypeError as exc:
            raise InvalidInput(
                f"pipeline {self.name} takes {self._described()}: {exc}", field="params"
            ) from None
        bound.apply_defaults()
        return {
            name: value
            for name, value in bound.arguments.items()
            if name in params or _is_json(value)
        }

    def info(self) -> PipelineInfo:
        doc = inspect.getdoc(self.fn) or ""
        return PipelineInfo(
            name=self.name,
            project=self.project,
            description=doc.split("\n\n", 1)[0].replace("\n", " "),
            module=self.fn.__module__,
            params=[
                PipelineParam(
                    name=p.name,
                    required=p.default is p.empty,
                    default=None if p.default is p.empty else _jsonable(p.default),
                )
                for p in self.signature.parameters.values()
                if p.kind is not p.VAR_KEYWORD
            ],
        )

    def _described(self) -> str:
        names = [p.name for p in self.signature.parameters.values() if p.kind is not p.VAR_KEYWORD]
        return "params " + ", ".join(names) if names else "no params"

    def __repr__(self) -> str:
        return f"<pipeline {self.name} ({self.qualified_name})>"


class PipelineRegistry:
    """The pipelines this process knows, by name."""

    def __init__(self) -> None:
        self._pipelines: dict[str, Pipeline] = {}
        self._lock = threading.Lock()

    def add(self, pipeline: Pipeline) -> None:
        """Register; defining the same function again (a re-run notebook cell, a reload)
        replaces it, while another function under a taken name is refused."""
        with self._lock:
            known = self._pipelines.get(pipeline.name)
            if known is not None and known.qualified_name != pipeline.qualified_name:
                raise Conflict(
                    f"pipeline name {pipeline.name!r} is taken by {known.qualified_name}",
                    field="pipeline",
                )
            self._pipelines[pipeline.name] = pipeline

    def remove(self, name: str) -> None:
        with self._lock:
            self._pipelines.pop(name, None)

    def get(self, name: str) -> Pipeline:
        with self._lock:
            found = self._pipelines.get(name)
            if found is not None:
                return found
            known = ", ".join(sorted(self._pipelines)) or "none"
        raise NotFound(
            f"pipeline {name!r} is not registered in this process (known: {known}); "
            "list its module in the `pipelines` setting (OPSLOOP_PIPELINES)",
            field="pipeline",
        )

    def all(self) -> list[Pipeline]:
        with self._lock:
            return sorted(self._pipelines.values(), key=lambda p: p.name)


REGISTRY = PipelineRegistry()


@overload
def step(fn: F, /) -> F: ...


@overload
def step(
    *,
    name: str | None = None,
    retries: int = 0,
    backoff_s: float = 1.0,
    timeout_s: float | None = None,
    cache: bool = True,
) -> Callable[[F], F]: ...


def step(
    fn: Callable[..., Any] | None = None,
    /,
    *,
    name: str | None = None,
    retries: int = 0,
    backoff_s: float = 1.0,
    timeout_s: float | None = None,
    cache: bool = True,
) -> Any:
    """Make a function a pipeline step: ``@step`` or ``@step(retries=2, timeout_s=60)``.

    Failed attempts are retried ``retries`` times, waiting ``backoff_s``, then twice that, and
    so on. ``cache=False`` always runs it (a step with side effects: deploy, notify).
    """

    def wrap(function: Callable[..., Any]) -> Any:
        return Step(
            function,
            name=name,
            retries=retries,
            backoff_s=backoff_s,
            timeout_s=timeout_s,
            cache=cache,
        )

    return wrap if fn is None else wrap(fn)


@overload
def pipeline(fn: F, /) -> F: ...


@overload
def pipeline(*, name: str | None = None, project: str | None = None) -> Callable[[F], F]: ...


def pipeline(
    fn: Callable[..., Any] | None = None,
    /,
    *,
    name: str | None = None,
    project: str | None = None,
) -> Any:
    """Register a function as a pipeline, by ``name`` (default: the function's name). Its
    keyword parameters are the run's params."""

    def wrap(function: Callable[..., Any]) -> Any:
        made = Pipeline(function, name, project)
        REGISTRY.add(made)
        return made

    return wrap if fn is None else wrap(fn)


def _is_json(value: Any) -> bool:
    import orjson

    try:
        orjson.dumps(value)
    except TypeError:
        return False
    return not (isinstance(value, float) and not math.isfinite(value))


def _jsonable(value: Any) -> Any:
    if value is None or isinstance(value, str | int | float | bool):
        return value
    if isinstance(value, list | tuple):
        return [_jsonable(item) for item in value]
    if isinstance(value, dict):
        return {str(key): _jsonable(item) for key, item in value.items()}
    return repr(value)
