"""Micro-batching: rows from concurrent requests scored in one ``predict`` call, then logged.

One thread per loaded model takes every request waiting in its queue (up to ``max_batch``
rows), scores them together — one sklearn ``predict`` on 64 rows costs about what it costs on
one — appends the batch to the prediction log in one write, and only then answers the
requests. There is no timer: while a batch is being scored the next one gathers, so a lone
request never waits and a busy model batches more. A batch the model fails on is retried
request by request, so one bad request fails alone.
"""

from __future__ import annotations

import asyncio
import queue
import threading
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import orjson

from opsloop.domain.errors import InvalidInput, OpsloopError, Unavailable

if TYPE_CHECKING:
    from opsloop.services.serving.runtime import LoadedModel, Scored

Answer = bytes | OpsloopError
LogWriter = Callable[[Sequence[dict[str, Any]]], None]


@dataclass(eq=False)
class Job:
    """One request's rows, on their way through a model."""

    rows: list[list[Any]]
    ids: list[str]
    endpoint: str
    deployment: int
    role: str
    started: float  # perf_counter() when the request arrived
    future: asyncio.Future[Answer] | None = None  # None: a shadow copy, logged only


class Batcher:
    def __init__(self, model: LoadedModel, log: LogWriter, max_batch: int = 256) -> None:
        self.model = model
        self.log = log
        self.max_batch = max_batch
        self._queue: queue.SimpleQueue[Job | None] = queue.SimpleQueue()
        self._thread = threading.Thread(
            target=self._run, name=f"opsloop-predict-{model.ref}", daemon=True
        )
        self._stopped = False
        self._thread.start()

    def submit(self, job: Job) -> None:
        if self._stopped:
            raise Unavailable(f"model {self.model.ref} is being unloaded, try again")
        self._queue.put(job)

    def stop(self) -> None:
        """Answer what is queued, then end the thread."""
        self._stopped = True
        self._queue.put(None)

    def join(self, timeout: float | None = None) -> None:
        self._thread.join(timeout)

    def _run(self) -> None:
        carried: Job | None = None
        while True:
            job = carried or self._queue.get()
            carried = None
            if job is None:
                return
            batch, rows = [job], len(job.rows)
            while rows < self.max_batch:
                try:
                    more = self._queue.get_nowait()
                except queue.Empty:
                    break
                if more is None:  # stop() was called: answer this batch, then end
                    self._finish(batch)
                    return
                if rows + len(more.rows) > self.max_batch:
                    carried = more
                    break
                batch.append(more)
                rows += len(more.rows)
            self._finish(batch)

    def _finish(self, batch: list[Job]) -> None:
        try:
            answers = self._score(batch)
        except Exception as exc:  # never let the thread die: every waiter gets an answer
            failure = Unavailable(f"model {self.model.ref} failed: {type(exc).__name__}: {exc}")
            answers = [failure] * len(batch)
        _settle(batch, answers)

    def _score(self, batch: list[Job]) -> list[Answer]:
        rows = [row for job in batch for row in job.rows]
        try:
            scored = self.model.score(rows)
        except Exception as exc:
            if len(batch) == 1:
                return [_model_error(self.model.ref, exc)]
            return [self._score([job])[0] for job in batch]
        finished = time.time()
        done = time.perf_counter()
        records: list[dict[str, Any]] = []
        answers: list[Answer] = []
        start = 0
        version = self.model.version
        schema = self.model.schema
        scores, score = scored.scores, scored.score
        for job in batch:
            end = start + len(job.rows)
            latency_ms = (done - job.started) * 1000.0
            for i, request_id in enumerate(job.ids):
                row = start + i
                records.append(
                    {
                        "request_id": request_id,
                        "time": finished,
                        "endpoint": job.endpoint,
                        "project": version.project,
                        "model": version.model,
                        "version": version.version,
                        "role": job.role,
                        "deployment": job.deployment,
                        "inputs": schema.as_object(job.rows[i]) if schema else {},
                        "prediction": scored.predictions[row],
                        "score": None if score is None else score[row],
                        "scores": None if scores is None else scores[row],
                        "latency_ms": latency_ms,
                    }
                )
            if job.future is not None:
                answers.append(_body(version.ref, job.ids, scored, start, end))
            else:
                answers.append(b"")
            start = end
        try:
            self.log(records)
        except Exception as exc:  # an answer that is not logged is not given
            failure = Unavailable(f"the prediction log refused the batch: {exc}")
            return [failure] * len(batch)
        return answers


def _body(ref: str, ids: list[str], scored: Scored, start: int, end: int) -> bytes:
    predictions = scored.predictions
    scores = scored.scores
    return orjson.dumps(
        {
            "model": ref,
            "predictions": [
                {
                    "id": request_id,
                    "prediction": predictions[row],
                    "scores": None if scores is None else scores[row],
                }
                for request_id, row in zip(ids, range(start, end), strict=True)
            ],
        },
        option=orjson.OPT_SERIALIZE_NUMPY,
    )


def _model_error(ref: str, exc: Exception) -> OpsloopError:
    if isinstance(exc, OpsloopError):
        return exc
    return InvalidInput(
        f"model {ref} could not score these inputs: {type(exc).__name__}: {exc}"[:2000],
        field="inputs",
    )


def _settle(batch: list[Job], answers: list[Answer]) -> None:
    """Hand each waiting request its answer on its own event loop, one wake-up per loop."""
    by_loop: dict[asyncio.AbstractEventLoop, list[tuple[asyncio.Future[Answer], Answer]]] = {}
    for job, answer in zip(batch, answers, strict=True):
        if job.future is not None:
            by_loop.setdefault(job.future.get_loop(), []).append((job.future, answer))
    for loop, settled in by_loop.items():
        try:
            loop.call_soon_threadsafe(_resolve, settled)
        except RuntimeError:  # the loop closed while we worked: nobody is waiting
            continue


def _resolve(settled: list[tuple[asyncio.Future[Answer], Answer]]) -> None:
    for future, answer in settled:
        if not future.done():
            future.set_result(answer)
