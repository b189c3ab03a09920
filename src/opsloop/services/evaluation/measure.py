"""Scoring a model on a dataset and measuring it: the numeric half of an evaluation.

Kept apart from the service so that opening opsloop (a CLI command, an embedded client) does
not import scikit-learn's metrics and pandas; they load on the first evaluation.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import Any

import numpy as np

from opsloop.domain.errors import InvalidInput
from opsloop.domain.evaluation import Gate, MetricReport
from opsloop.services.evaluation import metrics
from opsloop.services.serving.batch import features
from opsloop.services.serving.runtime import LoadedModel

LATENCY_SAMPLE = 100
MAX_LATENCY_SAMPLE = 10_000


def measure_on(
    frame: Any, target: str, segment: str | None, policy: Gate
) -> Callable[[LoadedModel], MetricReport]:
    """How a model is measured on ``frame``, to call for the candidate and the champion: what
    does not depend on the model (a ranking's groups and their judgements) is done once."""
    if policy.item is not None:
        from opsloop.services.evaluation.lists import judged_groups, measure_lists

        groups = judged_groups(frame, target, policy)
        return lambda model: measure_lists(model, groups, segment, policy)
    return lambda model: measure(model, frame, target, segment, policy)


def measure(
    model: LoadedModel,
    frame: Any,
    target: str,
    segment: str | None,
    policy: Gate,
) -> MetricReport:
    """``model``'s metrics on ``frame``, one prediction per row."""
    inputs = features(model, frame)
    scored = model.score_features(inputs, len(frame))
    truth = frame[target].to_numpy()
    predicted = np.asarray(scored.predictions, dtype=object)
    listed = next((p for p in scored.predictions if isinstance(p, list)), None)
    if listed is not None:
        raise InvalidInput(
            f"model {model.ref} answers each row with a list of items ({_shown(listed)}): "
            "name the item column (item: in the gate) and the group column (group:) to "
            "measure it as a ranking",
            field="item",
        )
    task = policy.task or ("classification" if model.classes is not None else "regression")
    proba = scored.probabilities
    if proba is not None and proba.shape[1] == 2:
        proba = proba[:, 1]

    def compute(mask: np.ndarray | None) -> tuple[dict[str, float | None], Any, Any]:
        pick = slice(None) if mask is None else mask
        if task == "classification":
            result = metrics.classification(
                truth[pick],
                predicted[pick],
                scores=None if proba is None else proba[pick],
                classes=model.classes,
                positive=policy.positive,
                costs=policy.costs,
            )
            return dict(result.metrics), result.confusion, result.calibration
        if task == "ranking":
            if policy.group is None:
                raise InvalidInput(
                    "ranking needs a group column (group: in the gate)", field="group"
                )
            values = np.asarray(
                scored.score if scored.score is not None else scored.predictions, dtype=float
            )
            found = metrics.ranking(
                frame[policy.group].to_numpy()[pick], truth[pick], values[pick], k=policy.k
            )
            return dict(found), None, []
        found = metrics.regression(
            truth[pick].astype(float), np.asarray(scored.predictions, dtype=float)[pick]
        )
        return dict(found), None, []

    overall, confusion, calibration = compute(None)
    segments = {}
    if segment is not None:
        segments = metrics.by_segment(frame[segment].to_numpy(), lambda m: compute(m)[0])
    overall.update(latency(model, frame, policy.latency_sample or LATENCY_SAMPLE))
    return MetricReport(
        metrics=overall,
        confusion=confusion,
        calibration=calibration,
        segments=segments,
        rows=len(frame),
        task=task,
    )


def latency(model: LoadedModel, frame: Any, sample: int) -> dict[str, float | None]:
    """Milliseconds to score one row, as an endpoint does (median and 99th percentile)."""
    sample = min(sample, MAX_LATENCY_SAMPLE, len(frame))
    rows = frame.sample(n=sample, random_state=0) if sample < len(frame) else frame
    timings = []
    for i in range(len(rows)):
        one = rows.iloc[i : i + 1]
        start = time.perf_counter()
        model.score_features(features(model, one), 1)
        timings.append((time.perf_counter() - start) * 1000.0)
    return {
        "latency_p50_ms": float(np.percentile(timings, 50)),
        "latency_p99_ms": float(np.percentile(timings, 99)),
    }


def _shown(items: list[object]) -> str:
    head = ", ".join(map(repr, items[:3]))
    return f"[{head}, ...]" if len(items) > 3 else f"[{head}]"
