"""``ActiveRun``: a run being written. Metrics, params and tags are buffered in memory and sent
in batches by a background thread, so a training loop never waits on the store; whatever is
left goes with the request that ends the run."""

from __future__ import annotations

import math
import threading
import time
import traceback
from collections.abc import Mapping, Sequence
from pathlib import Path
from types import TracebackType
from typing import TYPE_CHECKING, Any

from opsloop.domain.entities import DatasetVersion, ModelVersion, Run
from opsloop.domain.errors import InvalidInput
from opsloop.domain.names import check_key, check_name
from opsloop.services.tracking import clean_params, clean_tags

if TYPE_CHECKING:
    from opsloop.sdk.client import Client

FLUSH_EVERY_S = 2.0
FLUSH_AT_POINTS = 50_000

_active = threading.local()
_now = time.time


class _Series:
    __slots__ = ("next_step", "points")

    def __init__(self) -> None:
        self.points: list[tuple[float, int, int]] = []
        self.next_step = 0


def _refuse(key: str, value: object) -> None:
    raise InvalidInput(
        f"metric {key!r} is {value!r}; metric values must be finite numbers", field=f"metrics.{key}"
    )


def _metric_value(key: str, value: object) -> float:
    if isinstance(value, bool) or not isinstance(value, int | float):
        if hasattr(value, "item"):  # NumPy and torch scalars
            return _metric_value(key, value.item())
        raise InvalidInput(
            f"metric {key!r} must be a number, not {type(value).__name__}", field=f"metrics.{key}"
        )
    number = float(value)
    if not math.isfinite(number):
        _refuse(key, value)
    return number


def active_runs() -> list[ActiveRun]:
    stack: list[ActiveRun] = getattr(_active, "stack", [])
    _active.stack = stack
    return stack


