"""Evaluation metrics: hand-computed tables, sklearn as the referee, and a naive ranking loop."""

from __future__ import annotations

import json
import math
from typing import Any

import numpy as np
import pytest
from sklearn import metrics as skm
from sklearn.preprocessing import label_binarize

from opsloop.domain.errors import InvalidInput
from opsloop.domain.evaluation import Costs
from opsloop.services.evaluation import metrics

# y = [1, 0, 1, 0], p = [.8, .6, .4, .2], called at 0.5: one of each of tp, fp, fn, tn.
SMALL_TRUE = [1, 0, 1, 0]
SMALL_SCORES = [0.8, 0.6, 0.4, 0.2]
SMALL_PRED = [1, 1, 0, 0]
ONE_EACH = Costs(false_positive=1, false_negative=1)


def _no_nan(figures: dict[str, float | None]) -> None:
    for name, value in figures.items():
        assert value is None or (type(value) is float and math.isfinite(value)), name


@pytest.mark.parametrize(
    ("metric", "expected"),
    [
        ("accuracy", 0.5),
        ("precision", 0.5),
        ("recall", 0.5),
        ("f1", 0.5),
        ("false_positive_rate", 0.5),
        ("false_negative_rate", 0.5),
        ("roc_auc", 0.75),  # 3 of the 4 (positive, negative) pairs are ordered right
        ("pr_auc", 5 / 6),  # precision 1 at the first hit, 2/3 at the second
        ("log_loss", -(math.log(0.8) + math.log(0.4)) / 2),
        ("brier", 0.2),
        ("ece", 0.4),  # four one-row bins: |.8-1|, |.6-0|, |.4-1|, |.2-0|, averaged
        ("cost_per_1000", (1 * 5 + 1 * 50) / 4 * 1000),
    ],
)
def test_binary_metrics_by_hand(metric: str, expected: float) -> None:
    result = metrics.classification(
        SMALL_TRUE,
        SMALL_PRED,
        scores=SMALL_SCORES,
        costs=Costs(false_positive=5, false_negative=50),
    )
    assert result.metrics[metric] == pytest.approx(expected, rel=1e-12)
    _no_nan(result.metrics)


def test_binary_confusion_rows_are_truth_and_columns_predictions() -> None:
    result = metrics.classification([0, 0, 0, 1, 1], [0, 1, 1, 1, 0])
    assert result.confusion.labels == [0, 1]
    assert result.confusion.matrix == [[1, 2], [1, 1]]
    assert json.dumps(result.confusion.model_dump())  # numpy scalars would not serialise


@pytest.mark.parametrize("seed", [0, 1, 2])
def test_binary_metrics_agree_with_sklearn(seed: int) -> None:
    rng = np.random.default_rng(seed)
    truth = rng.integers(0, 2, 500)
    scores = np.clip(truth * 0.3 + rng.random(500) * 0.7, 0.001, 0.999)
    predicted = (scores >= 0.5).astype(int)
    got = metrics.classification(truth, predicted, scores=scores).metrics
    assert got["accuracy"] == pytest.approx(skm.accuracy_score(truth, predicted))
    assert got["precision"] == pytest.approx(skm.precision_score(truth, predicted))
    assert got["recall"] == pytest.approx(skm.recall_score(truth, predicted))
    assert got["f1"] == pytest.approx(skm.f1_score(truth, predicted))
    assert got["roc_auc"] == pytest.approx(skm.roc_auc_score(truth, scores))
    assert got["pr_auc"] == pytest.approx(skm.average_precision_score(truth, scores))
    assert got["log_loss"] == pytest.approx(skm.log_loss(truth, scores))
    assert got["brier"] == pytest.approx(skm.brier_score_loss(truth, scores))


@pytest.mark.parametrize(
    ("truth", "predicted", "positive", "labels", "recall"),
    [
        (["ham", "spam", "spam"], ["ham", "spam", "ham"], None, ["ham", "spam"], 0.5),
        (["ham", "spam", "spam"], ["ham", "spam", "ham"], "ham", ["ham", "spam"], 1.0),
        ([False, True, True], [False, True, False], None, [False, True], 0.5),
        (["0", "1", "1"], ["0", "1", "0"], 1, ["0", "1"], 0.5),  # YAML's 1 finds the text "1"
        ([1, 1, 1], [1, 1, 0], None, [0, 1], 2 / 3),
        ([0, 0, 0], [0, 0, 1], 1, [0, 1], None),  # no positives: recall is undefined
    ],
)
def test_positive_class_and_labels(
    truth: list[Any], predicted: list[Any], positive: Any, labels: list[Any], recall: Any
) -> None:
    result = metrics.classification(truth, predicted, positive=positive)
    assert result.confusion.labels == labels
    assert [type(label) for label in result.confusion.labels] == [type(x) for x in labels]
    assert result.metrics["recall"] == (pytest.approx(recall) if recall is not None else None)


