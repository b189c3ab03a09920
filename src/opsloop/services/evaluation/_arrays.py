"""Checking what callers pass as columns, before any metric sees it."""

from __future__ import annotations

from typing import Any

import numpy as np
import pandas as pd

from opsloop.domain.errors import InvalidInput


def plain(value: Any) -> Any:
    """A numpy scalar as the Python value it holds, so labels stay JSON-friendly."""
    return value.item() if isinstance(value, np.generic) else value


def column(values: Any, name: str) -> np.ndarray:
    """``values`` as a non-empty 1-D array."""
    array = np.asarray(values)
    if array.ndim != 1:
        raise InvalidInput(f"{name} must be one column, got shape {array.shape}", field="data")
    if array.size == 0:
        raise InvalidInput(f"{name} is empty: there are no rows to evaluate", field="data")
    return array


def same_length(**arrays: np.ndarray) -> int:
    """The common number of rows; ``InvalidInput`` naming the first column that differs."""
    (first, rows), *others = ((name, len(array)) for name, array in arrays.items())
    for name, length in others:
        if length != rows:
            raise InvalidInput(f"{name} has {length} rows but {first} has {rows}", field="data")
    return rows


def labels(values: Any, name: str) -> np.ndarray:
    array = column(values, name)
    missing = pd.isna(array)
    if missing.any():
        row = int(np.argmax(missing))
        raise InvalidInput(f"{name} has a missing label (row {row})", field="data")
    return array


def numbers(values: Any, name: str, *, ndim: int = 1) -> np.ndarray:
    """Finite floats; ``ndim`` 2 allows a (rows, columns) table."""
    array = np.asarray(values)
    if array.ndim != ndim or array.size == 0:
        shape = "one column" if ndim == 1 else "a (rows, classes) table"
        raise InvalidInput(f"{name} must be {shape}, got shape {array.shape}", field="data")
    try:
        array = array.astype(float)
    except (TypeError, ValueError):
        raise InvalidInput(f"{name} must hold numbers", field="data") from None
    bad = ~np.isfinite(array)
    if bad.any():
        row = int(np.argwhere(bad)[0][0])
        raise InvalidInput(f"{name} has a missing or infinite value (row {row})", field="data")
    return array


def as_float(value: Any) -> float | None:
    """A metric as a plain float; NaN (undefined) becomes None."""
    if value is None:
        return None
    number = float(value)
    return None if np.isnan(number) else number
