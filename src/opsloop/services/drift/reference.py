"""Reference data prepared once and reused for every window compared with it.

Per numeric column it keeps the sorted non-missing values (float64: the tests need every
value to match SciPy exactly), their standard deviation and the bin edges at the reference's
quantiles; per categorical column the count of every value. Comparing a window then sorts
only the window.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pandas as pd

from opsloop.domain.errors import InvalidInput
from opsloop.services.drift import _columns
from opsloop.services.drift._threads import map_columns

DEFAULT_BINS = 20


@dataclass(frozen=True, eq=False)
class NumericColumn:
    values: np.ndarray  # sorted, finite, float64
    missing: int
    std: float
    edges: np.ndarray  # interior bin edges, strictly increasing
    bin_counts: np.ndarray = field(init=False)  # reference values per bin

    def __post_init__(self) -> None:
        object.__setattr__(self, "bin_counts", counts_in_bins(self.values, self.edges))

    @property
    def count(self) -> int:
        return int(self.values.size)

    @classmethod
    def from_values(cls, values: np.ndarray, missing: int, bins: int) -> NumericColumn:
        ordered = np.sort(values)
        if ordered.size == 0:
            return cls(ordered, missing, float("nan"), np.empty(0))
        edges = np.unique(np.quantile(ordered, np.arange(1, bins) / bins))
        return cls(ordered, missing, float(np.std(ordered)), edges)


@dataclass(frozen=True, eq=False)
class CategoricalColumn:
    categories: tuple[str, ...]  # sorted
    counts: np.ndarray  # int64, one per category
    missing: int
    index: pd.Index = field(init=False, repr=False)

    def __post_init__(self) -> None:
        object.__setattr__(self, "index", pd.Index(self.categories, dtype=object))

    @property
    def count(self) -> int:
        return int(self.counts.sum())

    @classmethod
    def from_counts(cls, texts: list[str], counts: np.ndarray, missing: int) -> CategoricalColumn:
        order = sorted(range(len(texts)), key=texts.__getitem__)
        return cls(
            tuple(texts[i] for i in order), np.asarray(counts, np.int64)[order], int(missing)
        )


def counts_in_bins(ordered: np.ndarray, edges: np.ndarray) -> np.ndarray:
    """How many of the sorted ``ordered`` fall in each bin (-inf, e1], (e1, e2], ..., (ek, inf)."""
    cumulative = np.searchsorted(ordered, edges, side="right")
    return np.diff(cumulative, prepend=0, append=ordered.size).astype(np.int64)


class DriftReference:
    """Reference data ready for ``compare``: build it with ``prepare`` (or ``from_bytes``)."""

    def __init__(
        self,
        rows: int,
        numeric: dict[str, NumericColumn],
        categorical: dict[str, CategoricalColumn],
        order: Sequence[str],
        bins: int = DEFAULT_BINS,
    ) -> None:
        self.rows = rows
        self.bins = bins
        self._numeric = numeric
        self._categorical = categorical
        self.columns: dict[str, str] = {
            name: "numeric" if name in numeric else "categorical" for name in order
        }

    @classmethod
    def prepare(
        cls,
        data: Any,
        columns: Sequence[str] | None = None,
        *,
        categorical: Sequence[str] = (),
        bins: int = DEFAULT_BINS,
    ) -> DriftReference:
        """Prepare ``data`` (pandas, polars or Arrow). Without ``columns``, every column of a
        usable type is taken (numbers, booleans, text, categories; dates are left out).
        Columns named in ``categorical`` are treated as categories even when they hold
        numbers."""
        if not isinstance(bins, int) or not 2 <= bins <= 1000:
            raise InvalidInput(f"bins must be between 2 and 1000, not {bins!r}", field="bins")
        table = _columns.as_table(data, "reference")
        if _columns.row_count(table) == 0:
            raise InvalidInput("the reference data has no rows", field="reference")
        kinds = _kinds(table, columns, categorical)

        def prepare_one(name: str) -> NumericColumn | CategoricalColumn:
            if kinds[name] == "numeric":
                values, missing = _columns.numeric_values(table, name)
                return NumericColumn.from_values(values, missing, bins)
            return CategoricalColumn.from_counts(*_columns.category_counts(table, name))

        rows = _columns.row_count(table)
        prepared = dict(zip(kinds, map_columns(prepare_one, list(kinds), rows), strict=True))
        numeric = {n: c for n, c in prepared.items() if isinstance(c, NumericColumn)}
        categories = {n: c for n, c in prepared.items() if isinstance(c, CategoricalColumn)}
        return cls(rows, numeric, categories, list(kinds), bins)

    def numeric(self, column: str) -> NumericColumn:
        self._check(column, "numeric")
        return self._numeric[column]

    def categorical(self, column: str) -> CategoricalColumn:
        self._check(column, "categorical")
        return self._categorical[column]

    def value_range(self, column: str) -> tuple[float, float]:
        """The smallest and largest value the reference holds (NaN, NaN when it has none)."""
        values = self.numeric(column).values
        if values.size == 0:
            return float("nan"), float("nan")
        return float(values[0]), float(values[-1])

    def categories(self, column: str) -> frozenset[str]:
        """Every value the reference holds, as text (see ``_columns.category_text``)."""
        return frozenset(self.categorical(column).categories)

    def to_bytes(self) -> bytes:
        from opsloop.services.drift._format import dump

        return dump(self)

    @classmethod
    def from_bytes(cls, data: bytes) -> DriftReference:
        from opsloop.services.drift._format import load

        return load(data)

    def _check(self, column: str, kind: str) -> None:
        found = self.columns.get(column)
        if found is None:
            raise InvalidInput(f"column {column!r} is not in the drift reference", field="column")
        if found != kind:
            raise InvalidInput(f"column {column!r} is {found}, not {kind}", field="column")

    def __repr__(self) -> str:
        return f"DriftReference(rows={self.rows}, columns={self.columns})"


def _kinds(
    table: _columns.Table, columns: Sequence[str] | None, categorical: Sequence[str]
) -> dict[str, str]:
    if isinstance(columns, str) or isinstance(categorical, str):
        raise InvalidInput("columns must be a list of names, not one string", field="columns")
    present = _columns.column_names(table)
    for name in [*(columns or ()), *categorical]:
        if name not in present:
            raise InvalidInput(
                f"column {name!r} is not in the reference data", field=f"columns.{name}"
            )
    kinds: dict[str, str] = {}
    for name in present if columns is None else list(dict.fromkeys(columns)):
        kind = "categorical" if name in categorical else _columns.kind_of(table, name)
        if kind is None:
            if columns is not None:
                raise InvalidInput(
                    f"column {name!r} is neither numbers nor categories: drift tests cannot use it",
                    field=f"columns.{name}",
                )
            continue
        kinds[name] = kind
    return kinds