@pytest.mark.parametrize(
    ("truth", "predicted", "scores", "undefined"),
    [
        ([1, 1, 1], [1, 1, 0], [0.9, 0.8, 0.2], {"roc_auc", "false_positive_rate"}),
        ([0, 0, 1], [0, 0, 0], [0.1, 0.2, 0.3], {"precision"}),
        (
            [0, 0],
            [0, 0],
            [0.1, 0.2],
            {"roc_auc", "pr_auc", "precision", "recall", "f1", "false_negative_rate"},
        ),
    ],
)
def test_undefined_metrics_are_none_not_nan(
    truth: list[int], predicted: list[int], scores: list[float], undefined: set[str]
) -> None:
    got = metrics.classification(truth, predicted, scores=scores, positive=1).metrics
    assert {name for name, value in got.items() if value is None} == undefined
    _no_nan(got)


def test_without_scores_score_metrics_are_absent() -> None:
    got = metrics.classification([0, 1], [0, 1]).metrics
    assert not {"roc_auc", "pr_auc", "log_loss", "brier", "ece"} & got.keys()


def test_scores_that_are_not_probabilities_still_rank() -> None:
    result = metrics.classification([0, 1, 1], [0, 1, 1], scores=[-2.0, 0.5, 3.0])
    assert result.metrics["roc_auc"] == 1.0
    assert result.metrics["log_loss"] is None and result.metrics["ece"] is None
    assert result.calibration == []


def test_two_column_scores_take_the_positive_column() -> None:
    table = np.array([[0.2, 0.8], [0.4, 0.6], [0.6, 0.4], [0.8, 0.2]])
    got = metrics.classification(SMALL_TRUE, SMALL_PRED, scores=table).metrics
    assert got["roc_auc"] == pytest.approx(0.75)


def test_calibration_bins_skip_empty_ones_and_hold_the_edges() -> None:
    scores = [0.0, 0.05, 0.3, 0.35, 1.0]
    result = metrics.classification([0, 1, 0, 1, 1], [0, 0, 0, 0, 1], scores=scores)
    rows = [(b.lower, b.upper, b.count, b.fraction_positive) for b in result.calibration]
    assert rows == [(0.0, 0.1, 2, 0.5), (0.3, 0.4, 2, 0.5), (0.9, 1.0, 1, 1.0)]
    assert result.calibration[1].mean_score == pytest.approx(0.325)


def test_multiclass_agrees_with_sklearn() -> None:
    rng = np.random.default_rng(7)
    classes = ["cat", "dog", "eel"]
    truth_codes = rng.integers(0, 3, 400)
    raw = rng.random((400, 3)) + np.eye(3)[truth_codes]
    scores = raw / raw.sum(axis=1, keepdims=True)
    predicted_codes = scores.argmax(axis=1)
    predicted_codes[:30] = (predicted_codes[:30] + 1) % 3
    truth = np.array(classes)[truth_codes]
    predicted = np.array(classes)[predicted_codes]
    result = metrics.classification(truth, predicted, scores=scores, classes=classes)
    got = result.metrics
    assert got["accuracy"] == pytest.approx(skm.accuracy_score(truth, predicted))
    for name, score in [("precision", skm.precision_score), ("recall", skm.recall_score)]:
        assert got[name] == pytest.approx(score(truth, predicted, average="macro"))
    assert got["f1"] == pytest.approx(skm.f1_score(truth, predicted, average="macro"))
    assert got["roc_auc"] == pytest.approx(
        skm.roc_auc_score(truth, scores, multi_class="ovr", average="macro", labels=classes)
    )
    binarised = label_binarize(truth, classes=classes)
    assert got["pr_auc"] == pytest.approx(
        skm.average_precision_score(binarised, scores, average="macro")
    )
    assert got["log_loss"] == pytest.approx(skm.log_loss(truth, scores, labels=classes))
    assert "brier" not in got and "false_positive_rate" not in got
    assert result.confusion.matrix == skm.confusion_matrix(truth, predicted).tolist()


