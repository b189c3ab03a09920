"""``ActiveRun``: a run being written.

Nothing here waits on the store while a model trains. Metrics, params and tags are buffered in
memory; one background thread for the whole process (``_Flusher``) sends them in batches. The
run itself is created the same way: ``start_run`` returns at once with an id made here, and
the run is created by the flusher within about ``CREATE_AFTER_S``, or together with its end
when it finishes sooner (one request, one transaction), or as soon as something needs it to
exist on the server (a dataset input, an artifact, a model, a child run, ``info``).
"""

from __future__ import annotations

import atexit
import math
import operator
import threading
import time
import traceback
from collections.abc import Callable, Mapping
from pathlib import Path
from types import TracebackType
from typing import TYPE_CHECKING, Any

from opsloop.domain.entities import DatasetVersion, ModelVersion, Run
from opsloop.domain.errors import Conflict, InvalidInput, OpsloopError
from opsloop.domain.names import check_key, check_name
from opsloop.services.tracking import (
    clean_params,
    clean_tags,
    not_finite,
    refuse_changed_params,
)

if TYPE_CHECKING:
    from opsloop.sdk.client import Client

FLUSH_EVERY_S = 0.5
CREATE_AFTER_S = 0.5
FLUSH_AT_POINTS = 50_000
MAX_INT64 = 2**63

_active = threading.local()
_now = time.time

Taken = tuple[dict[str, str], dict[str, str], dict[str, list[tuple[float, int, int]]]]


def _columns(points: dict[str, list[tuple[float, int, int]]]) -> dict[str, dict[str, Any]]:
    """Buffered points as the API's columnar metric batch."""
    metrics: dict[str, dict[str, Any]] = {}
    for key, batch in points.items():
        values, steps, stamps = zip(*batch, strict=True)
        metrics[key] = {"values": values, "steps": steps, "timestamps": stamps}
    return metrics


def active_runs() -> list[ActiveRun]:
    stack: list[ActiveRun] = getattr(_active, "stack", [])
    _active.stack = stack
    return stack


class _Series:
    __slots__ = ("next_step", "points")

    def __init__(self) -> None:
        self.points: list[tuple[float, int, int]] = []
        self.next_step = 0


def _refuse(key: str, value: object) -> None:
    raise not_finite(key, value)


def _whole(key: str, what: str, value: object) -> int:
    """A step or timestamp: a whole number (NumPy's too) from 0 to 2**63 - 1."""
    try:
        number = operator.index(value)  # type: ignore[arg-type]
    except TypeError:
        raise InvalidInput(
            f"metric {key!r}: {what} must be a whole number, not {type(value).__name__}",
            field=f"metrics.{key}",
        ) from None
    if not 0 <= number < MAX_INT64:
        raise InvalidInput(
            f"metric {key!r}: {what} {number} must be from 0 to 2**63 - 1", field=f"metrics.{key}"
        )
    return number


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


