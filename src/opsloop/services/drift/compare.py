"""Comparing a window of data with a prepared reference, column by column."""

from __future__ import annotations

import math
from collections.abc import Sequence
from typing import Any

import numpy as np

from opsloop.domain.errors import InvalidInput
from opsloop.services.drift import _columns
from opsloop.services.drift._categorical import CategoricalSamples
from opsloop.services.drift._numeric import NumericSamples
from opsloop.services.drift._threads import map_columns
from opsloop.services.drift.policy import DriftThresholds, default_test
from opsloop.services.drift.reference import DriftReference
from opsloop.services.drift.registry import get_statistic, statistics_for
from opsloop.services.drift.report import ColumnDrift, DriftReport


def compare(
    reference: DriftReference | Any,
    current: Any,
    *,
    columns: Sequence[str] | None = None,
    test: str | None = None,
    thresholds: DriftThresholds | None = None,
    categorical: Sequence[str] = (),
) -> DriftReport:
    """Compare ``current`` (pandas, polars or Arrow) with ``reference`` (a ``DriftReference``,
    or a table prepared on the spot) for ``columns`` (default: all the reference's).
    ``test`` makes one statistic decide every column; otherwise the policy in ``policy.py``
    picks one per column. ``categorical`` only applies when the reference is a table."""
    thresholds = thresholds or DriftThresholds()
    if isinstance(columns, str):
        raise InvalidInput("columns must be a list of names, not one string", field="columns")
    table = _columns.as_table(current, "current")
    if _columns.row_count(table) == 0:
        raise InvalidInput("the current data has no rows: nothing to compare", field="current")
    if not isinstance(reference, DriftReference):
        reference = DriftReference.prepare(reference, columns, categorical=categorical)
    names = _pick(reference, columns)
    present = set(_columns.column_names(table))
    absent = [name for name in names if name not in present]
    if absent:
        listed = ", ".join(repr(a) for a in absent)
        raise InvalidInput(
            f"column {listed} of the reference is not in the current data"
            if len(absent) == 1
            else f"columns {listed} of the reference are not in the current data",
            field="current",
            detail={"missing_columns": absent},
        )
    if test is not None:
        for kind in {reference.columns[n] for n in names}:
            get_statistic(test, kind)  # refuses a test that does not fit a column's kind

    def one(name: str) -> ColumnDrift:
        return compare_column(reference, table, name, test, thresholds)

    rows = max(_columns.row_count(table), reference.rows)
    return DriftReport(map_columns(one, names, rows), thresholds)


def compare_column(
    reference: DriftReference,
    table: _columns.Table,
    name: str,
    test: str | None,
    thresholds: DriftThresholds,
) -> ColumnDrift:
    kind = reference.columns[name]
    samples: NumericSamples | CategoricalSamples
    if kind == "numeric":
        numbers = reference.numeric(name)
        values, missing = _columns.numeric_values(table, name)
        samples = NumericSamples(numbers, np.sort(values))
        reference_rows, current_rows = numbers.count, int(samples.current.size)
    else:
        categories = reference.categorical(name)
        texts, counts, missing = _columns.category_counts(table, name)
        samples = CategoricalSamples(categories, texts, counts)
        reference_rows, current_rows = categories.count, int(samples.current_counts.sum())

    found: dict[str, float | None] = {}
    for statistic in statistics_for(kind):
        value, p_value = (None, None) if samples.empty else statistic.compute(samples)
        found[statistic.name] = _finite(value)
        if statistic.decides_by == "p_value":
            found[f"{statistic.name}_p_value"] = _finite(p_value)

    deciding = get_statistic(test or default_test(kind, reference_rows, thresholds), kind)
    threshold = thresholds.cut_off(deciding)
    statistic_value = found.get(deciding.name)
    p_value = found.get(f"{deciding.name}_p_value")
    decided_by = p_value if deciding.decides_by == "p_value" else statistic_value
    if decided_by is None:
        drifted = False
    elif deciding.decides_by == "p_value":
        drifted = decided_by < threshold
    else:
        drifted = decided_by >= threshold
    return ColumnDrift(
        column=name,
        kind=kind,
        test=deciding.name,
        statistic=statistic_value,
        p_value=p_value,
        threshold=threshold,
        drifted=drifted,
        statistics=found,
        reference_rows=reference_rows,
        current_rows=current_rows,
        current_missing=missing,
    )


def _pick(reference: DriftReference, columns: Sequence[str] | None) -> list[str]:
    if columns is None:
        return list(reference.columns)
    names = list(dict.fromkeys(columns))
    for name in names:
        if name not in reference.columns:
            raise InvalidInput(
                f"column {name!r} is not in the drift reference", field=f"columns.{name}"
            )
    return names


def _finite(value: float | None) -> float | None:
    if value is None:
        return None
    number = float(value)
    return number if math.isfinite(number) else None