def test_multiclass_class_never_predicted_counts_zero_without_a_warning() -> None:
    got = metrics.classification([0, 1, 2], [0, 1, 1]).metrics
    assert got["precision"] == pytest.approx((1 + 0.5 + 0) / 3)


@pytest.mark.parametrize(
    ("call", "field", "words"),
    [
        (lambda: metrics.classification([0, 1], [0]), "data", "y_pred has 1 rows but y_true has 2"),
        (lambda: metrics.classification([], []), "data", "y_true is empty"),
        (lambda: metrics.classification([0, None], [0, 1]), "data", "missing label (row 1)"),
        (lambda: metrics.classification([0, 1], [0, 1], scores=[0.1]), "data", "scores has 1"),
        (lambda: metrics.classification([0, 1], [0, 1], scores=[0.1, math.nan]), "data", "row 1"),
        (lambda: metrics.classification([0, 1], [0, 1], positive=7), "positive", "7"),
        (
            lambda: metrics.classification(np.array([0, "a"], dtype=object), [0, 0]),
            "data",
            "pass classes",
        ),
        (lambda: metrics.classification([0, 2], [0, 1], classes=[0, 1]), "data", "holds 2"),
        (
            lambda: metrics.classification([0, 1, 2], [0, 1, 2], costs=ONE_EACH),
            "costs",
            "binary classification only",
        ),
        (
            lambda: metrics.classification([0, 1, 2], [0, 1, 2], scores=np.ones((3, 2))),
            "data",
            "(3, 3) table",
        ),
        (lambda: metrics.regression([1.0, 2.0], [1.0]), "data", "y_pred has 1 rows"),
        (lambda: metrics.regression(["a"], ["b"]), "data", "must hold numbers"),
        (lambda: metrics.ranking([1, 1], [0, -1], [0.1, 0.2]), "data", ">= 0 (row 1)"),
        (lambda: metrics.ranking([1], [1], [0.1], k=0), "k", ">= 1"),
        (lambda: metrics.ranking([1, None], [1, 0], [0.1, 0.2]), "data", "groups"),
    ],
)
def test_bad_input_names_the_field(call: Any, field: str, words: str) -> None:
    with pytest.raises(InvalidInput) as caught:
        call()
    assert caught.value.field == field
    assert words in caught.value.headline


@pytest.mark.parametrize(
    ("truth", "predicted", "expected"),
    [
        (
            [1.0, 0.0, 3.0],
            [2.0, 0.0, 2.0],
            {
                "mae": 2 / 3,
                "rmse": math.sqrt(2 / 3),
                "mape": 2 / 3,  # rows with truth 0 are left out: (1/1 + 1/3) / 2
                "r2": 4 / 7,
                "bias": 0.0,
            },
        ),
        ([2.0, 2.0], [3.0, 3.0], {"mae": 1.0, "rmse": 1.0, "mape": 0.5, "r2": None, "bias": 1.0}),
        ([0.0, 0.0], [1.0, -1.0], {"mae": 1.0, "rmse": 1.0, "mape": None, "r2": None, "bias": 0.0}),
    ],
)
def test_regression_by_hand(
    truth: list[float], predicted: list[float], expected: dict[str, float | None]
) -> None:
    got = metrics.regression(truth, predicted)
    assert got == {k: v if v is None else pytest.approx(v) for k, v in expected.items()}


def test_regression_agrees_with_sklearn() -> None:
    rng = np.random.default_rng(3)
    truth = rng.random(300) * 10 + 1
    predicted = truth + rng.normal(0, 1, 300)
    got = metrics.regression(truth, predicted)
    assert got["mae"] == pytest.approx(skm.mean_absolute_error(truth, predicted))
    assert got["rmse"] == pytest.approx(skm.root_mean_squared_error(truth, predicted))
    assert got["mape"] == pytest.approx(skm.mean_absolute_percentage_error(truth, predicted))
    assert got["r2"] == pytest.approx(skm.r2_score(truth, predicted))


