"""The drift benchmark's harness on small data, without Evidently: the tables, the SciPy
check, the bars, and one whole run of the opsloop side."""

from __future__ import annotations

import dataclasses
import json
import sys
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "benchmarks"))

import drift as bench

from opsloop.services.drift import compare


def test_the_tables_are_fixed_by_the_seed_and_shaped_as_the_issue_asks() -> None:
    ref, cur = bench.make_tables(2000)
    again_ref, again_cur = bench.make_tables(2000)
    pd.testing.assert_frame_equal(ref, again_ref)
    pd.testing.assert_frame_equal(cur, again_cur)
    assert ref.shape == cur.shape == (2000, 20)
    assert list(ref.columns) == bench.NUMERIC + bench.CATEGORICAL
    assert len(bench.NUMERIC) == 15 and len(bench.CATEGORICAL) == 5 and len(bench.SHIFTED) == 5
    assert all(pd.api.types.is_numeric_dtype(ref[c]) for c in bench.NUMERIC)
    unseen = set(cur["cat_3"]) - set(ref["cat_3"])
    assert unseen and all("_new" in value for value in unseen)
    assert set(cur["cat_1"]) <= set(ref["cat_1"])


def test_the_shifted_columns_are_the_ones_found() -> None:
    ref, cur = bench.make_tables(3000)
    assert compare(ref, cur).drifted == bench.SHIFTED


def test_contingency_puts_unseen_values_in_one_column() -> None:
    reference = pd.Series(["b", "a", "a", None])
    current = pd.Series(["a", "c", "d", "d", "b"])
    np.testing.assert_array_equal(bench.contingency(reference, current), [[2, 1, 0], [1, 1, 3]])


def test_scipy_differences_are_zero_for_opsloop_and_catch_a_wrong_value() -> None:
    ref, cur = bench.make_tables(1500)
    report = compare(ref, cur)
    found = bench.scipy_differences(ref, cur, report)
    assert found["ks"][0] == 0.0 and found["ks_p"][0] == 0.0
    assert found["chi2"][0] <= 1e-12 and found["chi2_p"][0] <= 1e-12
    wrong = [
        dataclasses.replace(c, statistics={**c.statistics, "ks": c.statistics["ks"] + 0.01})
        if c.column == "num_07"
        else c
        for c in report.columns
    ]
    found = bench.scipy_differences(ref, cur, dataclasses.replace(report, columns=wrong))
    assert found["ks"][0] == pytest.approx(0.01) and found["ks"][1] == "num_07"


def figures(compare_s: list[float], drifted: list[str]) -> dict[str, object]:
    return {"compare_s": compare_s, "drifted": drifted}


def evidently(run_s: float, flagged: list[str]) -> dict[str, object]:
    columns = {c: {"drifted": c in flagged} for c in bench.NUMERIC + bench.CATEGORICAL}
    return {"run_s": run_s, "columns": columns}


EXACT = {"ks": (0.0, "num_00"), "chi2": (1e-13, "cat_0")}


def test_bars_pass_and_fail_on_the_ratio_and_the_values() -> None:
    bars = bench.build_bars(
        figures([1.0, 2.0, 1.5], bench.SHIFTED), evidently(80.0, bench.SHIFTED), EXACT
    )
    assert [(b.figure, b.passed) for b in bars] == [
        ("53×", True),
        ("0", True),
        ("1e-13", True),
        ("yes", True),
        ("yes", True),
    ]
    slow = bench.build_bars(
        figures([2.0], bench.SHIFTED[:4]),
        evidently(80.0, bench.NUMERIC),
        {"ks": (1e-3, "num_01"), "chi2": (1e-6, "cat_2")},
    )
    assert [b.passed for b in slow] == [False, False, False, False, False]


def test_a_missing_evidently_gives_no_verdict_on_its_bars() -> None:
    bars = bench.build_bars(figures([1.0], bench.SHIFTED), {"error": "venv failed"}, EXACT)
    assert [b.passed for b in bars] == [None, True, True, True, None]


def test_a_small_run_of_the_opsloop_side(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    out = tmp_path / "figures.json"
    assert bench.main(["--rows", "3000", "--reps", "2", "--no-evidently", "--json", str(out)]) == 0
    printed = capsys.readouterr().out
    assert "largest |KS - SciPy|" in printed and "FAIL" not in printed
    doc = json.loads(out.read_text())
    assert len(doc["opsloop"]["compare_s"]) == 2
    assert doc["opsloop"]["drifted"] == bench.SHIFTED
    assert doc["scipy_differences"]["ks"][0] == 0.0
    assert [b["passed"] for b in doc["bars"]] == [None, True, True, True, None]


def test_agreement_with_evidently_only_where_the_statistic_is_the_same() -> None:
    ref, cur = bench.make_tables(1500)
    report = compare(ref, cur)
    theirs = {
        "columns": {
            "num_00": {"method": "Wasserstein distance (normed)",
                       "value": report["num_00"].statistics["wasserstein"] + 0.002},
            "num_01": {"method": "Jensen-Shannon distance", "value": 9.0},  # other bins
            "cat_0": {"method": "Jensen-Shannon distance",
                      "value": report["cat_0"].statistics["jensen_shannon"]},
            "cat_1": {"method": "chi-square p_value", "value": 9.0},  # another test
        }
    }  # fmt: skip
    difference, column = bench.evidently_agreement(theirs, report) or (None, None)
    assert column == "num_00" and difference == pytest.approx(0.002)
    assert bench.evidently_agreement({"error": "failed"}, report) is None
