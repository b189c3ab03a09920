"""What a comparison found, per column and for the whole table."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import pandas as pd

from opsloop.domain.errors import InvalidInput
from opsloop.services.drift.policy import DriftThresholds


@dataclass(frozen=True)
class ColumnDrift:
    """One column's verdict. ``test`` is the statistic that decided ``drifted`` (its value in
    ``statistic``, its p-value in ``p_value`` when it is a test); ``statistics`` holds every
    statistic computed for the column, None where it could not be (no values on a side).
    Row counts are of non-missing values; ``current_missing`` counts the window's others."""

    column: str
    kind: str
    test: str
    statistic: float | None
    p_value: float | None
    threshold: float
    drifted: bool
    statistics: dict[str, float | None]
    reference_rows: int
    current_rows: int
    current_missing: int

    def to_dict(self) -> dict[str, Any]:
        return {
            "column": self.column,
            "kind": self.kind,
            "test": self.test,
            "statistic": self.statistic,
            "p_value": self.p_value,
            "threshold": self.threshold,
            "drifted": self.drifted,
            "statistics": dict(self.statistics),
            "reference_rows": self.reference_rows,
            "current_rows": self.current_rows,
            "current_missing": self.current_missing,
        }


@dataclass(frozen=True)
class DriftReport:
    columns: list[ColumnDrift]
    thresholds: DriftThresholds = field(default_factory=DriftThresholds)

    @property
    def drifted(self) -> list[str]:
        """Names of the drifted columns, in the report's order."""
        return [c.column for c in self.columns if c.drifted]

    @property
    def share_drifted(self) -> float:
        return len(self.drifted) / len(self.columns) if self.columns else 0.0

    def __getitem__(self, column: str) -> ColumnDrift:
        for found in self.columns:
            if found.column == column:
                return found
        raise InvalidInput(f"column {column!r} is not in the drift report", field="column")

    def to_frame(self) -> pd.DataFrame:
        """One row per column: the verdict's fields, then one column per statistic."""
        head = ["column", "kind", "test", "statistic", "p_value", "threshold", "drifted"]
        counts = ["reference_rows", "current_rows", "current_missing"]
        names = list(dict.fromkeys(k for c in self.columns for k in c.statistics))
        rows = [
            {**{k: v for k, v in c.to_dict().items() if k != "statistics"}, **c.statistics}
            for c in self.columns
        ]
        return pd.DataFrame(rows, columns=[*head, *counts, *names])

    def to_dict(self) -> dict[str, Any]:
        return {
            "drifted": self.drifted,
            "share_drifted": self.share_drifted,
            "thresholds": self.thresholds.to_dict(),
            "columns": [c.to_dict() for c in self.columns],
        }
