"""Label drift: the labels that came back in a window against the reference's target column.

Labels are compared with the tests the features use, by kind: a classifier's labels as
categories (their text, as ``served.texts`` gives it), a regressor's as numbers. A ranking's
labels are lists or objects, so what is compared is drawn from them: the grades of graded
items (every grade of every label), else the length of each click list. Grades are levels
(stars, relevance 0-4): when the reference holds at most ``GRADE_LEVELS`` of them they are
compared as categories, so a grade the reference never held (half stars where it had whole
ones) is a change of its own, named in the detail's ``unseen``, not a small shift of a mean.
``drift.label`` is no feature: it never counts in ``drift.share_drifted``.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from opsloop.domain.numbers import is_number
from opsloop.services.evaluation.ranking import decoded
from opsloop.services.monitoring.inputs import CATEGORICAL, NUMERIC
from opsloop.services.monitoring.performance import Found, numbers
from opsloop.services.monitoring.served import CLASSIFICATION, RANKING, ServedModel, texts
from opsloop.store.repos.monitors import LABEL_DRIFT

if TYPE_CHECKING:
    from opsloop.services.drift import DriftReference, DriftThresholds

LABEL = "label"
GRADES = "grades"
LENGTHS = "list lengths"
VALUES = "labels"
GRADE_LEVELS = 20  # a reference with at most this many distinct grades compares them as levels


@dataclass(frozen=True)
class LabelReference:
    """The reference's labels, prepared: their kind and what of them is compared."""

    drift: DriftReference
    kind: str  # NUMERIC or CATEGORICAL
    compared: str  # VALUES, GRADES or LENGTHS
    source: str


def label_kind(served: ServedModel | None, values: pa.Array | pa.ChunkedArray) -> str:
    """How labels are compared: as categories for a classifier (or labels that are text or
    true/false), else as numbers (a ranking's grades and list lengths too)."""
    if served is not None and served.task == RANKING:
        return NUMERIC
    if served is not None and served.task == CLASSIFICATION:
        return CATEGORICAL
    kind = values.type
    return CATEGORICAL if pa.types.is_string(kind) or pa.types.is_boolean(kind) else NUMERIC


def sample(values: pa.Array | pa.ChunkedArray, kind: str, ranking: bool) -> tuple[pa.Array, str]:
    """What is compared of ``values`` (missing ones left out), and what that is. A ranking's
    grades come as text when ``kind`` is categorical (grades compared as levels)."""
    if isinstance(values, pa.ChunkedArray):
        values = values.combine_chunks()
    values = values.drop_null()
    if ranking:
        found, compared = _ranked_sample(values)
        if compared == GRADES and kind == CATEGORICAL:
            return grade_texts(found), GRADES
        return found, compared
    if kind == CATEGORICAL:
        return texts(values), VALUES
    found = numbers(values)
    return pa.array(found, mask=np.isnan(found)), VALUES


def grade_texts(grades: pa.Array) -> pa.Array:
    """Grades as the text of their level: 4.0 is ``"4"``, 4.5 ``"4.5"``."""
    return pa.array([f"{grade:g}" for grade in grades.to_pylist()], pa.string())


def _ranked_sample(values: pa.Array) -> tuple[pa.Array, str]:
    """A ranking's labels: numbers are grades as they are; lists and objects are read."""
    if pa.types.is_integer(values.type) or pa.types.is_floating(values.type):
        return pa.array(numbers(values)), GRADES
    return _ranked(values.to_pylist())


def _ranked(values: list[Any]) -> tuple[pa.Array, str]:
    """Every grade of every graded label; without any, each click list's length."""
    grades: list[float] = []
    lengths: list[float] = []
    for value in map(decoded, values):
        if isinstance(value, dict):
            grades.extend(float(g) for g in value.values() if is_number(g))
        elif isinstance(value, list):
            lengths.append(float(len(value)))
        elif is_number(value):
            grades.append(float(value))
    if grades:
        return pa.array(grades, pa.float64()), GRADES
    return pa.array(lengths, pa.float64()), LENGTHS


def prepare(
    values: pa.Array | pa.ChunkedArray, served: ServedModel | None, source: str
) -> tuple[LabelReference | None, str | None]:
    """The reference's labels ready to compare, or why they cannot be."""
    from opsloop.services.drift import DriftReference

    kind = label_kind(served, values)
    ranking = served is not None and served.task == RANKING
    found, compared = sample(values, kind, ranking)
    if compared == GRADES and len(pc.unique(found.drop_null())) <= GRADE_LEVELS:
        kind, found = CATEGORICAL, grade_texts(found)
    if len(found) == found.null_count:
        return None, f"{source} has no labels to compare with"
    table = pa.table({LABEL: found})
    categorical = [LABEL] if kind == CATEGORICAL else []
    drift = DriftReference.prepare(table, [LABEL], categorical=categorical)
    return LabelReference(drift, kind, compared, source), None


def label_drift(
    reference: LabelReference,
    labels: pa.Array | pa.ChunkedArray,
    ranking: bool,
    test: str | None,
    thresholds: DriftThresholds | None,
) -> tuple[Found, str | None]:
    """``drift.label`` of a window's labels, or why it was not computed."""
    from opsloop.services.drift import compare

    found, compared = sample(labels, reference.kind, ranking)
    if len(found) == found.null_count:
        return {}, "no labels in the window"
    if compared != reference.compared:
        return {}, f"the labels give {compared}, the reference's target {reference.compared}"
    report = compare(
        reference.drift, pa.table({LABEL: found}), columns=[LABEL], test=test, thresholds=thresholds
    )
    verdict = report.columns[0]
    detail = {**verdict.to_dict(), "compared": compared, "reference": reference.source}
    if reference.kind == CATEGORICAL:
        detail["unseen"] = _unseen(found, reference.drift.categories(LABEL))
    return {LABEL_DRIFT: (verdict.statistic, detail)}, None


def _unseen(found: pa.Array, seen: frozenset[str]) -> dict[str, int]:
    """How many of the window's labels took each value the reference never held."""
    counts = pc.value_counts(found.drop_null()).to_pylist()
    return {c["values"]: c["counts"] for c in counts if c["values"] not in seen}
