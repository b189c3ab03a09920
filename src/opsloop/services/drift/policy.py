"""Which statistic decides a column's drifted flag, and at what cut-off.

The defaults follow Evidently's: a small reference (at most ``large_sample`` non-missing values)
is judged by a test's p-value — Kolmogorov-Smirnov for numbers, chi-square for categories —
because distances are noisy on few rows; a large one by a distance, because with many rows any
difference, however small, gives a tiny p-value — Wasserstein (in reference standard
deviations) for numbers, Jensen-Shannon for categories. docs/drift.md has the table.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass, field, fields
from typing import Any

from opsloop.domain.errors import InvalidInput
from opsloop.services.drift.registry import Statistic


@dataclass(frozen=True)
class DriftThresholds:
    """Cut-offs: drifted when a p-value is below ``p_value``, or a distance at or above its
    own field; ``others`` holds cut-offs of statistics registered outside opsloop."""

    p_value: float = 0.05
    wasserstein: float = 0.1
    jensen_shannon: float = 0.1
    psi: float = 0.2
    large_sample: int = 1000
    others: Mapping[str, float] = field(default_factory=dict)

    def __post_init__(self) -> None:
        if not (isinstance(self.p_value, int | float) and 0 < self.p_value < 1):
            raise InvalidInput(
                f"thresholds.p_value must be between 0 and 1, not {self.p_value!r}",
                field="thresholds.p_value",
            )
        cut_offs = {"wasserstein": self.wasserstein, "jensen_shannon": self.jensen_shannon}
        cut_offs.update(psi=self.psi, **dict(self.others))
        for name, value in cut_offs.items():
            if not (isinstance(value, int | float) and math.isfinite(value) and value >= 0):
                raise InvalidInput(
                    f"thresholds.{name} must be a number >= 0, not {value!r}",
                    field=f"thresholds.{name}",
                )
        if not (isinstance(self.large_sample, int) and self.large_sample >= 0):
            raise InvalidInput(
                f"thresholds.large_sample must be a whole number >= 0, not {self.large_sample!r}",
                field="thresholds.large_sample",
            )

    @classmethod
    def from_mapping(cls, values: Mapping[str, Any]) -> DriftThresholds:
        """Build from a dict such as ``{"p_value": 0.01}``; unknown keys are refused."""
        known = {f.name for f in fields(cls)}
        for key in values:
            if key not in known:
                raise InvalidInput(
                    f"unknown drift threshold {key!r}; known: {', '.join(sorted(known))}",
                    field=f"thresholds.{key}",
                )
        others = values.get("others", {})
        if not isinstance(others, Mapping) or not all(
            isinstance(k, str) and isinstance(v, int | float) and not isinstance(v, bool)
            for k, v in others.items()
        ):
            raise InvalidInput(
                "drift threshold 'others' must map statistic names to numbers",
                field="thresholds.others",
            )
        return cls(**values)

    def cut_off(self, statistic: Statistic) -> float:
        if statistic.name in self.others:
            return float(self.others[statistic.name])
        if statistic.decides_by == "p_value":
            return float(self.p_value)
        own = getattr(self, statistic.name, None)
        if isinstance(own, int | float) and statistic.name != "large_sample":
            return float(own)
        return float(statistic.default_threshold)

    def to_dict(self) -> dict[str, Any]:
        return {
            "p_value": self.p_value,
            "wasserstein": self.wasserstein,
            "jensen_shannon": self.jensen_shannon,
            "psi": self.psi,
            "large_sample": self.large_sample,
            "others": dict(self.others),
        }


def default_test(kind: str, reference_count: int, thresholds: DriftThresholds) -> str:
    """The statistic that decides a column of ``kind`` whose reference has
    ``reference_count`` non-missing values."""
    small = reference_count <= thresholds.large_sample
    if kind == "numeric":
        return "ks" if small else "wasserstein"
    return "chi2" if small else "jensen_shannon"