class ActiveRun:
    def __init__(self, client: Client, spec: dict[str, Any], parent: ActiveRun | None) -> None:
        self._client = client
        self.id: str = spec["id"]
        self.project: str = spec["project"]
        self._spec: dict[str, Any] | None = spec  # None once the server has the run
        self._parent = parent
        self._send = threading.Lock()  # one request at a time for this run; guards _spec
        self._lock = threading.Lock()  # guards the params and tags buffers
        self._born = time.monotonic()
        self._series: dict[str, _Series] = {}
        self._pending = 0
        self._params: dict[str, str] = {}
        self._sent_params: dict[str, str] = dict(spec.get("params", {}))
        self._tags: dict[str, str] = {}
        self._failure: BaseException | None = None
        self._final: Run | None = None
        self.ended = False
        _flusher.add(self)

    @property
    def info(self) -> Run:
        """The run as the server has it now (as it ended, once ended)."""
        if self._final is not None:
            return self._final
        self._ensure_created()
        return self._client.get_run(self.id)

    # -- logging ------------------------------------------------------------------------
    def log_metric(
        self, key: str, value: float, step: int | None = None, timestamp_ms: int | None = None
    ) -> None:
        """Buffer one point: ``step`` defaults to one past this key's last step."""
        if self.ended:
            self._refuse_ended()
        series = self._series.get(key)
        if series is None:
            series = self._open_series(key)
        if value.__class__ is not float:
            value = _metric_value(key, value)
        elif value - value != 0.0:  # NaN or infinite
            _refuse(key, value)
        if step is None:
            step = series.next_step
        elif step.__class__ is not int or not 0 <= step < MAX_INT64:
            step = _whole(key, "step", step)
        if timestamp_ms is not None and (
            timestamp_ms.__class__ is not int or not 0 <= timestamp_ms < MAX_INT64
        ):
            timestamp_ms = _whole(key, "timestamp_ms", timestamp_ms)
        series.next_step = step + 1
        # One append of one tuple: atomic, so the flusher thread needs no lock against us.
        series.points.append(
            (value, step, int(_now() * 1000) if timestamp_ms is None else timestamp_ms)
        )
        self._pending += 1
        if self._pending >= FLUSH_AT_POINTS:
            _flusher.wake()

    def _open_series(self, key: str) -> _Series:
        check_key(key, "metric key")
        series = self._series[key] = _Series()
        return series

    def log_metrics(self, values: Mapping[str, float], step: int | None = None) -> None:
        for key, value in values.items():
            self.log_metric(key, value, step=step)

    def log_params(self, values: Mapping[str, Any]) -> None:
        if self.ended:
            self._refuse_ended()
        clean = clean_params(values)
        with self._lock:
            # Checked here too, so a mistake fails where it is made, not at the next flush.
            refuse_changed_params(self.id, {**self._sent_params, **self._params}, clean)
            self._params.update(clean)

    def log_param(self, key: str, value: Any) -> None:
        self.log_params({key: value})

    def set_tags(self, values: Mapping[str, Any]) -> None:
        if self.ended:
            self._refuse_ended()
        clean = clean_tags(values)
        with self._lock:
            self._tags.update(clean)

    def set_tag(self, key: str, value: Any) -> None:
        self.set_tags({key: value})

    def use_dataset(self, dataset: DatasetVersion | str) -> None:
        """Record that this run read ``dataset`` (a DatasetVersion or ``project/name@version``)."""
        ref = dataset.ref if isinstance(dataset, DatasetVersion) else dataset
        self._ensure_created()
        self._client.add_run_input(self.id, ref)

    def log_artifact(self, source: str | Path | bytes, path: str | None = None) -> None:
        """Attach a file (or bytes) to the run, stored content-addressed."""
        if isinstance(source, bytes):
            if path is None:
                raise InvalidInput("give a path when logging bytes", field="path")
            data = source
        else:
            data = Path(source).read_bytes()
            path = path or Path(source).name
        self._ensure_created()
        self._client.add_run_artifact(self.id, path, self._client.upload(data))

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

        self._ensure_created()
        return register_model(
            self._client,
            model,
            f"{self.project}/{check_name(name, 'model')}",
            input_example=input_example,
            flavor=flavor,
            description=description,
            run_id=self.id,
        )

    # -- sending ----------------------------------------------------------------------------
    def _take(self) -> Taken:
        """Everything buffered, removed from the buffers (``_restore`` puts it back)."""
        with self._lock:
            params, tags = self._params, self._tags
            self._params, self._tags = {}, {}
        self._pending = 0
        points: dict[str, list[tuple[float, int, int]]] = {}
        for key, series in list(self._series.items()):
            taken = len(series.points)
            if taken:
                points[key] = series.points[:taken]
                del series.points[:taken]  # only ever appended to at the end meanwhile
        return params, tags, points

    def _restore(self, taken: Taken) -> None:
        """Put back a batch that did not reach the server, ahead of what came since."""
        params, tags, points = taken
        with self._lock:
            self._params = {**params, **self._params}
            self._tags = {**tags, **self._tags}
        for key, batch in points.items():
            self._series[key].points[0:0] = batch
            self._pending += len(batch)

    def _sent(self, taken: Taken) -> None:
        with self._lock:
            self._sent_params.update(taken[0])

    def _deliver(self, send: Callable[[Taken], Run | int | None]) -> Run | int | None:
        """Take the buffer and send it; if it did not arrive (the network, the server), put
        it back so nothing logged is lost. A refusal (4xx) is not retried: it would be
        refused again."""
        taken = self._take()
        try:
            result = send(taken)
        except OpsloopError as exc:
            if exc.status >= 500:
                self._restore(taken)
            raise
        except BaseException:
            self._restore(taken)
            raise
        self._sent(taken)
        return result

    def _create(self, end: str | None = None, error: str | None = None) -> Run | None:
        """Create the run on the server with what is buffered. Call with ``_send`` held."""
        if self._spec is None:
            return None
        if self._parent is not None:
            self._parent._ensure_created()
        spec = self._spec

        def send(taken: Taken) -> Run:
            params, tags, points = taken
            body = dict(spec)
            body["params"] = {**body.get("params", {}), **params}
            body["tags"] = {**body.get("tags", {}), **tags}
            body["metrics"] = _columns(points)
            if end is not None:
                body["end"], body["error"] = end, error
            return self._client.create_run(**body)

        run = self._deliver(send)
        self._spec = None
        return run  # type: ignore[return-value]

    def _send_batch(self) -> None:
        def send(taken: Taken) -> int:
            params, tags, points = taken
            return self._client.log_batch(
                self.id, params=params, tags=tags, metrics=_columns(points)
            )

        if self._pending or self._params or self._tags:
            self._deliver(send)

    def _ensure_created(self) -> None:
        self._raise_failure()
        with self._send:
            self._create()

    def flush(self) -> None:
        """Send what is buffered now (the background flusher does this on its own)."""
        self._raise_failure()
        with self._send:
            if self._create() is None:
                self._send_batch()

    def _flush_in_background(self) -> None:
        if self.ended or self._failure is not None:
            return
        if self._spec is not None and time.monotonic() - self._born < CREATE_AFTER_S:
            return
        if not self._send.acquire(blocking=False):
            return  # the run's own thread is sending; it takes the buffer with it
        try:
            if self._create() is None:
                self._send_batch()
        except OpsloopError as exc:
            if exc.status < 500:  # refused: raised in the run's own thread
                self._failure = exc
            # otherwise it never arrived: the buffer was kept, and the next tick tries again
        except Exception as exc:  # anything else is a bug worth showing the user
            self._failure = exc
        finally:
            self._send.release()

    def _raise_failure(self) -> None:
        if self._failure is not None:
            failure, self._failure = self._failure, None
            raise failure

    def _refuse_ended(self) -> None:
        raise Conflict(f"run {self.id} is ended; it takes no more writes", field="run_id")

    # -- ending ---------------------------------------------------------------------------
    def end(self, status: str = "FINISHED", error: str | None = None) -> Run:
        """Send what is left and close the run (``with start_run(...)`` does this for you).

        If the server cannot be reached, nothing is lost and ``end`` may be called again.
        """
        if self.ended and self._final is not None:
            return self._final
        self.ended = True
        stack = active_runs()
        if self in stack:  # the block is over whatever the server says
            stack.remove(self)
        failure, self._failure = self._failure, None
        try:
            with self._send:
                final = self._create(end=status, error=error)
                if final is None:

                    def send(taken: Taken) -> Run:
                        params, tags, points = taken
                        return self._client.end_run(
                            self.id,
                            status,
                            error,
                            params=params,
                            tags=tags,
                            metrics=_columns(points),
                        )

                    final = self._deliver(send)  # type: ignore[assignment]
        except BaseException as exc:
            if not isinstance(exc, OpsloopError) or exc.status >= 500:
                self.ended = False  # it never arrived: the buffer was kept; end() again
            else:
                _flusher.remove(self)  # refused: trying again would be refused again
            raise
        _flusher.remove(self)
        assert final is not None
        self._final = final
        if failure is not None:
            raise failure
        return final

    def __enter__(self) -> ActiveRun:
        return self

    def __exit__(
        self,
        kind: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        if exc is None:
            self.end()
        elif isinstance(exc, KeyboardInterrupt):
            self.end("KILLED", "interrupted")
        else:
            self.end("FAILED", "".join(traceback.format_exception(kind, exc, tb)))


class _Flusher:
    """One daemon thread that sends every open run's buffer every ``FLUSH_EVERY_S``."""

    def __init__(self) -> None:
        self._runs: dict[ActiveRun, None] = {}  # insertion-ordered set
        self._lock = threading.Lock()
        self._wake = threading.Event()
        self._thread: threading.Thread | None = None

    def add(self, run: ActiveRun) -> None:
        with self._lock:
            self._runs[run] = None
            if self._thread is None:
                self._thread = threading.Thread(
                    target=self._loop, name="opsloop-flusher", daemon=True
                )
                self._thread.start()
                atexit.register(self.end_all)

    def remove(self, run: ActiveRun) -> None:
        with self._lock:
            self._runs.pop(run, None)

    def wake(self) -> None:
        self._wake.set()

    def _loop(self) -> None:
        while True:
            self._wake.wait(FLUSH_EVERY_S)
            self._wake.clear()
            with self._lock:
                runs = list(self._runs)
            for run in runs:
                run._flush_in_background()

    def end_all(self) -> None:
        """At exit, close runs left open (newest first, so children end before parents)."""
        with self._lock:
            runs = list(self._runs)
        for run in reversed(runs):
            try:
                run.end()
            except Exception as exc:
                print(f"opsloop: could not end run {run.id} at exit: {exc}")


_flusher = _Flusher()
