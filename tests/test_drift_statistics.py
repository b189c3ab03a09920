"""Every drift statistic against the SciPy function docs/drift.md names, on many random cases:
ties, missing values, constant columns, unseen categories, integers and booleans."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from scipy import stats
from scipy.spatial import distance

from opsloop.services.drift import UNSEEN, DriftReference, compare
from opsloop.services.drift._numeric import (
    SEARCH_BLOCK,
    count_at_or_below,
    ks_statistic,
    wasserstein_distance,
)

SEEDS = range(40)


def numeric_case(seed: int) -> tuple[pd.Series, pd.Series]:
    """A reference and a window of one of several shapes, sizes on both sides of SciPy's
    exact/asymptotic switch (10,000), with missing values sprinkled in."""
    rng = np.random.default_rng(seed)
    shape = seed % 5
    n_ref = int(rng.choice([1, 7, 300, 2_000, 12_000, 30_000]))
    n_cur = int(rng.choice([1, 5, 250, 3_000, 11_000, 25_000]))
    if shape == 0:  # continuous, shifted a little
        ref, cur = rng.normal(size=n_ref), rng.normal(rng.normal() * 0.1, size=n_cur)
    elif shape == 1:  # small integers: heavy ties inside and across the samples
        ref, cur = rng.integers(0, 6, n_ref) * 1.0, rng.integers(0, 7, n_cur) * 1.0
    elif shape == 2:  # rounded: some ties
        ref, cur = np.round(rng.normal(size=n_ref), 2), np.round(rng.normal(size=n_cur), 2)
    elif shape == 3:  # constant reference
        ref, cur = np.full(n_ref, 2.5), rng.choice([2.5, 3.0], n_cur)
    else:  # heavy tail, different scale
        ref, cur = rng.lognormal(size=n_ref), rng.lognormal(sigma=1.3, size=n_cur)
    ref, cur = pd.Series(ref), pd.Series(cur)
    ref[rng.random(n_ref) < 0.05] = np.nan
    cur[rng.random(n_cur) < 0.05] = np.nan
    if cur.notna().sum() == 0:
        cur[0] = 1.0
    if ref.notna().sum() == 0:
        ref[0] = 1.0
    return ref, cur


@pytest.mark.parametrize("seed", SEEDS)
def test_numeric_statistics_equal_scipy(seed: int) -> None:
    ref, cur = numeric_case(seed)
    report = compare(pd.DataFrame({"x": ref}), pd.DataFrame({"x": cur}))
    found = report["x"].statistics
    r, c = ref.dropna().to_numpy(), cur.dropna().to_numpy()

    expected = stats.ks_2samp(r, c)
    assert found["ks"] == float(expected.statistic)  # bit for bit
    assert found["ks_p_value"] == pytest.approx(float(expected.pvalue), rel=1e-12, abs=1e-300)
    wasserstein = stats.wasserstein_distance(r, c) / max(float(np.std(r)), 0.001)
    assert found["wasserstein"] == pytest.approx(wasserstein, rel=1e-9, abs=1e-12)

    ref_shares, cur_shares = quantile_bin_shares(r, c, bins=20)
    assert found["jensen_shannon"] == pytest.approx(
        distance.jensenshannon(ref_shares, cur_shares), rel=1e-9, abs=1e-12
    )
    floor_r, floor_c = np.maximum(ref_shares, 1e-4), np.maximum(cur_shares, 1e-4)
    psi = np.sum((floor_c - floor_r) * np.log(floor_c / floor_r))
    assert found["psi"] == pytest.approx(psi, rel=1e-9, abs=1e-12)
    assert report["x"].current_missing == int(cur.isna().sum())
    assert report["x"].reference_rows == len(r) and report["x"].current_rows == len(c)


def quantile_bin_shares(r: np.ndarray, c: np.ndarray, bins: int) -> tuple[np.ndarray, np.ndarray]:
    """Shares in the bins (-inf, q1], (q1, q2], ..., (qk, inf) at the reference's quantiles."""
    edges = np.unique(np.quantile(r, np.arange(1, bins) / bins))
    cut = [-np.inf, *edges, np.inf]
    ref_counts = pd.Series(pd.cut(r, cut, right=True)).value_counts(sort=False).to_numpy()
    cur_counts = pd.Series(pd.cut(c, cut, right=True)).value_counts(sort=False).to_numpy()
    return ref_counts / len(r), cur_counts / len(c)


@pytest.mark.parametrize("seed", range(200))
def test_ks_statistic_is_scipys_bit_for_bit(seed: int) -> None:
    rng = np.random.default_rng(1000 + seed)
    n1, n2 = int(rng.integers(1, 400)), int(rng.integers(1, 400))
    levels = int(rng.integers(1, 12))
    a = rng.integers(0, levels, n1) / 3 if seed % 2 else rng.normal(size=n1)
    b = rng.integers(0, levels + 1, n2) / 3 if seed % 2 else rng.normal(0.2, size=n2)
    # 'asymp' returns the statistic unrounded (the exact method snaps it to a lattice)
    expected = stats.ks_2samp(a, b, method="asymp").statistic
    assert ks_statistic(np.sort(a), np.sort(b)) == expected


@pytest.mark.parametrize("seed", range(6))
def test_the_blockwise_search_is_searchsorted(seed: int) -> None:
    rng = np.random.default_rng(seed)
    reference = np.sort(np.round(rng.normal(size=int(rng.integers(1, 50_000))), seed % 3 + 1))
    values = np.sort(np.round(rng.normal(size=4 * SEARCH_BLOCK + int(rng.integers(0, 9_999))), 2))
    expected = np.searchsorted(reference, values, side="right")
    np.testing.assert_array_equal(count_at_or_below(reference, values), expected)