class ActiveRun:
    def __init__(self, client: Client, run: Run) -> None:
        self._client = client
        self.info = run
        self._lock = threading.Lock()
        self._series: dict[str, _Series] = {}
        self._pending = 0
        self._params: dict[str, str] = {}
        self._sent_params: dict[str, str] = dict(run.params)
        self._tags: dict[str, str] = {}
        self._flusher: threading.Thread | None = None
        self._wake = threading.Event()
        self._stopping = False
        self._failure: BaseException | None = None
        self.ended = False

    @property
    def id(self) -> str:
        return self.info.id

    @property
    def project(self) -> str:
        return self.info.project

    # -- logging ------------------------------------------------------------------------
    def log_metric(
        self, key: str, value: float, step: int | None = None, timestamp_ms: int | None = None
    ) -> None:
        """Buffer one point: ``step`` defaults to one past this key's last step."""
        series = self._series.get(key)
        if series is None:
            series = self._open_series(key)
        if value.__class__ is not float:
            value = _metric_value(key, value)
        elif value - value != 0.0:  # NaN or infinite
            _refuse(key, value)
        if step is None:
            step = series.next_step
        series.next_step = step + 1
        # One append of one tuple: atomic, so the flusher thread needs no lock against us.
        series.points.append(
            (value, step, int(_now() * 1000) if timestamp_ms is None else timestamp_ms)
        )
        self._pending += 1
        if self._pending >= FLUSH_AT_POINTS or self._flusher is None:
            self._kick()

    def _open_series(self, key: str) -> _Series:
        check_key(key, "metric key")
        series = self._series[key] = _Series()
        return series

    def log_metrics(self, values: Mapping[str, float], step: int | None = None) -> None:
        for key, value in values.items():
            self.log_metric(key, value, step=step)

    def log_params(self, values: Mapping[str, Any]) -> None:
        clean = clean_params(values)
        with self._lock:
            for key, value in clean.items():
                before = self._params.get(key, self._sent_params.get(key))
                if before is not None and before != value:
                    raise InvalidInput(
                        f"param {key!r} is already {before!r}; params are write-once",
                        field=f"params.{key}",
                    )
            self._params.update(clean)
        self._kick(wake=False)

    def log_param(self, key: str, value: Any) -> None:
        self.log_params({key: value})

    def set_tags(self, values: Mapping[str, Any]) -> None:
        clean = clean_tags(values)
        with self._lock:
            self._tags.update(clean)
        self._kick(wake=False)

    def set_tag(self, key: str, value: Any) -> None:
        self.set_tags({key: value})

    def use_dataset(self, dataset: DatasetVersion | str) -> None:
        """Record that this run read ``dataset`` (a DatasetVersion or ``project/name@version``)."""
        ref = dataset.ref if isinstance(dataset, DatasetVersion) else dataset
        self.info = self._client.add_run_input(self.id, ref)

    def log_artifact(self, source: str | Path | bytes, path: str | None = None) -> None:
        """Attach a file (or bytes) to the run, stored content-addressed."""
        if isinstance(source, bytes):
            if path is None:
                raise InvalidInput("give a path when logging bytes", field="path")
            data = source
        else:
            data = Path(source).read_bytes()
            path = path or Path(source).name
        self.info = self._client.add_run_artifact(self.id, path, self._client.upload(data))

    def log_model(
        self,
        model: Any,
        name: str,
        *,
        input_example: Any = None,
        flavor: str | None = None,
        description: str = "",
    ) -> ModelVersion:
        """Save ``model`` and register it as the next version of ``project/name``."""
        from opsloop.sdk.models import register_model

        return register_model(
            self._client,
            model,
            f"{self.project}/{check_name(name, 'model')}",
            input_example=input_example,
            flavor=flavor,
            description=description,
            run_id=self.id,
        )

    def start_child(self, name: str | None = None, **options: Any) -> ActiveRun:
        from opsloop.sdk.api import start_run

        return start_run(self.project, name, parent=self, client=self._client, **options)

    # -- flushing -------------------------------------------------------------------------
    def _take(self) -> tuple[dict[str, str], dict[str, str], dict[str, dict[str, Sequence[Any]]]]:
        with self._lock:
            params, tags = self._params, self._tags
            self._params, self._tags = {}, {}
            self._sent_params.update(params)
        self._pending = 0
        metrics: dict[str, dict[str, Sequence[Any]]] = {}
        for key, series in list(self._series.items()):
            taken = len(series.points)
            if not taken:
                continue
            points = series.points[:taken]
            del series.points[:taken]  # only ever appended to at the end meanwhile
            values, steps, stamps = zip(*points, strict=True)
            metrics[key] = {"values": values, "steps": steps, "timestamps": stamps}
        return params, tags, metrics

    def flush(self) -> None:
        """Send what is buffered now (the background thread does this on its own)."""
        self._raise_failure()
        params, tags, metrics = self._take()
        if params or tags or metrics:
            self._client.log_batch(self.id, params=params, tags=tags, metrics=metrics)

    def _kick(self, wake: bool = True) -> None:
        """Start the background flusher; ``wake`` it to send now (the buffer is large)."""
        self._raise_failure()
        if self._flusher is None:
            if self.ended:
                raise InvalidInput(
                    f"run {self.id} has ended; it takes no more writes", field="run_id"
                )
            self._flusher = threading.Thread(
                target=self._flush_loop, daemon=True, name=f"opsloop-run-{self.id[:8]}"
            )
            self._flusher.start()
        elif wake:
            self._wake.set()

    def _flush_loop(self) -> None:
        while not self._stopping:
            self._wake.wait(FLUSH_EVERY_S)
            self._wake.clear()
            if self._stopping:
                return
            try:
                self.flush()
            except BaseException as exc:  # kept, and raised in the training thread
                self._failure = exc
                return

    def _raise_failure(self) -> None:
        if self._failure is not None:
            failure, self._failure = self._failure, None
            raise failure

    # -- ending ---------------------------------------------------------------------------
    def end(self, status: str = "FINISHED", error: str | None = None) -> Run:
        if self.ended:
            return self.info
        self._stopping = True
        if self._flusher is not None:
            self._wake.set()
            self._flusher.join()
            self._flusher = None
        self.ended = True
        stack = active_runs()
        if self in stack:
            stack.remove(self)
        failure, self._failure = self._failure, None
        params, tags, metrics = self._take()
        self.info = self._client.end_run(
            self.id, status, error, params=params, tags=tags, metrics=metrics
        )
        if failure is not None:
            raise failure
        return self.info

    def __enter__(self) -> ActiveRun:
        return self

    def __exit__(
        self, kind: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        if exc is None:
            self.end()
        elif isinstance(exc, KeyboardInterrupt):
            self.end("KILLED", "interrupted")
        else:
            self.end("FAILED", "".join(traceback.format_exception(kind, exc, tb)))
