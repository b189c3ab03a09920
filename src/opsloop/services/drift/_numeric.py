"""Numeric columns: the samples a statistic sees, and the built-in statistics on them.

The reference is sorted once (``reference.py``); here only the window is sorted. The KS
statistic needs both empirical CDFs at every point of the two samples: one ``searchsorted``
of the window into the reference gives them, as integer counts divided exactly as SciPy's
``ks_2samp`` divides them, so the statistic agrees with SciPy's bit for bit. The Wasserstein
distance is the area between the two quantile functions, which needs no search at all.
"""

from __future__ import annotations

from functools import cached_property

import numpy as np
from scipy import stats

from opsloop.services.drift._shares import jensen_shannon, psi
from opsloop.services.drift.reference import NumericColumn, counts_in_bins
from opsloop.services.drift.registry import StatisticValue

# SciPy's ks_2samp(method="auto") computes the exact p-value up to this sample size.
KS_EXACT_MAX_N = 10_000
SEARCH_BLOCK = 4096
# Evidently's floor for the reference deviation, so a constant reference stays finite.
MIN_STD = 0.001


class NumericSamples:
    """One numeric column: ``reference`` and ``current`` are sorted finite float64 arrays."""

    kind = "numeric"

    def __init__(self, reference: NumericColumn, current: np.ndarray) -> None:
        self.prepared = reference
        self.reference = reference.values
        self.current = current

    @property
    def empty(self) -> bool:
        return self.reference.size == 0 or self.current.size == 0

    @cached_property
    def bin_shares(self) -> tuple[np.ndarray, np.ndarray]:
        """Shares of each sample in the reference's quantile bins (reference first)."""
        current_counts = counts_in_bins(self.current, self.prepared.edges)
        return (
            self.prepared.bin_counts / self.reference.size,
            current_counts / self.current.size,
        )


def count_at_or_below(reference: np.ndarray, values: np.ndarray) -> np.ndarray:
    """``np.searchsorted(reference, values, side="right")`` for sorted ``values``, faster.

    NumPy starts each binary search from the whole rest of the array even when the keys are
    sorted; searching each block of sorted values only in the slice of the reference between
    the block's first and last value halves the steps on large arrays.
    """
    if values.size < 4 * SEARCH_BLOCK:
        return np.searchsorted(reference, values, side="right")
    firsts = np.arange(0, values.size, SEARCH_BLOCK)
    lasts = np.minimum(firsts + SEARCH_BLOCK, values.size) - 1
    lows = np.searchsorted(reference, values[firsts], side="right").tolist()
    highs = np.searchsorted(reference, values[lasts], side="right").tolist()
    counts = np.empty(values.size, dtype=np.intp)
    for first, low, high in zip(firsts.tolist(), lows, highs, strict=True):
        block = slice(first, first + SEARCH_BLOCK)
        found = np.searchsorted(reference[low:high], values[block], side="right")
        found += low
        counts[block] = found
    return counts


