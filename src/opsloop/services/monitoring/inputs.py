"""Logged inputs as the columns a monitor compares: numbers as float64, categories as text.

The log keeps each feature with the type its values had (a column whose values disagree is
JSON text), so one pass brings each to its kind and flags, per row, a value that is missing
and one whose type the model signature does not allow (a schema violation).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from opsloop.services.serving.inputs import NUMERIC_TYPES
from opsloop.store.prediction_log import INPUT_PREFIX

CATEGORICAL_TYPES = ("string", "category", "boolean")
WHOLE_TYPES = ("long", "integer", "int")
NUMERIC = "numeric"
CATEGORICAL = "categorical"


@dataclass(frozen=True)
class Feature:
    """A monitored input: its kind and the type the signature names (None: not said)."""

    name: str
    kind: str  # NUMERIC or CATEGORICAL
    expected: str | None = None


@dataclass(frozen=True)
class Column:
    """A feature over many rows: values in its kind, and per-row flags."""

    values: pa.Array
    missing: np.ndarray
    violation: np.ndarray


def kind_of(expected: str | None, arrow_type: pa.DataType | None) -> str | None:
    """A feature's kind from its signature type, else from a column's Arrow type."""
    if expected in NUMERIC_TYPES:
        return NUMERIC
    if expected in CATEGORICAL_TYPES:
        return CATEGORICAL
    if arrow_type is None or pa.types.is_null(arrow_type):
        return None
    if pa.types.is_integer(arrow_type) or pa.types.is_floating(arrow_type):
        return NUMERIC
    if (
        pa.types.is_string(arrow_type)
        or pa.types.is_large_string(arrow_type)
        or pa.types.is_boolean(arrow_type)
        or pa.types.is_dictionary(arrow_type)
    ):
        return CATEGORICAL
    return None


def logged_column(table: pa.Table, feature: Feature) -> Column:
    """``feature`` from the log's ``input.<name>`` column (absent: every row missing)."""
    name = INPUT_PREFIX + feature.name
    if name not in table.column_names:
        rows = table.num_rows
        empty = pa.nulls(rows, pa.float64() if feature.kind == NUMERIC else pa.string())
        return Column(empty, np.ones(rows, dtype=bool), np.zeros(rows, dtype=bool))
    return coerce(table.column(name), feature)


def coerce(column: pa.ChunkedArray | pa.Array, feature: Feature) -> Column:
    values = column.combine_chunks() if isinstance(column, pa.ChunkedArray) else column
    if pa.types.is_dictionary(values.type):
        values = values.dictionary_decode()
    missing = _flags(values.is_null())
    if feature.kind == NUMERIC:
        return _numeric(values, missing, feature.expected)
    return _categorical(values, missing, feature.expected)


def _numeric(values: pa.Array, missing: np.ndarray, expected: str | None) -> Column:
    kind = values.type
    if pa.types.is_integer(kind) or pa.types.is_floating(kind):
        numbers = values.cast(pa.float64())
        violation = np.zeros(len(values), dtype=bool)
        if expected in WHOLE_TYPES and pa.types.is_floating(kind):
            array = numbers.to_numpy(zero_copy_only=False)
            with np.errstate(invalid="ignore"):
                violation = ~missing & (np.floor(array) != array)
        return Column(numbers, missing, violation)
    if pa.types.is_string(kind) or pa.types.is_large_string(kind):
        import pandas as pd

        parsed = pd.to_numeric(values.to_pandas(), errors="coerce").to_numpy(dtype=float)
        unreadable = np.isnan(parsed) & ~missing
        numbers = pa.array(parsed, mask=np.isnan(parsed))
        return Column(numbers, missing, _checked(unreadable, expected))
    # Booleans, lists, objects: not a number at all.
    return Column(pa.nulls(len(values), pa.float64()), missing, _checked(~missing, expected))


def _categorical(values: pa.Array, missing: np.ndarray, expected: str | None) -> Column:
    kind = values.type
    texts = values if pa.types.is_string(kind) else _as_text(values)
    violation = np.zeros(len(values), dtype=bool)
    if expected == "boolean" and not pa.types.is_boolean(kind):
        allowed = pc.is_in(texts, value_set=pa.array(["true", "false"]))
        violation = ~missing & ~_flags(allowed.fill_null(False))
    elif expected in ("string", "category") and not pa.types.is_string(kind):
        violation = ~missing  # a number or a flag where text was expected
    return Column(texts, missing, violation)


def _checked(violation: np.ndarray, expected: str | None) -> np.ndarray:
    """Without a signature type there is no schema to violate."""
    return violation if expected is not None else np.zeros(len(violation), dtype=bool)


def _as_text(values: pa.Array) -> pa.Array:
    try:
        return values.cast(pa.string())
    except (pa.ArrowNotImplementedError, pa.ArrowInvalid):
        return pa.array([None if v is None else str(v) for v in values.to_pylist()], pa.string())


def reference_column(column: pa.ChunkedArray | pa.Array, feature: Feature) -> pa.Array:
    """A reference dataset's column in the feature's kind (the same text for the same value
    as a logged one: ``True`` is ``"true"``, ``3`` is ``"3"``)."""
    return coerce(column, Feature(feature.name, feature.kind, None)).values


def _flags(mask: pa.Array | pa.ChunkedArray) -> np.ndarray:
    return np.asarray(mask.to_numpy(zero_copy_only=False), dtype=bool)
