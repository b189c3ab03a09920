"""The built-in drift statistics, registered through ``register_statistic`` like any other."""

from __future__ import annotations

from opsloop.services.drift import _categorical, _numeric
from opsloop.services.drift.registry import Statistic, register_statistic

BUILT_IN = (
    Statistic(
        "ks", "numeric", _numeric.ks, "p_value", 0.05,
        "two-sample Kolmogorov-Smirnov test (SciPy's ks_2samp)",
    ),
    Statistic(
        "wasserstein", "numeric", _numeric.wasserstein, "statistic", 0.1,
        "Wasserstein-1 distance in reference standard deviations",
    ),
    Statistic(
        "psi", "numeric", _numeric.psi_bins, "statistic", 0.2,
        "population stability index on the reference's quantile bins",
    ),
    Statistic(
        "jensen_shannon", "numeric", _numeric.jensen_shannon_bins, "statistic", 0.1,
        "Jensen-Shannon distance on the reference's quantile bins",
    ),
    Statistic(
        "chi2", "categorical", _categorical.chi2, "p_value", 0.05,
        "chi-square test of homogeneity on the 2 x k table of counts",
    ),
    Statistic(
        "psi", "categorical", _categorical.psi_categories, "statistic", 0.2,
        "population stability index on category shares",
    ),
    Statistic(
        "jensen_shannon", "categorical", _categorical.jensen_shannon_categories, "statistic", 0.1,
        "Jensen-Shannon distance on category shares",
    ),
)  # fmt: skip


def register_built_ins() -> None:
    for statistic in BUILT_IN:
        register_statistic(statistic)
