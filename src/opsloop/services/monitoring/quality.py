"""Data quality per window: missing values, numbers outside the reference's range, categories
the reference never saw, and inputs whose type breaks the model signature.

Each condition is flagged once per row over the whole pass, then counted per window from a
cumulative sum, so a pass of many windows costs about what one pass over the rows does.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from opsloop.services.monitoring.inputs import CATEGORICAL, NUMERIC, Column, Feature
from opsloop.services.monitoring.performance import Found
from opsloop.services.monitoring.reference import Reference
from opsloop.services.monitoring.window import window_sums


def quality_values(
    columns: dict[str, Column],
    features: list[Feature],
    reference: Reference | None,
    bounds: list[tuple[int, int]],
) -> list[Found]:
    """``quality.*`` of each window (``bounds``: its rows), with a per-feature breakdown."""
    missing = {f.name: window_sums(columns[f.name].missing, bounds) for f in features}
    violations = {f.name: window_sums(columns[f.name].violation, bounds) for f in features}
    usable = {
        f.name: window_sums(~columns[f.name].missing & ~columns[f.name].violation, bounds)
        for f in features
    }
    outside, unseen = _against_reference(columns, reference, bounds)
    found = []
    for i, (first, last) in enumerate(bounds):
        rows = last - first
        window: Found = {}
        cells = rows * len(features)
        window["quality.missing_share"] = (
            _share(sum(int(m[i]) for m in missing.values()), cells),
            _breakdown(missing, i, cells=cells),
        )
        window["quality.schema_violations"] = (
            float(sum(int(v[i]) for v in violations.values())),
            _breakdown(violations, i),
        )
        for metric, counts in (
            ("quality.out_of_range_share", outside),
            ("quality.unseen_share", unseen),
        ):
            if counts:
                checked = sum(int(usable[name][i]) for name in counts)
                window[metric] = (
                    _share(sum(int(c[i]) for c in counts.values()), checked),
                    _breakdown(counts, i, cells=checked),
                )
        found.append(window)
    return found


def _against_reference(
    columns: dict[str, Column], reference: Reference | None, bounds: list[tuple[int, int]]
) -> tuple[dict[str, np.ndarray], dict[str, np.ndarray]]:
    """Per window, per feature: numbers outside the reference range, unseen categories."""
    outside: dict[str, np.ndarray] = {}
    unseen: dict[str, np.ndarray] = {}
    if reference is None or reference.drift is None:
        return outside, unseen
    for feature in reference.features:
        column = columns[feature.name]
        usable = ~column.missing & ~column.violation
        if feature.kind == NUMERIC:
            low, high = reference.drift.value_range(feature.name)
            values = np.asarray(column.values.to_numpy(zero_copy_only=False), dtype=float)
            with np.errstate(invalid="ignore"):
                flags = usable & ((values < low) | (values > high))
            outside[feature.name] = window_sums(flags, bounds)
        elif feature.kind == CATEGORICAL:
            seen = pa.array(sorted(reference.drift.categories(feature.name)), pa.string())
            known = pc.is_in(column.values, value_set=seen).fill_null(True)
            flags = usable & ~np.asarray(known.to_numpy(zero_copy_only=False), dtype=bool)
            unseen[feature.name] = window_sums(flags, bounds)
    return outside, unseen


def _share(part: int, whole: int) -> float | None:
    return part / whole if whole else None


def _breakdown(
    counts: dict[str, np.ndarray], i: int, *, cells: int | None = None
) -> dict[str, Any]:
    detail: dict[str, Any] = {"features": {name: int(found[i]) for name, found in counts.items()}}
    if cells is not None:
        detail["cells"] = cells
    return detail
