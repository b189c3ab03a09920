"""The parts of a monitor pass, each against figures worked out by hand on small inputs."""

from __future__ import annotations

from datetime import UTC, datetime

import numpy as np
import pyarrow as pa
import pytest

from opsloop.cli.monitoring import sparkline
from opsloop.domain.entities import ModelVersion, Signature
from opsloop.domain.errors import InvalidInput
from opsloop.services.drift import DriftReference
from opsloop.services.monitoring.estimate import Calibration, estimate
from opsloop.services.monitoring.inputs import CATEGORICAL, NUMERIC, Feature, coerce
from opsloop.services.monitoring.performance import realized, service_levels
from opsloop.services.monitoring.quality import quality_values
from opsloop.services.monitoring.reference import Reference
from opsloop.services.monitoring.served import ServedModel, ranks
from opsloop.services.monitoring.window import (
    Window,
    chunks,
    closed_before,
    first_after,
    index_of,
    span,
    window_sums,
)

TIME = pa.timestamp("us", tz="UTC")


def version(classes: list[object] | None, output: str = "long") -> ModelVersion:
    return ModelVersion(
        project="mod",
        model="violation",
        version=1,
        flavor="sklearn",
        sha256="0" * 64,
        size=1,
        signature=Signature(classes=classes, output_type=output),
        created_at=datetime(2026, 1, 1, tzinfo=UTC),
        created_by="t",
    )


def logged(
    predictions: list[object],
    labels: list[object],
    *,
    scores: list[float | None] | None = None,
    delays: list[float | None] | None = None,
) -> tuple[pa.Table, np.ndarray]:
    rows = len(predictions)
    times = np.arange(rows, dtype=float) * 10.0
    delays = delays or [None if label is None else 5.0 for label in labels]
    label_times = [
        None if d is None else int((t + d) * 1e6) for t, d in zip(times, delays, strict=True)
    ]
    table = pa.table(
        {
            "prediction": pa.array(predictions),
            "score": pa.array(scores or [None] * rows, pa.float64()),
            "label": pa.array(labels),
            "label_time": pa.array(label_times, pa.int64()).cast(TIME),
            "latency_ms": pa.array([1.0] * rows),
        }
    )
    return table, times


def test_live_performance_counts_labels_coverage_and_delay() -> None:
    served = ServedModel.of(version([0, 1]))
    rows, times = logged(
        [1, 1, 1, 0, 0, 0],
        [1, 0, 1, None, 0, None],
        scores=[0.9, 0.6, 0.8, 0.3, 0.2, 0.1],
        delays=[10.0, 20.0, 30.0, None, 40.0, None],
    )
    found, figures = realized(rows, times, served, min_labels=5)
    assert found["performance.labels"][0] == 4
    assert found["performance.label_coverage"][0] == pytest.approx(4 / 6)
    assert found["performance.label_delay_s"][0] == pytest.approx(25.0)
    assert found["performance.uncertain"][0] == 1.0  # 4 labels < 5
    # labelled rows (truth, predicted): (1,1) (0,1) (1,1) (0,0)
    assert figures["accuracy"] == pytest.approx(3 / 4)
    assert figures["precision"] == pytest.approx(2 / 3)
    assert figures["recall"] == pytest.approx(1.0)
    assert figures["f1"] == pytest.approx(0.8)
    assert figures["roc_auc"] == pytest.approx(1.0)  # 0.9 and 0.8 rank above 0.6 and 0.2
    assert found["performance.accuracy"][1] == {"labels": 4, "uncertain": True}
    assert realized(rows, times, served, min_labels=4)[0]["performance.uncertain"][0] == 0.0


def test_labels_match_classes_by_their_text_and_unknown_ones_are_counted() -> None:
    served = ServedModel.of(version([0, 1]))
    rows, times = logged([1, 0, 1, 0], ["1", "0", "0", "maybe"])
    found, figures = realized(rows, times, served, min_labels=1)
    assert figures["accuracy"] == pytest.approx(2 / 3)  # "maybe" is no class: left out
    assert found["performance.labels"][0] == 4
    assert found["performance.accuracy"][1]["unknown_labels"] == 1


def test_a_window_without_labels_is_uncertain_and_has_no_metrics() -> None:
    rows, times = logged([1, 0], [None, None])
    found, figures = realized(rows, times, ServedModel.of(version([0, 1])), min_labels=30)
    assert figures == {}
    assert found["performance.labels"][0] == 0
    assert found["performance.label_coverage"][0] == 0.0
    assert found["performance.uncertain"][0] == 1.0
    assert "performance.label_delay_s" not in found


def test_regression_performance() -> None:
    served = ServedModel.of(version(None, output="double"))
    rows, times = logged([2.0, 4.0, 10.0], [1.0, 5.0, 10.0])
    _, figures = realized(rows, times, served, min_labels=1)
    assert figures == pytest.approx(
        {"mae": 2 / 3, "rmse": np.sqrt(2 / 3), "mape": (1.0 + 0.2 + 0.0) / 3}
    )


