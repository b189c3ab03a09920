"""Categorical columns: the samples a statistic sees, and the built-in statistics on them.

The window's values are counted and lined up with the reference's categories; every value the
reference never held goes into one extra ``UNSEEN`` bucket (so a column of ids does not
become a table with a column per id).
"""

from __future__ import annotations

import numpy as np
from scipy import stats

from opsloop.services.drift._shares import jensen_shannon, psi
from opsloop.services.drift.reference import CategoricalColumn
from opsloop.services.drift.registry import StatisticValue

UNSEEN = "(unseen)"


class CategoricalSamples:
    """One categorical column: ``categories`` (the reference's, then ``UNSEEN`` when the
    window holds new values) with ``reference_counts`` and ``current_counts`` in that order."""

    kind = "categorical"

    def __init__(self, reference: CategoricalColumn, values: list[str], counts: np.ndarray):
        self.prepared = reference
        position = reference.index.get_indexer(values) if values else np.empty(0, np.intp)
        known = position >= 0
        current = np.bincount(
            position[known], weights=counts[known], minlength=len(reference.counts)
        )
        unseen = int(counts[~known].sum())
        self.unseen_values = sorted(v for v, k in zip(values, known, strict=True) if not k)
        self.categories = list(reference.categories) + ([UNSEEN] if unseen else [])
        self.reference_counts = np.append(reference.counts, [0] * bool(unseen)).astype(np.int64)
        self.current_counts = np.append(current.astype(np.int64), [unseen] * bool(unseen))

    @property
    def empty(self) -> bool:
        return self.reference_counts.sum() == 0 or self.current_counts.sum() == 0

    @property
    def shares(self) -> tuple[np.ndarray, np.ndarray]:
        return (
            self.reference_counts / self.reference_counts.sum(),
            self.current_counts / self.current_counts.sum(),
        )


def chi2(samples: CategoricalSamples) -> StatisticValue:
    """Pearson's chi-square test of homogeneity on the 2 x k table of counts (reference row,
    window row): ``scipy.stats.chi2_contingency(table, correction=False)``."""
    observed = np.array([samples.reference_counts, samples.current_counts])
    if observed.shape[1] <= 1:  # one category: nothing can differ (SciPy says 0 and 1 too)
        return 0.0, 1.0
    expected = observed.sum(axis=1, keepdims=True) * observed.sum(axis=0, keepdims=True)
    expected = expected / observed.sum()
    statistic = float(np.sum((observed - expected) ** 2 / expected))
    return statistic, float(stats.chi2.sf(statistic, observed.shape[1] - 1))


def psi_categories(samples: CategoricalSamples) -> StatisticValue:
    return psi(*samples.shares), None


def jensen_shannon_categories(samples: CategoricalSamples) -> StatisticValue:
    return jensen_shannon(*samples.shares), None