def _naive_ranking(groups: Any, relevance: Any, scores: Any, k: int) -> dict[str, float]:
    by_group: dict[Any, list[int]] = {}
    for row, group in enumerate(groups):
        by_group.setdefault(group, []).append(row)
    precisions, recalls, ndcgs, aps = [], [], [], []
    for rows in by_group.values():
        ranked = sorted(rows, key=lambda row: -scores[row])[:k]  # stable: ties keep row order
        wanted = sum(relevance[row] > 0 for row in rows)
        hits = sum(relevance[row] > 0 for row in ranked)
        precisions.append(hits / k)
        if not wanted:
            continue
        recalls.append(hits / wanted)
        dcg = sum((2 ** relevance[r] - 1) / math.log2(i + 2) for i, r in enumerate(ranked))
        best = sorted((relevance[row] for row in rows), reverse=True)[:k]
        ndcgs.append(dcg / sum((2**g - 1) / math.log2(i + 2) for i, g in enumerate(best)))
        found, total = 0, 0.0
        for i, row in enumerate(ranked):
            if relevance[row] > 0:
                found += 1
                total += found / (i + 1)
        aps.append(total / min(wanted, k))
    return {
        "precision_at_k": float(np.mean(precisions)),
        "recall_at_k": float(np.mean(recalls)),
        "ndcg_at_k": float(np.mean(ndcgs)),
        "map_at_k": float(np.mean(aps)),
        "groups": float(len(by_group)),
    }


def test_ranking_by_hand() -> None:
    # Group "a" ranks an irrelevant item first; group "b" has nothing relevant.
    got = metrics.ranking(["a", "a", "a", "b"], [0, 1, 1, 0], [0.9, 0.8, 0.7, 0.5], k=2)
    dcg = 1 / math.log2(3)
    assert got == {
        "precision_at_k": pytest.approx((1 / 2 + 0) / 2),
        "recall_at_k": pytest.approx(1 / 2),
        "ndcg_at_k": pytest.approx(dcg / (1 + dcg)),
        "map_at_k": pytest.approx((1 / 2) / 2),
        "groups": 2.0,
    }


@pytest.mark.parametrize(("seed", "k", "tied"), [(0, 1, False), (1, 3, False), (2, 10, True)])
def test_ranking_matches_a_naive_loop(seed: int, k: int, tied: bool) -> None:
    rng = np.random.default_rng(seed)
    rows = 3000
    groups = rng.integers(0, 400, rows)
    relevance = rng.integers(0, 4, rows) * (rng.random(rows) < 0.3)
    scores = rng.integers(0, 5, rows).astype(float) if tied else rng.random(rows)
    got = metrics.ranking(groups, relevance, scores, k=k)
    expected = _naive_ranking(groups.tolist(), relevance.tolist(), scores.tolist(), k)
    assert got == {name: pytest.approx(value) for name, value in expected.items()}


@pytest.mark.parametrize("k", [1, 3, 8])
def test_ranking_ndcg_matches_sklearn_on_a_dense_grid(k: int) -> None:
    rng = np.random.default_rng(k)
    relevance = rng.integers(0, 4, (50, 8))
    relevance[:, 0] = np.maximum(relevance[:, 0], 1)  # every query has a relevant item
    scores = rng.random((50, 8))
    groups = np.repeat(np.arange(50), 8)
    got = metrics.ranking(groups, relevance.ravel(), scores.ravel(), k=k)
    assert got["ndcg_at_k"] == pytest.approx(skm.ndcg_score(2.0**relevance - 1, scores, k=k))


def test_by_segment_keys_values_as_text_and_missing_apart() -> None:
    segments = np.array(["html", "pdf", None, "html", 1, "1"], dtype=object)
    seen: list[int] = []

    def compute(mask: np.ndarray) -> dict[str, Any]:
        seen.append(int(mask.sum()))
        return {"rows_seen": np.int64(mask.sum()), "undefined": float("nan")}

    got = metrics.by_segment(segments, compute, min_rows=2)
    assert list(got) == ["1", "html"]  # 1 and "1" share a key; "pdf" and missing are too small
    assert got["html"].rows == 2
    assert got["1"].metrics == {"rows_seen": 2.0, "undefined": None}
    everything = metrics.by_segment(segments, lambda mask: {})
    assert list(everything) == ["(missing)", "1", "html", "pdf"]
    assert sorted(seen) == [2, 2]
