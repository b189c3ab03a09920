"""A ranking's grades are levels when the reference holds few of them: compared as
categories, so grades it never held (half stars after whole ones) are a change of their own
and named in the detail; grades of many values (a watched share, say) stay numbers."""

from __future__ import annotations

import json

import numpy as np
import pyarrow as pa
import pytest

from opsloop.services.drift import DriftThresholds
from opsloop.services.monitoring.inputs import CATEGORICAL, NUMERIC
from opsloop.services.monitoring.labels import GRADE_LEVELS, LabelReference, label_drift, prepare
from opsloop.services.monitoring.served import RANKING, ServedModel

RANKER = ServedModel(
    version=None,  # type: ignore[arg-type]  # label drift reads only the task
    task=RANKING,
    classes=None,
    class_keys=None,
    positive=None,
    inputs={},
)


def reference_of(grades: list[float]) -> LabelReference:
    prepared, why = prepare(pa.array(grades, pa.float64()), RANKER, "recs/ratings@1")
    assert why is None and prepared is not None
    return prepared


def graded(*labels: dict[str, float]) -> pa.Array:
    """Labels as the prediction log holds an object label: JSON text."""
    return pa.array([json.dumps(label) for label in labels], pa.string())


def drift_of(reference: LabelReference, labels: pa.Array) -> dict[str, object]:
    found, why = label_drift(reference, labels, True, None, DriftThresholds())
    assert why is None
    statistic, detail = found["drift.label"]
    assert detail is not None
    return {**detail, "value": statistic}


STARS = [float(star) for star in np.random.default_rng(0).integers(1, 6, 400)]


def test_whole_stars_are_levels_and_the_same_stars_do_not_drift() -> None:
    reference = reference_of(STARS)
    assert (reference.kind, reference.compared) == (CATEGORICAL, "grades")
    same = graded(*({str(i): STARS[i], str(i + 1): STARS[i + 1]} for i in range(0, 200, 2)))
    detail = drift_of(reference, same)
    assert detail["test"] == "chi2" and detail["kind"] == "categorical"
    assert detail["unseen"] == {} and not detail["drifted"]
    assert detail["current_rows"] == 200  # every grade of every label


def test_half_stars_are_named_as_grades_the_reference_never_held() -> None:
    reference = reference_of(STARS)
    halves = graded(*({"1": 4.5, "2": 3.5, "3": 4.0} for _ in range(40)))
    detail = drift_of(reference, halves)
    assert detail["unseen"] == {"3.5": 40, "4.5": 40}
    assert detail["drifted"] and detail["p_value"] < 1e-6


def test_grades_of_many_values_stay_numbers() -> None:
    shares = [round(float(x), 3) for x in np.random.default_rng(1).uniform(0, 1, 400)]
    assert len(set(shares)) > GRADE_LEVELS
    reference = reference_of(shares)
    assert reference.kind == NUMERIC
    detail = drift_of(reference, graded(*({"1": share} for share in shares[:100])))
    assert detail["test"] == "ks" and "unseen" not in detail
    assert not detail["drifted"]


@pytest.mark.parametrize("levels", [GRADE_LEVELS, GRADE_LEVELS + 1])
def test_the_level_count_decides(levels: int) -> None:
    reference = reference_of([float(level) for level in range(levels)] * 3)
    assert reference.kind == (CATEGORICAL if levels <= GRADE_LEVELS else NUMERIC)