@pytest.mark.parametrize(
    ("task", "predictions", "ranking"),
    [
        (None, [[3, 8], [5]], True),  # no model to ask: answers logged as lists rank
        (None, ['["3", "8"]', None], True),  # their JSON text too
        (None, [1, 0], False),
        ("ranking", [1, 0], True),  # else the served model's task decides
        ("classification", [[3, 8], [5]], False),  # a declared task wins over lists seen
    ],
)
def test_a_pass_measures_a_ranking_when_the_served_task_says_so(
    task: str | None, predictions: list[object], ranking: bool
) -> None:
    served = None if task is None else ServedModel.of(version([0, 1]), task=task)
    assert ranks(served, pa.table({"prediction": pa.array(predictions)})) is ranking


def test_a_ranking_is_measured_on_its_lists_at_k() -> None:
    # The log keeps labels of mixed kinds (a click list, item grades) as their JSON text.
    rows, times = logged([["a", "b"], ["c", "d"], ["e"]], ['["b"]', '{"x": 5}', None])
    found, figures = realized(rows, times, None, min_labels=1, ranking=True, k=2)
    assert figures["hit_rate_at_k"] == 0.5  # "b" found for the first; "x" not for the second
    assert figures["mrr"] == 0.25
    assert found["performance.mrr"][1] == {
        "labels": 2,
        "uncertain": False,
        "k": 2,
        "relevance_threshold": None,
        "with_relevant": 2,
    }


def test_service_levels() -> None:
    rows = pa.table({"latency_ms": pa.array([float(v) for v in range(1, 101)])})
    found = service_levels(rows, 50.0, (200, 5))
    assert found["service.requests"][0] == 100
    assert found["service.throughput_rps"][0] == 2.0
    assert found["service.latency_p50_ms"][0] == pytest.approx(50.5)
    assert found["service.latency_p95_ms"][0] == pytest.approx(95.05)
    assert found["service.latency_p99_ms"][0] == pytest.approx(99.01)
    assert found["service.error_rate"] == (0.025, {"requests": 200, "errors": 5})
    assert "service.error_rate" not in service_levels(rows, 50.0)


def test_the_estimate_is_the_expected_confusion_matrix() -> None:
    identity = Calibration(
        binary=True, scores=np.array([0.0, 1.0]), probabilities=np.array([0.0, 1.0]), rows=2
    )
    score = np.array([0.9, 0.8, 0.3, 0.1, np.nan])
    called = np.array([True, True, False, False, True])
    found = estimate(identity, score, called)
    # tp 0.9+0.8, fp 0.1+0.2, fn 0.3+0.1, tn 0.7+0.9 (the row without a score is left out)
    assert found["accuracy"] == pytest.approx((1.7 + 1.6) / 4)
    assert found["precision"] == pytest.approx(1.7 / 2.0)
    assert found["recall"] == pytest.approx(1.7 / 2.1)
    assert found["f1"] == pytest.approx(3.4 / (3.4 + 0.3 + 0.4))


def test_the_estimate_is_close_to_the_realized_accuracy_on_calibrated_scores() -> None:
    rng = np.random.default_rng(7)
    reference_score = rng.uniform(0, 1, 20_000)
    truth = rng.uniform(0, 1, 20_000) < reference_score  # calibrated by construction
    calibration = Calibration.fit(reference_score, truth, binary=True)
    # The live window's scores are distributed differently (covariate shift).
    score = rng.beta(2.0, 5.0, 20_000)
    actual = rng.uniform(0, 1, 20_000) < score
    called = score >= 0.5
    found = estimate(calibration, score, called)
    tp = np.sum(actual & called)
    assert found["accuracy"] == pytest.approx(np.mean(actual == called), abs=0.02)
    assert found["precision"] == pytest.approx(tp / called.sum(), abs=0.03)
    assert found["recall"] == pytest.approx(tp / actual.sum(), abs=0.03)


def test_a_multiclass_estimate_is_the_mean_calibrated_confidence() -> None:
    calibration = Calibration.fit(
        np.array([0.4, 0.4, 0.9, 0.9]), np.array([False, True, True, True]), binary=False
    )
    assert estimate(calibration, np.array([0.4, 0.9]), None) == {
        "accuracy": pytest.approx((0.5 + 1.0) / 2)
    }


