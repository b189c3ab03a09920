"""Reading the prediction log for routing: the rows a policy routes, ready to store as items.

The log is read an hour at a time, and only the routed rows are turned into Python objects:
a pass over a busy hour chooses from scores and ids held by Arrow.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from datetime import datetime
from typing import TYPE_CHECKING, Any

import orjson

from opsloop.domain.numbers import is_number
from opsloop.domain.review import ReviewConfig
from opsloop.services.review.routing import SHADOW, Candidate, match, priority, reviews_needed
from opsloop.store.prediction_log import INPUT_PREFIX
from opsloop.store.repos._time import at

if TYPE_CHECKING:
    from opsloop.store.prediction_log import PredictionLog

CHUNK_S = 3600.0


@dataclass(frozen=True)
class Routed:
    """A candidate and the item it becomes (without endpoint and creation time)."""

    candidate: Candidate
    item: dict[str, Any]


def read_routed(
    log: PredictionLog, endpoint: str, config: ReviewConfig, start: float, end: float
) -> list[Routed]:
    """Every primary or canary prediction logged in ``[start, end)`` that ``config`` routes."""
    found: list[Routed] = []
    seen: set[str] = set()  # a prediction logged twice (a retried write) is one item
    chunk_start = start
    while chunk_start < end:
        chunk_end = min(end, chunk_start + CHUNK_S)
        table = log.export(endpoint, since=at(chunk_start), until=at(chunk_end), with_inputs=True)
        chunk_start = chunk_end
        if table.num_rows == 0:
            continue
        ids = table.column("request_id").to_pylist()
        roles = table.column("role").to_pylist()
        predictions = table.column("prediction").to_pylist()
        scores = table.column("score").to_pylist()
        chosen: list[tuple[int, Any]] = []
        for row, request_id in enumerate(ids):
            if roles[row] == SHADOW or request_id is None or request_id in seen:
                continue
            why = match(config, request_id, predictions[row], scores[row])
            if why is not None:
                chosen.append((row, why))
                seen.add(request_id)
        if not chosen:
            continue
        taken = table.take([row for row, _ in chosen]).to_pylist()
        for (_row, why), record in zip(chosen, taken, strict=True):
            classes = _classes(record.get("scores"))
            score = _finite(record.get("score"))
            predicted_at = record["time"].timestamp()
            candidate = Candidate(
                request_id=record["request_id"],
                predicted_at=predicted_at,
                priority=priority(config, record.get("prediction"), score, classes),
                match=why,
            )
            item = {
                "request_id": record["request_id"],
                "reason": why.reason,
                "priority": candidate.priority,
                "status": "open",
                "reviews_needed": reviews_needed(config, why),
                "model": record.get("model") or "",
                "version": int(record.get("version") or 0),
                "prediction": _plain(record.get("prediction")),
                "score": score,
                "inputs": {
                    name.removeprefix(INPUT_PREFIX): _plain(value)
                    for name, value in record.items()
                    if name.startswith(INPUT_PREFIX)
                },
                "predicted_at": predicted_at,
            }
            found.append(Routed(candidate, item))
    return found


def _classes(scores: Any) -> list[str] | None:
    """The class keys of a logged ``scores`` object (JSON text in the log), in class order."""
    if scores is None:
        return None
    if isinstance(scores, str):
        try:
            scores = orjson.loads(scores)
        except orjson.JSONDecodeError:
            return None
    return list(scores) if isinstance(scores, dict) else None


def _finite(value: Any) -> float | None:
    return float(value) if is_number(value) else None


def _plain(value: Any) -> Any:
    """A logged value as the store's JSON keeps it: no NaN or infinity, times as ISO text."""
    if isinstance(value, float) and not math.isfinite(value):
        return None
    if isinstance(value, datetime):
        return value.isoformat()
    if isinstance(value, dict):
        return {str(key): _plain(item) for key, item in value.items()}
    if isinstance(value, list):
        return [_plain(item) for item in value]
    return value
