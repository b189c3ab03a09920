"""A dataset's profile: schema and per-column statistics, computed once when a version is made.

Later stages validate new data and measure drift against this profile instead of re-reading
the training data, so it keeps what those tests need: quantiles and a histogram for numbers,
category frequencies (up to ``MAX_CATEGORIES``, the rest summed as ``other``).
"""

from __future__ import annotations

from typing import Any

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from opsloop.domain.entities import ColumnProfile, DatasetProfile

QUANTILES = (0.01, 0.05, 0.25, 0.5, 0.75, 0.95, 0.99)
HISTOGRAM_BINS = 20
MAX_CATEGORIES = 100


def profile_table(table: pa.Table) -> DatasetProfile:
    columns = [
        profile_column(name, table.column(name).combine_chunks()) for name in table.column_names
    ]
    return DatasetProfile(num_rows=table.num_rows, num_columns=table.num_columns, columns=columns)


def kind_of(arrow_type: pa.DataType) -> str:
    if pa.types.is_boolean(arrow_type):
        return "boolean"
    if (
        pa.types.is_integer(arrow_type)
        or pa.types.is_floating(arrow_type)
        or pa.types.is_decimal(arrow_type)
    ):
        return "numeric"
    if (
        pa.types.is_string(arrow_type)
        or pa.types.is_large_string(arrow_type)
        or (pa.types.is_dictionary(arrow_type))
    ):
        return "categorical"
    if pa.types.is_temporal(arrow_type):
        return "datetime"
    return "other"


def profile_column(name: str, array: pa.Array) -> ColumnProfile:
    kind = kind_of(array.type)
    base: dict[str, Any] = {"name": name, "type": str(array.type), "kind": kind}
    if kind == "numeric":
        return _numeric(base, array)
    if kind in ("categorical", "boolean"):
        return _categorical(base, array)
    missing = array.null_count
    if kind == "datetime":
        valid = array.drop_null()
        if len(valid):
            base["min"] = str(pc.min(valid).as_py())
            base["max"] = str(pc.max(valid).as_py())
    return ColumnProfile(**base, count=len(array) - missing, missing=missing)


def _numeric(base: dict[str, Any], array: pa.Array) -> ColumnProfile:
    values = array.to_numpy(zero_copy_only=False).astype("float64", copy=False)
    finite = values[np.isfinite(values)]
    missing = len(values) - len(finite)
    if len(finite) == 0:
        return ColumnProfile(**base, count=0, missing=missing)
    counts, edges = np.histogram(finite, bins=HISTOGRAM_BINS)
    quantiles = np.quantile(finite, QUANTILES)
    return ColumnProfile(
        **base,
        count=len(finite),
        missing=missing,
        distinct=len(np.unique(finite)) if len(finite) <= 1_000_000 else None,
        min=float(finite.min()),
        max=float(finite.max()),
        mean=float(finite.mean()),
        std=float(finite.std()),
        quantiles={
            f"p{round(q * 100):02d}": float(v) for q, v in zip(QUANTILES, quantiles, strict=True)
        },
        histogram={"edges": [float(e) for e in edges], "counts": [float(c) for c in counts]},
    )


def _categorical(base: dict[str, Any], array: pa.Array) -> ColumnProfile:
    if pa.types.is_dictionary(array.type):
        array = array.dictionary_decode()
    missing = array.null_count
    counted = pc.value_counts(array.drop_null())
    pairs = sorted(
        zip(counted.field("values").to_pylist(), counted.field("counts").to_pylist(), strict=True),
        key=lambda pair: (-pair[1], str(pair[0])),
    )
    top = [{"value": value, "count": count} for value, count in pairs[:MAX_CATEGORIES]]
    other = sum(count for _, count in pairs[MAX_CATEGORIES:])
    if other:
        top.append({"value": None, "count": other, "other": True})
    return ColumnProfile(
        **base, count=len(array) - missing, missing=missing, distinct=len(pairs), top_values=top
    )
