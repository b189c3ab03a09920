"""Metrics of a model's predictions: plain floats out, None where a metric is undefined.

A key that is absent was not computed (no scores given, or not this kind of task); a key whose
value is None is undefined on this data (ROC AUC when the truth holds one class, precision
when nothing was called positive). NaN never comes out. Every bad input is ``InvalidInput``.

Classification is binary when there are at most two classes; the positive class is
``positive`` if given (the number 1 also finds the label "1"), else the last class: of
``classes`` as given, or of the labels sorted (``1`` of 0/1, ``True``, ``"yes"`` of no/yes).
``scores`` are then the positive class's probability (1-D), or a (rows, 2) table in class
order. With more classes, ``scores`` is a (rows, classes) table, precision/recall/f1 are macro
averages (a class never predicted counts 0) and ROC/PR AUC are macro one-vs-rest over the
classes the truth holds. Scores outside [0, 1] still give ROC/PR AUC; log loss, Brier and ECE
are then None (multiclass log loss also needs rows that sum to 1).
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd
from sklearn.metrics import average_precision_score, precision_recall_fscore_support, roc_auc_score

from opsloop.domain.errors import InvalidInput
from opsloop.domain.evaluation import (
    CalibrationBin,
    ConfusionMatrix,
    Costs,
    Label,
    SegmentResult,
)
from opsloop.services.evaluation._arrays import (
    as_float,
    column,
    labels,
    numbers,
    plain,
    same_length,
)
from opsloop.services.evaluation.ranking import check_k

Metrics = dict[str, float | None]
MISSING_SEGMENT = "(missing)"
CALIBRATION_BINS = 10
_EPS = float(np.finfo(float).eps)


@dataclass(frozen=True)
class ClassificationResult:
    metrics: Metrics
    confusion: ConfusionMatrix
    calibration: list[CalibrationBin]


def classification(
    y_true: Any,
    y_pred: Any,
    *,
    scores: Any = None,
    classes: Sequence[Label] | None = None,
    positive: Label | None = None,
    costs: Costs | None = None,
) -> ClassificationResult:
    """Accuracy, precision, recall, f1, ROC/PR AUC, log loss; binary adds brier, ece, the
    false positive/negative rates and, with ``costs``, ``cost_per_1000``."""
    truth, predicted = labels(y_true, "y_true"), labels(y_pred, "y_pred")
    same_length(y_true=truth, y_pred=predicted)
    known, positive = _classes(truth, predicted, classes, positive)
    index = pd.Index(known, dtype=object)
    true_codes, pred_codes = _codes(index, truth, "y_true"), _codes(index, predicted, "y_pred")
    k = len(known)
    matrix = np.bincount(true_codes * k + pred_codes, minlength=k * k).reshape(k, k)
    confusion = ConfusionMatrix(labels=known, matrix=matrix.tolist())
    if k > 2:
        if costs is not None:
            raise InvalidInput(
                f"costs apply to binary classification only; these labels hold {k} classes",
                field="costs",
            )
        return ClassificationResult(_multiclass(true_codes, pred_codes, scores, k), confusion, [])
    chosen = known.index(positive if positive is not None else known[-1])
    actual = true_codes == chosen
    metrics = _binary(actual, pred_codes == chosen, costs)
    calibration: list[CalibrationBin] = []
    if scores is not None:
        score = _positive_column(scores, k, chosen)
        same_length(y_true=actual, scores=score)
        calibration = _calibration(actual, score) or []
        metrics.update(_binary_scores(actual, score, calibration))
    return ClassificationResult(metrics, confusion, calibration)


def _classes(
    truth: np.ndarray, predicted: np.ndarray, classes: Sequence[Label] | None, positive: Any
) -> tuple[list[Label], Label | None]:
    if classes is None:
        found = [*{plain(v) for v in pd.unique(truth)} | {plain(v) for v in pd.unique(predicted)}]
    else:
        found = [plain(value) for value in classes]
        if not found or len(set(found)) != len(found):
            raise InvalidInput("classes must list each class once", field="classes")
    positive = plain(positive)
    if positive is not None and positive not in found:
        # YAML reads `positive: 1` as a number while the labels may be the text "1".
        same = [value for value in found if str(value) == str(positive)]
        if len(same) == 1:
            positive = same[0]
        elif classes is None and len(found) == 1:
            found.append(positive)
        else:
            raise InvalidInput(
                f"positive label {positive!r} is not one of the classes {found}", field="positive"
            )
    if classes is not None:
        return found, positive
    try:
        return sorted(found), positive
    except TypeError:
        raise InvalidInput(
            "labels mix kinds that cannot be ordered (text and numbers): pass classes",
            field="data",
        ) from None


def _codes(index: pd.Index, values: np.ndarray, name: str) -> np.ndarray:
    codes = np.asarray(index.get_indexer(values.astype(object)))
    unknown = codes < 0
    if unknown.any():
        label = plain(values[int(np.argmax(unknown))])
        raise InvalidInput(f"{name} holds {label!r}, which is not one of the classes", field="data")
    return codes


def _ratio(part: int, whole: int) -> float | None:
    return part / whole if whole else None


def _binary(actual: np.ndarray, called: np.ndarray, costs: Costs | None) -> Metrics:
    rows = len(actual)
    tp = int(np.sum(actual & called))
    fp = int(np.sum(~actual & called))
    fn = int(np.sum(actual & ~called))
    tn = rows - tp - fp - fn
    metrics: Metrics = {
        "accuracy": (tp + tn) / rows,
        "precision": _ratio(tp, tp + fp),
        "recall": _ratio(tp, tp + fn),
        "f1": _ratio(2 * tp, 2 * tp + fp + fn),
        "false_positive_rate": _ratio(fp, fp + tn),
        "false_negative_rate": _ratio(fn, fn + tp),
    }
    if costs is not None:
        spent = fp * costs.false_positive + fn * costs.false_negative
        metrics["cost_per_1000"] = spent / rows * 1000
    return metrics


def _positive_column(scores: Any, k: int, chosen: int) -> np.ndarray:
    table = np.asarray(scores)
    if table.ndim == 2:
        if table.shape[1] != k:
            raise InvalidInput(
                f"scores has {table.shape[1]} columns but there are {k} classes", field="data"
            )
        table = table[:, chosen]
    return numbers(table, "scores")


def _binary_scores(
    actual: np.ndarray, score: np.ndarray, calibration: list[CalibrationBin]
) -> Metrics:
    both = bool(actual.any() and not actual.all())
    metrics: Metrics = {
        "roc_auc": as_float(roc_auc_score(actual, score)) if both else None,
        "pr_auc": as_float(average_precision_score(actual, score)) if actual.any() else None,
        "log_loss": None,
        "brier": None,
        "ece": None,
    }
    if score.min() >= 0 and score.max() <= 1:
        clipped = np.clip(score, _EPS, 1 - _EPS)
        metrics["log_loss"] = float(-np.mean(np.where(actual, np.log(clipped), np.log1p(-clipped))))
        metrics["brier"] = float(np.mean((score - actual) ** 2))
        metrics["ece"] = sum(
            row.count / len(actual) * abs(row.mean_score - row.fraction_positive)
            for row in calibration
        )
    return metrics


def _calibration(actual: np.ndarray, score: np.ndarray) -> list[CalibrationBin] | None:
    """Equal-width bins over [0, 1] (the last one holds 1.0); empty bins are left out.
    None when the scores are not probabilities."""
    if score.min() < 0 or score.max() > 1:
        return None
    edges = np.arange(CALIBRATION_BINS + 1) / CALIBRATION_BINS
    bins = np.clip(np.searchsorted(edges, score, side="right") - 1, 0, CALIBRATION_BINS - 1)
    counts = np.bincount(bins, minlength=CALIBRATION_BINS)
    score_sums = np.bincount(bins, weights=score, minlength=CALIBRATION_BINS)
    positives = np.bincount(bins, weights=actual.astype(float), minlength=CALIBRATION_BINS)
    return [
        CalibrationBin(
            lower=float(edges[i]),
            upper=float(edges[i + 1]),
            mean_score=float(score_sums[i] / counts[i]),
            fraction_positive=float(positives[i] / counts[i]),
            count=int(counts[i]),
        )
        for i in np.flatnonzero(counts)
    ]


def _multiclass(true_codes: np.ndarray, pred_codes: np.ndarray, scores: Any, k: int) -> Metrics:
    rows = len(true_codes)
    precision, recall, f1, _ = precision_recall_fscore_support(
        true_codes, pred_codes, labels=list(range(k)), average="macro", zero_division=0
    )
    metrics: Metrics = {
        "accuracy": float(np.mean(true_codes == pred_codes)),
        "precision": float(precision),
        "recall": float(recall),
        "f1": float(f1),
    }
    if scores is None:
        return metrics
    table = numbers(scores, "scores", ndim=2)
    if table.shape != (rows, k):
        raise InvalidInput(
            f"scores must be a ({rows}, {k}) table, one column per class, got {table.shape}",
            field="data",
        )
    aucs, precisions = [], []
    for code in range(k):
        actual = true_codes == code
        if actual.any():
            precisions.append(average_precision_score(actual, table[:, code]))
            if not actual.all():
                aucs.append(roc_auc_score(actual, table[:, code]))
    metrics["roc_auc"] = float(np.mean(aucs)) if aucs else None
    metrics["pr_auc"] = float(np.mean(precisions)) if precisions else None
    probabilities = table.min() >= 0 and np.allclose(table.sum(axis=1), 1, atol=1e-6)
    chosen = np.clip(table[np.arange(rows), true_codes], _EPS, 1 - _EPS)
    metrics["log_loss"] = float(-np.mean(np.log(chosen))) if probabilities else None
    return metrics


def regression(y_true: Any, y_pred: Any) -> Metrics:
    """mae, rmse, r2 (None when the truth is constant), bias (mean of prediction - truth) and
    mape as a fraction (0.05 is 5%) over the rows whose truth is not 0 (None if none are)."""
    truth, predicted = numbers(y_true, "y_true"), numbers(y_pred, "y_pred")
    same_length(y_true=truth, y_pred=predicted)
    error = predicted - truth
    nonzero = truth != 0
    spread = float(np.sum((truth - truth.mean()) ** 2))
    return {
        "mae": float(np.mean(np.abs(error))),
        "rmse": float(np.sqrt(np.mean(error**2))),
        "mape": float(np.mean(np.abs(error[nonzero] / truth[nonzero]))) if nonzero.any() else None,
        "r2": 1 - float(np.sum(error**2)) / spread if spread > 0 else None,
        "bias": float(np.mean(error)),
    }


def ranking(groups: Any, relevance: Any, scores: Any, *, k: int = 10) -> Metrics:
    """Mean over groups of precision/recall/ndcg/map at ``k``, ranking each group's rows by
    score (ties keep row order): the gate of a pointwise scorer. An item is relevant when its
    relevance is > 0; precision divides by k (as trec_eval does); groups without a relevant
    item count only for precision. ndcg gains 2**relevance - 1 with a log2 discount, unlike
    the ndcg_at_k of ranked lists (``ranking.list_metrics``), whose gain is the grade itself."""
    check_k(k)
    keys = labels(groups, "groups")
    grade, score = numbers(relevance, "relevance"), numbers(scores, "scores")
    rows = same_length(groups=keys, relevance=grade, scores=score)
    if (grade < 0).any():
        row = int(np.argmax(grade < 0))
        raise InvalidInput(f"relevance must be >= 0 (row {row})", field="data")
    codes, uniques = pd.factorize(keys)
    count = len(uniques)
    sizes = np.bincount(codes, minlength=count)
    starts = np.cumsum(sizes) - sizes
    order = _within_groups(codes, score)
    group = codes[order]
    rank = np.arange(rows) - starts[group]
    top = rank < k
    discount = 1.0 / np.log2(rank + 2)
    relevant = grade[order] > 0
    wanted = np.bincount(codes, weights=grade > 0, minlength=count)
    hits = np.bincount(group[top], weights=relevant[top], minlength=count)
    dcg = _discounted(group, top, grade[order], discount, count)
    # The ideal order has the same group blocks, so ``group``, ``rank`` and ``top`` still apply.
    ideal = grade[_within_groups(codes, grade)]
    idcg = _discounted(group, top, ideal, discount, count)
    seen = np.cumsum(relevant)
    before = np.concatenate([[0], seen])[starts]
    precision_here = (seen - before[group]) / (rank + 1)
    counted = top & relevant
    ap = np.bincount(group[counted], weights=precision_here[counted], minlength=count)
    has = wanted > 0
    return {
        "precision_at_k": float(np.mean(hits / k)),
        "recall_at_k": float(np.mean(hits[has] / wanted[has])) if has.any() else None,
        "ndcg_at_k": float(np.mean(dcg[has] / idcg[has])) if has.any() else None,
        "map_at_k": float(np.mean(ap[has] / np.minimum(wanted[has], k))) if has.any() else None,
        "groups": float(count),
    }


def _within_groups(codes: np.ndarray, key: np.ndarray) -> np.ndarray:
    """Row order group by group, highest ``key`` first, ties in row order. Same as
    ``np.lexsort((-key, codes))``; sorting one packed int64 by value is about twice as fast."""
    rows = len(codes)
    by_key = np.argsort(-key, kind="stable")
    place = np.empty(rows, dtype=np.int64)
    place[by_key] = np.arange(rows)
    packed = np.sort(codes.astype(np.int64) * rows + place)
    return by_key[packed % rows]


def _discounted(
    group: np.ndarray, top: np.ndarray, grade: np.ndarray, discount: np.ndarray, count: int
) -> np.ndarray:
    """Each group's discounted cumulative gain over its top rows, gains 2**grade - 1."""
    gains = (np.exp2(grade) - 1) * discount
    return np.bincount(group[top], weights=gains[top], minlength=count)


def by_segment(
    segments: Any, compute: Callable[[np.ndarray], Mapping[str, Any]], *, min_rows: int = 1
) -> dict[str, SegmentResult]:
    """``compute(mask)`` for each value of ``segments`` (keyed ``str(value)``, missing values
    under ``"(missing)"``), sorted by key; segments under ``min_rows`` rows are left out."""
    if isinstance(min_rows, bool) or not isinstance(min_rows, int) or min_rows < 1:
        raise InvalidInput(f"min_rows must be a whole number >= 1, got {min_rows!r}", field="data")
    values = column(segments, "segments")
    codes, uniques = pd.factorize(values)  # a missing value gets code -1
    names = [str(plain(value)) for value in uniques] + [MISSING_SEGMENT]
    ids = {name: number for number, name in enumerate(sorted(set(names)))}
    segment_of = np.array([ids[name] for name in names])[codes]
    results = {}
    for name, number in ids.items():
        mask = segment_of == number
        rows = int(mask.sum())
        if rows and rows >= min_rows:
            figures = {key: as_float(value) for key, value in compute(mask).items()}
            results[name] = SegmentResult(rows=rows, metrics=figures)
    return results
