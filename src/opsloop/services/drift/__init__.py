"""Drift statistics: is a window of data distributed like a reference?

``DriftReference.prepare(data)`` once, then ``compare(reference, window)`` per window; every
statistic registered for a column's kind is computed, and one of them decides the column's
drifted flag (``policy.py``). New statistics register through ``register_statistic``, as the
built-ins do (``default_statistics.py``). docs/drift.md describes the tests and thresholds.
"""

from opsloop.services.drift._categorical import UNSEEN, CategoricalSamples
from opsloop.services.drift._numeric import NumericSamples
from opsloop.services.drift.compare import compare
from opsloop.services.drift.default_statistics import register_built_ins
from opsloop.services.drift.policy import DriftThresholds, default_test
from opsloop.services.drift.reference import DriftReference
from opsloop.services.drift.registry import (
    Statistic,
    get_statistic,
    register_statistic,
    statistic_names,
    statistics_for,
    unregister_statistic,
)
from opsloop.services.drift.report import ColumnDrift, DriftReport

register_built_ins()

__all__ = [
    "UNSEEN",
    "CategoricalSamples",
    "ColumnDrift",
    "DriftReference",
    "DriftReport",
    "DriftThresholds",
    "NumericSamples",
    "Statistic",
    "compare",
    "default_test",
    "get_statistic",
    "register_statistic",
    "statistic_names",
    "statistics_for",
    "unregister_statistic",
]