def ks_statistic(reference: np.ndarray, current: np.ndarray) -> float:
    """max |F_ref - F_cur| over every point of both sorted samples, as ``ks_2samp`` has it.

    Between two distinct window values u[k-1] < u[k] the window's CDF stays put while the
    reference's climbs, so F_ref - F_cur is lowest at u[k-1] and highest just below u[k]
    (at the last reference value there, if any): those two points per window value suffice.
    """
    n1, n2 = reference.size, current.size
    last_of_run = np.empty(n2, dtype=bool)
    np.not_equal(current[1:], current[:-1], out=last_of_run[:-1])
    last_of_run[-1] = True
    if last_of_run.all():
        values, cur_le = current, np.arange(1, n2 + 1)
    else:  # search each distinct value once
        ends = np.flatnonzero(last_of_run)
        values, cur_le = current[ends], ends + 1
    ref_le = count_at_or_below(reference, values)
    # Reference values below each window value: those at or below it, less the equal ones
    # (an index of -1 is clipped to 0, where the value cannot be equal: all are above it).
    equal = np.take(reference, ref_le - 1, mode="clip") == values
    ref_cdf, cur_cdf = ref_le / n1, cur_le / n2
    at_values = ref_cdf - cur_cdf
    just_below = np.empty_like(at_values)
    if equal.any():
        ref_lt = ref_le.copy()
        ref_lt[equal] = np.searchsorted(reference, values[equal], side="left")
        below_cdf = ref_lt / n1
        just_below[0] = below_cdf[0]
        np.subtract(below_cdf[1:], cur_cdf[:-1], out=just_below[1:])
        above = max(float(at_values.max()), float(just_below.max()))
        lowest = min(float(at_values.min()), float(just_below.min()))
    else:  # just below a value F_ref is the same and F_cur lower: only the max can be there
        just_below[0] = ref_cdf[0]
        np.subtract(ref_cdf[1:], cur_cdf[:-1], out=just_below[1:])
        above, lowest = float(just_below.max()), float(at_values.min())
    below = float(np.clip(-lowest, 0, 1))
    return below if below > above else above


def ks(samples: NumericSamples) -> StatisticValue:
    """Two-sided Kolmogorov-Smirnov: ``scipy.stats.ks_2samp(reference, current)``."""
    ref, cur = samples.reference, samples.current
    if max(ref.size, cur.size) <= KS_EXACT_MAX_N:
        result = stats.ks_2samp(ref, cur)  # the exact p-value is SciPy's own algorithm
        return float(result.statistic), float(result.pvalue)
    d = ks_statistic(ref, cur)
    m, n = sorted([float(ref.size), float(cur.size)], reverse=True)
    p = stats.kstwo.sf(d, np.round(m * n / (m + n)))  # SciPy's asymptotic method, as in 'auto'
    return d, float(np.clip(p, 0, 1))


def wasserstein_distance(first: np.ndarray, second: np.ndarray) -> float:
    """The Wasserstein-1 distance of two sorted samples: the integral over u in (0, 1] of
    |Q_first(u) - Q_second(u)|, Q being each sample's quantile function.

    Positions on (0, 1] are integers in units of 1 / (n_big * n_small), so no step is lost to
    rounding. Each of the larger sample's steps starts inside one step of the smaller sample;
    only the last one starting there can reach into the next, and that overlap is corrected.
    """
    big, small = (first, second) if first.size >= second.size else (second, first)
    n_big, n_small = big.size, small.size
    if n_big % n_small == 0:  # each small step spans whole big steps: nothing overlaps
        repeated = small if n_big == n_small else np.repeat(small, n_big // n_small)
        return float(np.mean(np.abs(big - repeated)))
    step = np.arange(n_small + 1, dtype=np.int64)
    starts = (step * n_big + n_small - 1) // n_small  # first big step inside each small step
    area = n_small * float(np.sum(np.abs(big - np.repeat(small, np.diff(starts)))))
    last = big[starts[1:-1] - 1]  # the last big step inside small steps 0 .. n_small - 2
    overlap = starts[1:-1] * n_small - step[1:-1] * n_big  # how far it reaches into the next
    gain = np.abs(last - small[:-1]) - np.abs(last - small[1:])
    area -= float(np.dot(overlap, gain))
    return area / n_big / n_small


def wasserstein(samples: NumericSamples) -> StatisticValue:
    """``scipy.stats.wasserstein_distance(reference, current)`` divided by the reference's
    standard deviation (floored at ``MIN_STD``)."""
    distance = wasserstein_distance(samples.reference, samples.current)
    return distance / max(samples.prepared.std, MIN_STD), None


def psi_bins(samples: NumericSamples) -> StatisticValue:
    return psi(*samples.bin_shares), None


def jensen_shannon_bins(samples: NumericSamples) -> StatisticValue:
    return jensen_shannon(*samples.bin_shares), None