def test_quality_counts_missing_out_of_range_unseen_and_violations() -> None:
    features = [Feature("x", NUMERIC, "double"), Feature("lang", CATEGORICAL, "string")]
    drift = DriftReference.prepare(
        pa.table({"x": [0.0, 10.0], "lang": ["en", "fr"]}), categorical=["lang"]
    )
    reference = Reference("mod/posts@1", features, drift=drift)
    columns = {
        "x": coerce(pa.array(["1", "20", None, "oops", "5", "-3"]), features[0]),
        "lang": coerce(pa.array(["en", "de", None, "en", "xx", "fr"]), features[1]),
    }
    first, second = quality_values(columns, features, reference, [(0, 4), (4, 6)])
    # window 1: x = 1, 20 (outside), missing, "oops" (a violation); lang: en, de (unseen), missing
    assert first["quality.missing_share"] == (2 / 8, {"features": {"x": 1, "lang": 1}, "cells": 8})
    assert first["quality.schema_violations"][0] == 1
    assert first["quality.schema_violations"][1] == {"features": {"x": 1, "lang": 0}}
    assert first["quality.out_of_range_share"] == (1 / 2, {"features": {"x": 1}, "cells": 2})
    assert first["quality.unseen_share"] == (1 / 3, {"features": {"lang": 1}, "cells": 3})
    # window 2: x = 5, -3 (outside); lang: xx (unseen), fr
    assert second["quality.out_of_range_share"][0] == 1 / 2
    assert second["quality.unseen_share"][0] == 1 / 2
    assert second["quality.missing_share"][0] == 0.0


def test_quality_without_a_reference_still_counts_missing_values_and_violations() -> None:
    features = [Feature("x", NUMERIC, "long")]
    columns = {"x": coerce(pa.array([1.0, 1.5, None]), features[0])}
    (found,) = quality_values(columns, features, None, [(0, 3)])
    assert found["quality.missing_share"][0] == pytest.approx(1 / 3)
    assert found["quality.schema_violations"][0] == 1  # 1.5 is not a whole number
    assert "quality.out_of_range_share" not in found and "quality.unseen_share" not in found


@pytest.mark.parametrize(
    ("values", "feature", "violations"),
    [
        (pa.array([1, 2, None]), Feature("x", NUMERIC, "long"), [False, False, False]),
        (pa.array([True, False]), Feature("x", NUMERIC, "double"), [True, True]),
        (pa.array([1, 2]), Feature("x", CATEGORICAL, "string"), [True, True]),
        (pa.array(["true", "yes"]), Feature("x", CATEGORICAL, "boolean"), [False, True]),
        (pa.array([True, None]), Feature("x", CATEGORICAL, "boolean"), [False, False]),
        (pa.array(["a", "1"]), Feature("x", NUMERIC, None), [False, False]),  # no signature
    ],
)
def test_schema_violations_follow_the_signature_type(
    values: pa.Array, feature: Feature, violations: list[bool]
) -> None:
    assert coerce(values, feature).violation.tolist() == violations


def test_classes_are_matched_by_text_and_the_positive_class_is_chosen() -> None:
    served = ServedModel.of(version([False, True]))
    assert served.positive == 1
    assert served.codes(pa.array([True, False, None])).tolist() == [1, 0, -1]
    assert ServedModel.of(version(["ham", "spam"]), positive="ham").positive == 0
    assert ServedModel.of(version([0, 1]), positive=0).positive_score(np.array([0.8])) == (
        pytest.approx([0.2])
    )
    with pytest.raises(InvalidInput, match="'eggs' is not one of the classes"):
        ServedModel.of(version(["ham", "spam"]), positive="eggs")


def test_windows_are_aligned_and_capped() -> None:
    assert (index_of(7199.0, 3600.0), index_of(7200.0, 3600.0)) == (1, 2)
    assert closed_before(10_799.0, 3600.0) == 2  # windows 0 and 1 have closed
    assert first_after(7200.0, 3600.0) == 2
    assert first_after(7200.0, 1800.0) == 4
    assert first_after(7300.0, 3600.0) == 3  # a changed length never overlaps
    assert Window(2, 3600.0).start == 7200.0 and Window(2, 3600.0).end == 10_800.0
    assert [w.index for w in span(3, 6, 60.0)] == [3, 4, 5]
    assert chunks(0, 50, 3600.0) == [(0, 24), (24, 48), (48, 50)]  # whole UTC days
    assert chunks(5, 30, 3600.0) == [(5, 24), (24, 30)]
    assert chunks(7, 10, 2 * 86400.0) == [(7, 8), (8, 9), (9, 10)]
    flags = np.array([True, False, True, True, False])
    assert window_sums(flags, [(0, 2), (2, 5), (5, 5)]).tolist() == [1, 2, 0]


@pytest.mark.parametrize(
    ("points", "drawn"),
    [([0.0, 0.5, 1.0, None], "▁▅█ "), ([3.0, 3.0], "▄▄"), ([None], " "), ([2.0, 1.0], "█▁")],
)
def test_sparklines(points: list[float | None], drawn: str) -> None:
    assert sparkline(points) == drawn
