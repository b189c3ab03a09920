"""A dataset version checked against another: does the schema hold, and has the data drifted?

The schema decides the verdict; drift is reported beside it (a retrain exists because the
data moved, so drift alone must not stop one). docs/datasets.md#validation has the rules.
"""

from __future__ import annotations

from datetime import datetime
from typing import Literal

from pydantic import Field

from opsloop.domain.entities import Entity

# Profile kinds (services/profiling.py) a model reads alike: a boolean is a 0/1 number.
_COMPATIBLE = {"boolean": "numeric"}


def compatible_kinds(expected: str, found: str) -> bool:
    """Whether a column profiled ``found`` can stand where one profiled ``expected`` stood."""
    return _COMPATIBLE.get(expected, expected) == _COMPATIBLE.get(found, found)


class SchemaProblem(Entity):
    """A feature missing, or holding another kind of values; or (``empty``, no column) a
    version without rows."""

    column: str
    problem: Literal["missing", "kind", "empty"]
    expected: str = Field(description="the reference's kind of values")
    found: str | None = Field(description="the new data's kind; None when the column is missing")

    def describe(self) -> str:
        if self.problem == "empty":
            return "no rows"
        if self.problem == "missing":
            return f"{self.column}: missing (was {self.expected})"
        return f"{self.column}: {self.found}, was {self.expected}"


class ColumnDriftResult(Entity):
    column: str
    kind: str
    test: str
    statistic: float | None
    p_value: float | None
    threshold: float
    drifted: bool


class DatasetValidation(Entity):
    """The outcome of ``DatasetService.validate``; also recorded as a
    ``dataset_version.validated`` Event."""

    dataset: str = Field(description="the version checked, project/dataset@version")
    against: str = Field(description="the reference version")
    verdict: Literal["pass", "fail"]
    features: list[str] = Field(description="the columns checked")
    problems: list[SchemaProblem]
    rows: int = Field(description="rows of the version checked")
    drift: list[ColumnDriftResult] = Field(
        description="per column present in both with a compatible kind"
    )
    drifted: list[str]
    share_drifted: float | None = Field(description="of the columns compared; None: none")
    duration_s: float
    validated_at: datetime
    actor: str
