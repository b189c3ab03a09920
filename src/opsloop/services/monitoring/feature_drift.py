"""Feature drift and prediction drift of one window against the prepared reference.

The statistics are ``opsloop.services.drift``'s: the test is chosen per column by its kind
unless the monitor names one, and ``drift:`` thresholds replace the documented defaults.
A value is the deciding statistic of its column's test; its detail is the whole
``ColumnDrift`` (every statistic, the p-value, the threshold, whether it drifted).
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import numpy as np
import pyarrow as pa

from opsloop.services.monitoring.inputs import Column
from opsloop.services.monitoring.performance import Found
from opsloop.services.monitoring.reference import Reference, prediction_table
from opsloop.services.monitoring.served import ServedModel

if TYPE_CHECKING:
    from opsloop.services.drift import ColumnDrift, DriftThresholds


def feature_drift(
    reference: Reference,
    columns: dict[str, Column],
    first: int,
    last: int,
    test: str | dict[str, str] | None,
    thresholds: DriftThresholds | None,
) -> Found:
    """``drift.<feature>`` for each feature the reference holds, and ``drift.share_drifted``."""
    from opsloop.services.drift import compare

    assert reference.drift is not None
    names = [feature.name for feature in reference.features]
    current = pa.table({name: columns[name].values.slice(first, last - first) for name in names})
    by_test: dict[str | None, list[str]] = {}
    for name in names:
        by_test.setdefault(test_for(test, reference.drift.columns[name]), []).append(name)
    results: dict[str, ColumnDrift] = {}
    for chosen, group in by_test.items():
        report = compare(
            reference.drift, current, columns=group, test=chosen, thresholds=thresholds
        )
        results.update((column.column, column) for column in report.columns)
    found: Found = {
        f"drift.{name}": (results[name].statistic, results[name].to_dict()) for name in names
    }
    drifted = [name for name in names if results[name].drifted]
    found["drift.share_drifted"] = (
        len(drifted) / len(names),
        {"drifted": drifted, "features": len(names), "reference": reference.source},
    )
    return found


def test_for(test: str | dict[str, str] | None, kind: str) -> str | None:
    """The test the monitor names for a column of ``kind`` (None: the default by kind)."""
    if isinstance(test, dict):
        return test.get(kind)
    if test is None:
        return None
    from opsloop.domain.errors import InvalidInput
    from opsloop.services.drift import get_statistic

    try:
        get_statistic(test, kind)
    except InvalidInput:  # e.g. ks for a categorical column: that one keeps its default
        return None
    return test


def prediction_drift(
    reference: Reference,
    served: ServedModel | None,
    prediction: pa.Array | pa.ChunkedArray,
    score: np.ndarray,
    thresholds: DriftThresholds | None,
) -> Found:
    """``drift.prediction``: the score's drift for a classifier that gives scores (the class
    distribution's beside it in the detail), else the class's, else the predicted number's."""
    from opsloop.services.drift import compare

    assert reference.prediction is not None
    current = prediction_table(served, prediction, score)
    names = [name for name in current.column_names if name in reference.prediction.columns]
    if not names:
        return {}
    report = compare(reference.prediction, current, columns=names, thresholds=thresholds)
    by_name = {column.column: column for column in report.columns}
    deciding = by_name[names[0]]
    detail: dict[str, Any] = {name: column.to_dict() for name, column in by_name.items()}
    detail["drifted"] = bool(report.drifted)
    detail["reference"] = reference.source
    return {"drift.prediction": (deciding.statistic, detail)}
