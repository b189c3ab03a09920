"""Reading one column of a pandas or Arrow table (polars goes through Arrow) for the tests.

Numbers become float64 with the missing ones (null, NaN, ±inf) dropped and counted.
Categories become counts per value, the value written as text so that a reference read from
Parquet and a window read from JSON agree: ``True``/``False``, whole numbers without a
decimal point (``3`` whether it arrived as 3 or 3.0), text as it is.
"""

from __future__ import annotations

from typing import Any, TypeAlias

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc

from opsloop.domain.errors import InvalidInput

Table: TypeAlias = pd.DataFrame | pa.Table


def as_table(data: Any, role: str) -> Table:
    """``data`` as a pandas DataFrame or an Arrow table; polars becomes Arrow."""
    if isinstance(data, pd.DataFrame | pa.Table):
        return data
    if (type(data).__module__ or "").startswith("polars") and hasattr(data, "to_arrow"):
        table: pa.Table = data.to_arrow()
        return table
    raise InvalidInput(
        f"the {role} data must be a pandas, polars or Arrow table, not {type(data).__name__}",
        field=role,
    )


def column_names(table: Table) -> list[str]:
    if isinstance(table, pa.Table):
        return list(table.column_names)
    return [str(c) for c in table.columns]


def row_count(table: Table) -> int:
    return int(table.num_rows if isinstance(table, pa.Table) else len(table))


def kind_of(table: Table, name: str) -> str | None:
    """``numeric``, ``categorical``, or None for a column drift tests cannot use (dates...)."""
    if isinstance(table, pa.Table):
        arrow_type = table.schema.field(name).type
        if pa.types.is_dictionary(arrow_type):
            arrow_type = arrow_type.value_type
        if pa.types.is_boolean(arrow_type):
            return "categorical"
        if (
            pa.types.is_integer(arrow_type)
            or pa.types.is_floating(arrow_type)
            or pa.types.is_decimal(arrow_type)
        ):
            return "numeric"
        if pa.types.is_string(arrow_type) or pa.types.is_large_string(arrow_type):
            return "categorical"
        return None
    dtype = table[name].dtype
    if pd.api.types.is_bool_dtype(dtype):
        return "categorical"
    if pd.api.types.is_numeric_dtype(dtype):
        return "numeric"
    if isinstance(dtype, pd.CategoricalDtype) or pd.api.types.is_string_dtype(dtype):
        return "categorical"
    if pd.api.types.is_object_dtype(dtype):
        return "categorical"
    return None


def numeric_values(table: Table, name: str) -> tuple[np.ndarray, int]:
    """The column's finite values as float64 (maybe a view of the input: do not write to it)
    and how many were missing."""
    try:
        if isinstance(table, pa.Table):
            array = table.column(name)
            if pa.types.is_dictionary(array.type):
                array = array.cast(array.type.value_type)
            values = np.asarray(array.to_numpy(), dtype=np.float64)
        else:
            values = table[name].to_numpy(dtype=np.float64, na_value=np.nan)
    except (TypeError, ValueError, pa.ArrowInvalid) as exc:
        raise InvalidInput(
            f"column {name!r} should hold numbers: {exc}", field=f"columns.{name}"
        ) from None
    finite = np.isfinite(values)
    if finite.all():
        return values, 0
    kept = values[finite]
    return kept, len(values) - len(kept)


def category_counts(table: Table, name: str) -> tuple[list[str], np.ndarray, int]:
    """Distinct non-missing values as text, their counts (int64), and the missing count."""
    try:
        if isinstance(table, pa.Table):
            raw, counts, total = _arrow_counts(table.column(name))
        else:
            raw, counts, total = _pandas_counts(table[name])
    except (TypeError, pa.ArrowNotImplementedError) as exc:  # lists, dicts: not categories
        raise InvalidInput(
            f"column {name!r} holds values that cannot be counted as categories: {exc}",
            field=f"columns.{name}",
        ) from None
    keep = np.array([not _is_missing(v) for v in raw], dtype=bool)
    if not keep.all():
        raw = [v for v, k in zip(raw, keep, strict=True) if k]
        counts = counts[keep]
    texts = [category_text(v) for v in raw]
    if len(set(texts)) != len(texts):  # 3 and 3.0, or "True" and True: one category
        merged = pd.Series(counts).groupby(np.array(texts, dtype=object), sort=False).sum()
        texts = [str(t) for t in merged.index]
        counts = merged.to_numpy(dtype=np.int64)
    return texts, counts.astype(np.int64, copy=False), total - int(counts.sum())


def _pandas_counts(series: pd.Series) -> tuple[list[Any], np.ndarray, int]:
    if isinstance(series.dtype, pd.CategoricalDtype):
        codes = series.cat.codes.to_numpy()
        tally = np.bincount(codes[codes >= 0], minlength=len(series.cat.categories))
        present = np.flatnonzero(tally)
        return list(series.cat.categories[present]), tally[present], len(series)
    counted = series.value_counts(dropna=True, sort=False)
    return list(counted.index), counted.to_numpy(dtype=np.int64), len(series)


def _arrow_counts(array: pa.ChunkedArray) -> tuple[list[Any], np.ndarray, int]:
    counted = pc.value_counts(array)
    values = counted.field("values")
    if pa.types.is_dictionary(values.type):
        values = values.cast(values.type.value_type)
    return values.to_pylist(), counted.field("counts").to_numpy(), len(array)


def _is_missing(value: Any) -> bool:
    if value is None or value is pd.NA or value is pd.NaT:
        return True
    return isinstance(value, float | np.floating) and not np.isfinite(value)


def category_text(value: Any) -> str:
    """The text a category is known by (see the module docstring)."""
    if isinstance(value, str):
        return value
    if isinstance(value, bool | np.bool_):
        return "True" if value else "False"
    if isinstance(value, int | np.integer):
        return str(int(value))
    if isinstance(value, float | np.floating):
        number = float(value)
        return str(int(number)) if number.is_integer() else repr(number)
    if isinstance(value, bytes):
        return value.decode("utf-8", "replace")
    return str(value)
