"""Live performance from feedback, and the service levels of the traffic itself.

The metrics are the evaluation's own (``services/evaluation/metrics.py``), computed on the
window's predictions that have a label. A window with fewer than ``min_labels`` labels is
flagged ``uncertain``: its figures are kept, but they rest on too few labels to trust.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import pyarrow as pa

from opsloop.domain.monitoring import RANKING_K
from opsloop.services.evaluation import metrics
from opsloop.services.evaluation.ranking import RANKING_METRICS
from opsloop.services.monitoring.served import CLASSIFICATION, ServedModel, texts

Found = dict[str, tuple[float | None, dict[str, Any] | None]]
CLASSIFICATION_METRICS = ("accuracy", "precision", "recall", "f1", "roc_auc")
REGRESSION_METRICS = ("mae", "rmse", "mape")
PERCENTILES = (50, 95, 99)


def labelled(rows: pa.Table) -> np.ndarray:
    return np.asarray(rows.column("label").is_valid().to_numpy(zero_copy_only=False), dtype=bool)


def realized(
    rows: pa.Table,
    times: np.ndarray,
    served: ServedModel | None,
    min_labels: int,
    *,
    ranking: bool = False,
    k: int = RANKING_K,
    relevance_threshold: float | None = None,
) -> tuple[Found, dict[str, float | None]]:
    """``performance.*`` values of a window's rows, and the realized metrics by name (for
    the estimate to show beside its own). A ``ranking`` (the pass decides it once, see
    ``served.ranks``) is measured at ``k``, an item relevant from ``relevance_threshold``."""
    has_label = labelled(rows)
    count = int(has_label.sum())
    uncertain = count < min_labels
    found: Found = {
        "performance.labels": (float(count), None),
        "performance.label_coverage": (count / rows.num_rows if rows.num_rows else None, None),
        "performance.uncertain": (1.0 if uncertain else 0.0, {"min_labels": min_labels}),
    }
    if count == 0:
        return found, {}
    label_micros = rows.column("label_time").cast("int64").to_numpy(zero_copy_only=False)
    delays = label_micros[has_label] / 1e6 - times[has_label]
    found["performance.label_delay_s"] = (float(np.median(delays)), None)
    truth, predicted = rows.column("label").filter(has_label), rows.column("prediction")
    predicted = predicted.filter(has_label)
    score = numbers(rows.column("score"))[has_label]
    if ranking:
        figures, note = _ranking(truth, predicted, k, relevance_threshold)
    elif (served is not None and served.task == CLASSIFICATION) or _textual(predicted):
        figures, note = _classification(served, truth, predicted, score)
    else:
        figures, note = _regression(truth, predicted)
    detail = {"labels": count, "uncertain": uncertain, **note}
    for name, value in figures.items():
        found[f"performance.{name}"] = (value, detail)
    return found, figures


def _classification(
    served: ServedModel | None, truth: pa.Array, predicted: pa.Array, score: np.ndarray
) -> tuple[dict[str, float | None], dict[str, Any]]:
    if served is None or served.class_keys is None:
        # Classes unknown to the signature: those the labels and predictions hold.
        true_keys = np.asarray(texts(truth).to_pylist(), dtype=object)
        pred_keys = np.asarray(texts(predicted).fill_null("").to_pylist(), dtype=object)
        result = metrics.classification(true_keys, pred_keys)
        return _pick(result.metrics, CLASSIFICATION_METRICS), {}
    true_codes, pred_codes = served.codes(truth), served.codes(predicted)
    valid = (true_codes >= 0) & (pred_codes >= 0)
    note = {"unknown_labels": int((true_codes < 0).sum())} if (true_codes < 0).any() else {}
    if not valid.any():
        return {}, note
    scores = None
    if served.binary and not np.isnan(score[valid]).any():
        scores = served.positive_score(score[valid])
    result = metrics.classification(
        true_codes[valid],
        pred_codes[valid],
        scores=scores,
        classes=list(range(len(served.class_keys))),
        positive=served.positive,
    )
    return _pick(result.metrics, CLASSIFICATION_METRICS), note


def _regression(
    truth: pa.Array, predicted: pa.Array
) -> tuple[dict[str, float | None], dict[str, Any]]:
    actual, guessed = numbers(truth), numbers(predicted)
    valid = np.isfinite(actual) & np.isfinite(guessed)
    note = {"unknown_labels": int((~valid).sum())} if not valid.all() else {}
    if not valid.any():
        return {}, note
    return _pick(metrics.regression(actual[valid], guessed[valid]), REGRESSION_METRICS), note


def _ranking(
    truth: pa.Array, predicted: pa.Array, k: int, threshold: float | None
) -> tuple[dict[str, float | None], dict[str, Any]]:
    from opsloop.services.evaluation.ranking import measure_logged

    figures, counts = measure_logged(predicted.to_pylist(), truth.to_pylist(), k, threshold)
    note: dict[str, Any] = {"k": k, "relevance_threshold": threshold}
    if counts["unknown"]:  # a label that is no list or grades, or an answer that is no list
        note["unknown_labels"] = counts["unknown"]
    if not counts["requests"]:
        return {}, note
    note["with_relevant"] = counts["with_relevant"]
    return _pick(figures, RANKING_METRICS), note


def service_levels(
    rows: pa.Table, length_s: float, counted: tuple[int, int] | None = None
) -> Found:
    """``service.*``: requests, throughput, latency percentiles and (from the server's
    counters, when given) the error rate."""
    requests = rows.num_rows
    found: Found = {
        "service.requests": (float(requests), None),
        "service.throughput_rps": (requests / length_s, None),
    }
    latency = numbers(rows.column("latency_ms"))
    latency = latency[~np.isnan(latency)]
    if len(latency):
        for percentile, value in zip(PERCENTILES, np.percentile(latency, PERCENTILES), strict=True):
            found[f"service.latency_p{percentile}_ms"] = (float(value), None)
    if counted is not None:
        total, errors = counted
        detail = {"requests": total, "errors": errors}
        found["service.error_rate"] = (errors / total if total else None, detail)
    return found


def numbers(values: pa.Array | pa.ChunkedArray) -> np.ndarray:
    """Floats, NaN where a value is missing or not a number."""
    if isinstance(values, pa.ChunkedArray):
        values = values.combine_chunks()
    kind = values.type
    if pa.types.is_integer(kind) or pa.types.is_floating(kind):
        return np.asarray(values.cast(pa.float64()).to_numpy(zero_copy_only=False), dtype=float)
    if pa.types.is_null(kind):
        return np.full(len(values), np.nan)
    import pandas as pd

    return pd.to_numeric(texts(values).to_pandas(), errors="coerce").to_numpy(dtype=float)


def _textual(values: pa.Array | pa.ChunkedArray) -> bool:
    kind = values.type
    return bool(pa.types.is_string(kind) or pa.types.is_boolean(kind))


def _pick(found: dict[str, float | None], names: tuple[str, ...]) -> dict[str, float | None]:
    return {name: found[name] for name in names if name in found}
