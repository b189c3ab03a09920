"""Distances between two distributions given as shares of the same buckets."""

from __future__ import annotations

import numpy as np
from scipy.special import rel_entr

# A bucket holding less than this share counts as holding this much, so an empty bucket
# gives a finite PSI (Evidently fills empty buckets the same way).
PSI_FLOOR = 1e-4


def psi(reference: np.ndarray, current: np.ndarray) -> float:
    """Population stability index: sum of (cur - ref) * ln(cur / ref), shares floored."""
    ref = np.maximum(reference, PSI_FLOOR)
    cur = np.maximum(current, PSI_FLOOR)
    return float(np.sum((cur - ref) * np.log(cur / ref)))


def jensen_shannon(reference: np.ndarray, current: np.ndarray) -> float:
    """Jensen-Shannon distance, natural log: ``scipy.spatial.distance.jensenshannon``."""
    p = reference / np.sum(reference)
    q = current / np.sum(current)
    m = (p + q) / 2.0
    divergence = np.sum(rel_entr(p, m)) + np.sum(rel_entr(q, m))
    return float(np.sqrt(max(divergence, 0.0) / 2.0))