@pytest.mark.parametrize(("n1", "n2"), [(7, 3), (3, 7), (10, 10), (12, 8), (1000, 999), (5, 1)])
def test_wasserstein_of_unequal_sizes(n1: int, n2: int) -> None:
    rng = np.random.default_rng(n1 * 1000 + n2)
    a, b = rng.normal(size=n1), rng.exponential(size=n2)
    got = wasserstein_distance(np.sort(a), np.sort(b))
    assert got == pytest.approx(stats.wasserstein_distance(a, b), rel=1e-12)


def categorical_case(seed: int) -> tuple[pd.Series, pd.Series]:
    rng = np.random.default_rng(seed)
    n_ref, n_cur = int(rng.choice([3, 50, 900, 5_000])), int(rng.choice([2, 40, 800, 6_000]))
    letters = list("abcdefg")
    k = int(rng.integers(1, 7))
    ref = pd.Series(rng.choice(letters[:k], n_ref), dtype=object)
    cur = pd.Series(rng.choice(letters[: k + int(rng.integers(0, 2))], n_cur), dtype=object)
    ref[rng.random(n_ref) < 0.05] = None
    cur[rng.random(n_cur) < 0.05] = None
    if cur.notna().sum() == 0:
        cur[0] = "a"
    if ref.notna().sum() == 0:
        ref[0] = "a"
    return ref, cur


@pytest.mark.parametrize("seed", SEEDS)
def test_categorical_statistics_equal_scipy(seed: int) -> None:
    ref, cur = categorical_case(seed)
    report = compare(pd.DataFrame({"c": ref}), pd.DataFrame({"c": cur}))
    found = report["c"].statistics
    ref_counts = ref.value_counts()
    known = sorted(ref_counts.index)
    cur_counts = cur.value_counts()
    unseen = int(cur_counts[~cur_counts.index.isin(known)].sum())
    table = np.array(
        [
            [ref_counts.get(k, 0) for k in known] + ([0] if unseen else []),
            [cur_counts.get(k, 0) for k in known] + ([unseen] if unseen else []),
        ]
    )
    if table.shape[1] > 1:
        expected = stats.chi2_contingency(table, correction=False)
        assert found["chi2"] == pytest.approx(float(expected.statistic), rel=1e-9, abs=1e-12)
        assert found["chi2_p_value"] == pytest.approx(float(expected.pvalue), rel=1e-9)
    else:
        assert (found["chi2"], found["chi2_p_value"]) == (0.0, 1.0)
    shares = table / table.sum(axis=1, keepdims=True)
    assert found["jensen_shannon"] == pytest.approx(
        distance.jensenshannon(shares[0], shares[1]), rel=1e-9, abs=1e-12
    )
    floored = np.maximum(shares, 1e-4)
    psi = np.sum((floored[1] - floored[0]) * np.log(floored[1] / floored[0]))
    assert found["psi"] == pytest.approx(psi, rel=1e-9, abs=1e-12)
    assert report["c"].current_missing == int(cur.isna().sum())


def test_unseen_categories_are_one_bucket() -> None:
    reference = DriftReference.prepare(pd.DataFrame({"c": ["a"] * 60 + ["b"] * 40}))
    window = pd.DataFrame({"c": ["a"] * 30 + ["b"] * 10 + ["x"] * 6 + ["y"] * 4})
    found = compare(reference, window)["c"].statistics
    table = np.array([[60, 40, 0], [30, 10, 10]])
    expected = stats.chi2_contingency(table, correction=False)
    assert found["chi2"] == pytest.approx(float(expected.statistic), rel=1e-12)
    assert found["chi2_p_value"] == pytest.approx(float(expected.pvalue), rel=1e-12)
    assert UNSEEN == "(unseen)"


def test_integer_and_boolean_columns() -> None:
    rng = np.random.default_rng(5)
    ref = pd.DataFrame({"n": rng.integers(0, 50, 4000), "flag": rng.random(4000) < 0.3})
    cur = pd.DataFrame(
        {"n": pd.array(rng.integers(5, 55, 3000), dtype="Int64"), "flag": rng.random(3000) < 0.6}
    )
    cur.loc[:9, "n"] = pd.NA
    report = compare(ref, cur)
    assert report["n"].kind == "numeric" and report["flag"].kind == "categorical"
    kept = cur["n"].dropna().to_numpy(dtype=float)
    assert report["n"].statistics["ks"] == stats.ks_2samp(ref["n"], kept).statistic
    assert report["n"].current_missing == 10
    table = np.array(
        [
            [(~ref["flag"]).sum(), ref["flag"].sum()],
            [(~cur["flag"]).sum(), cur["flag"].sum()],
        ]
    )
    expected = stats.chi2_contingency(table, correction=False)
    assert report["flag"].statistics["chi2"] == pytest.approx(float(expected.statistic))
    assert report["flag"].drifted


def test_constant_columns_that_agree_do_not_drift() -> None:
    report = compare(pd.DataFrame({"x": [3.0] * 50, "c": ["k"] * 50}),
                     pd.DataFrame({"x": [3.0] * 20, "c": ["k"] * 20}))  # fmt: skip
    assert report["x"].statistics["ks"] == 0.0 and report["x"].statistics["ks_p_value"] == 1.0
    assert report["x"].statistics["wasserstein"] == 0.0
    assert report["c"].statistics["chi2"] == 0.0 and report["c"].statistics["chi2_p_value"] == 1.0
    assert report.drifted == []
