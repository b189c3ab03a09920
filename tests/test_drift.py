"""Drift comparisons as a user sees them: which test decides, the verdicts, the errors, the
prepared reference and its bytes, and statistics registered from outside."""

from __future__ import annotations

import json
import pickle
from collections.abc import Iterator

import numpy as np
import pandas as pd
import polars as pl
import pyarrow as pa
import pytest

from opsloop.domain.errors import InvalidInput
from opsloop.services.drift import (
    DriftReference,
    DriftThresholds,
    NumericSamples,
    Statistic,
    _format,
    compare,
    register_statistic,
    statistic_names,
    statistics_for,
    unregister_statistic,
)


def frames(rows_ref: int, rows_cur: int, seed: int = 0) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Two numeric and two categorical columns; ``shifted`` and ``mix`` drift, the others not."""
    rng = np.random.default_rng(seed)
    p_ref, p_cur = [0.5, 0.3, 0.2], [0.2, 0.3, 0.5]

    def frame(n: int, drifted: bool) -> pd.DataFrame:
        return pd.DataFrame(
            {
                "steady": rng.normal(size=n),
                "shifted": rng.normal(1.0 if drifted else 0.0, size=n),
                "colour": rng.choice(["red", "green", "blue"], n, p=p_ref),
                "mix": rng.choice(["a", "b", "c"], n, p=p_cur if drifted else p_ref),
            }
        )

    return frame(rows_ref, False), frame(rows_cur, True)


@pytest.mark.parametrize(
    ("rows", "numeric_test", "categorical_test"),
    [(400, "ks", "chi2"), (1000, "ks", "chi2"), (1001, "wasserstein", "jensen_shannon")],
)
def test_the_policy_picks_the_test_by_kind_and_reference_size(
    rows: int, numeric_test: str, categorical_test: str
) -> None:
    ref, cur = frames(rows, 500)
    report = compare(ref, cur)
    assert [c.test for c in report.columns] == [numeric_test] * 2 + [categorical_test] * 2
    assert report.drifted == ["shifted", "mix"]
    assert report.share_drifted == 0.5
    for column in report.columns:
        if column.test in ("ks", "chi2"):
            assert column.p_value == column.statistics[f"{column.test}_p_value"]
            assert column.threshold == 0.05
            assert column.drifted == (column.p_value is not None and column.p_value < 0.05)
        else:
            assert column.p_value is None
            assert column.threshold == 0.1
            assert column.drifted == (column.statistic is not None and column.statistic >= 0.1)
        assert column.statistic == column.statistics[column.test]


def test_every_statistic_of_its_kind_is_computed_for_every_column() -> None:
    ref, cur = frames(300, 200)
    report = compare(ref, cur)
    numeric = {"ks", "ks_p_value", "wasserstein", "psi", "jensen_shannon"}
    categorical = {"chi2", "chi2_p_value", "psi", "jensen_shannon"}
    for column in report.columns:
        assert set(column.statistics) == (numeric if column.kind == "numeric" else categorical)
        assert all(value is not None for value in column.statistics.values())


def test_large_sample_is_a_threshold() -> None:
    ref, cur = frames(3000, 500)
    report = compare(ref, cur, thresholds=DriftThresholds(large_sample=5000))
    assert [c.test for c in report.columns] == ["ks", "ks", "chi2", "chi2"]


@pytest.mark.parametrize(
    ("test", "expected"),
    [
        ("psi", {"shifted", "mix"}),
        ("jensen_shannon", {"shifted", "mix"}),
    ],
)
def test_a_forced_test_decides_every_column(test: str, expected: set[str]) -> None:
    ref, cur = frames(2000, 2000)
    report = compare(ref, cur, test=test)
    assert {c.test for c in report.columns} == {test}
    assert set(report.drifted) == expected


def test_a_forced_test_must_fit_every_columns_kind() -> None:
    ref, cur = frames(100, 100)
    with pytest.raises(InvalidInput, match="'ks' does not apply to categorical") as caught:
        compare(ref, cur, test="ks")
    assert caught.value.field == "test"
    assert [c.test for c in compare(ref, cur, columns=["steady"], test="ks").columns] == ["ks"]
    with pytest.raises(InvalidInput, match="unknown drift test 'energy'"):
        compare(ref, cur, test="energy")


def test_thresholds_move_the_verdict() -> None:
    ref, cur = frames(5000, 5000)
    strict = compare(ref, cur, thresholds=DriftThresholds(wasserstein=0.0))
    assert "steady" in strict.drifted
    lax = compare(ref, cur, thresholds=DriftThresholds(wasserstein=10.0, jensen_shannon=1.0))
    assert lax.drifted == []
    assert lax["shifted"].threshold == 10.0


@pytest.mark.parametrize(
    ("values", "field"),
    [
        ({"p_value": 0.0}, "thresholds.p_value"),
        ({"p_value": 1.5}, "thresholds.p_value"),
        ({"wasserstein": -1.0}, "thresholds.wasserstein"),
        ({"psi": float("nan")}, "thresholds.psi"),
        ({"large_sample": -3}, "thresholds.large_sample"),
        ({"others": {"energy": -1}}, "thresholds.energy"),
        ({"others": 5}, "thresholds.others"),
        ({"others": {"energy": "high"}}, "thresholds.others"),
        ({"alpha": 0.1}, "thresholds.alpha"),
    ],
)
def test_bad_thresholds_name_the_field(values: dict[str, object], field: str) -> None:
    with pytest.raises(InvalidInput) as caught:
        DriftThresholds.from_mapping(values)
    assert caught.value.field == field


def test_empty_current_data_is_refused() -> None:
    ref, cur = frames(100, 100)
    with pytest.raises(InvalidInput, match="no rows") as caught:
        compare(ref, cur.iloc[:0])
    assert caught.value.field == "current"


def test_a_column_missing_from_the_window_is_named() -> None:
    ref, cur = frames(100, 100)
    with pytest.raises(InvalidInput, match="column 'mix' of the reference") as caught:
        compare(ref, cur.drop(columns=["mix"]))
    assert caught.value.detail == {"missing_columns": ["mix"]}
    with pytest.raises(InvalidInput, match="'colour', 'mix'"):
        compare(ref, cur.drop(columns=["mix", "colour"]))


@pytest.mark.parametrize(
    ("columns", "message"),
    [(["nope"], "'nope' is not in the reference data"), ("steady", "a list of names")],
)
def test_bad_column_lists(columns: object, message: str) -> None:
    ref, cur = frames(100, 100)
    with pytest.raises(InvalidInput, match=message):
        compare(ref, cur, columns=columns)  # type: ignore[arg-type]
    prepared = DriftReference.prepare(ref, ["steady"])
    with pytest.raises(InvalidInput, match="'mix' is not in the drift reference"):
        compare(prepared, cur, columns=["mix"])


def test_text_where_numbers_belong_is_named() -> None:
    ref = pd.DataFrame({"age": [30.0, 41.0, 25.0], "x": [1.0, 2.0, 3.0]})
    with pytest.raises(InvalidInput, match="column 'age' should hold numbers") as caught:
        compare(ref, pd.DataFrame({"age": ["old", "young"], "x": [1.0, 2.0]}))
    assert caught.value.field == "columns.age"


def test_missing_values_are_counted_and_left_out() -> None:
    ref = pd.DataFrame({"x": np.arange(100.0), "c": ["a", "b"] * 50})
    cur = pd.DataFrame(
        {
            "x": [np.nan, np.inf, None, *np.arange(40.0)],
            "c": [None, np.nan, *(["a", "b"] * 20), "a"],
        }
    )
    report = compare(ref, cur)
    assert (report["x"].current_missing, report["x"].current_rows) == (3, 40)
    assert (report["c"].current_missing, report["c"].current_rows) == (2, 41)


def test_a_window_whose_column_is_all_missing_gives_no_statistic() -> None:
    ref = pd.DataFrame({"x": np.arange(100.0), "c": ["a", "b"] * 50})
    cur = pd.DataFrame({"x": [np.nan] * 5, "c": [None] * 5})
    report = compare(ref, cur)
    for column in report.columns:
        assert column.statistic is None and not column.drifted
        assert set(column.statistics.values()) == {None}
        assert column.current_missing == 5


def test_arrow_polars_and_pandas_give_one_answer() -> None:
    ref, cur = frames(1500, 700)
    from_pandas = compare(ref, cur).to_dict()
    assert compare(pa.Table.from_pandas(ref), pa.Table.from_pandas(cur)).to_dict() == from_pandas
    assert compare(pl.from_pandas(ref), pl.from_pandas(cur)).to_dict() == from_pandas
    dictionary = pa.Table.from_pandas(cur.astype({"colour": "category", "mix": "category"}))
    assert compare(ref, dictionary).to_dict() == from_pandas
    with pytest.raises(InvalidInput, match="must be a pandas, polars or Arrow table"):
        compare(ref, cur.to_dict())


def test_numbers_named_categorical_match_across_int_and_float() -> None:
    ref = pd.DataFrame({"code": [1, 2, 3, 3] * 30})
    cur = pd.DataFrame({"code": [1.0, 2.0, 3.0, np.nan, 4.0] * 10})
    prepared = DriftReference.prepare(ref, categorical=["code"])
    assert prepared.columns == {"code": "categorical"}
    assert prepared.categories("code") == frozenset({"1", "2", "3"})
    report = compare(prepared, cur)
    assert report["code"].current_missing == 10
    sam = compare(ref, cur, categorical=["code"])
    assert sam.to_dict() == report.to_dict()


def test_reference_accessors() -> None:
    ref, _ = frames(200, 1)
    ref["when"] = pd.Timestamp("2026-01-01")
    prepared = DriftReference.prepare(ref)
    assert prepared.columns == {
        "steady": "numeric",
        "shifted": "numeric",
        "colour": "categorical",
        "mix": "categorical",
    }  # the date column is left out
    assert prepared.rows == 200
    assert prepared.value_range("steady") == (ref["steady"].min(), ref["steady"].max())
    assert prepared.categories("colour") == frozenset({"red", "green", "blue"})
    with pytest.raises(InvalidInput, match="'colour' is categorical, not numeric"):
        prepared.value_range("colour")
    with pytest.raises(InvalidInput, match="neither numbers nor categories"):
        DriftReference.prepare(ref, ["when"])


def test_reference_bytes_round_trip() -> None:
    ref, cur = frames(3000, 1000)
    ref.loc[:9, "steady"] = np.nan
    prepared = DriftReference.prepare(ref)
    data = prepared.to_bytes()
    again = DriftReference.from_bytes(data)
    assert again.columns == prepared.columns and again.rows == prepared.rows
    np.testing.assert_array_equal(again.numeric("steady").values, prepared.numeric("steady").values)
    assert again.numeric("steady").missing == 10
    assert compare(again, cur).to_dict() == compare(prepared, cur).to_dict()
    assert not data.startswith(b"\x80")  # not a pickle
    with pytest.raises(pickle.UnpicklingError):
        pickle.loads(data)


def test_unreadable_or_newer_bytes_are_refused() -> None:
    with pytest.raises(InvalidInput, match="not a drift reference"):
        DriftReference.from_bytes(b"hello")
    other = pa.table({"a": [1, 2]})
    sink = pa.BufferOutputStream()
    with pa.ipc.new_stream(sink, other.schema) as writer:
        writer.write_table(other)
    with pytest.raises(InvalidInput, match="not a drift reference"):
        DriftReference.from_bytes(sink.getvalue().to_pybytes())
    data = DriftReference.prepare(pd.DataFrame({"x": [1.0, 2.0]})).to_bytes()
    table = pa.ipc.open_stream(data).read_all()
    meta = {_format.METADATA_KEY: json.dumps({"version": 99, "rows": 2, "bins": 20}).encode()}
    sink = pa.BufferOutputStream()
    with pa.ipc.new_stream(sink, table.schema.with_metadata(meta)) as writer:
        writer.write_table(table.replace_schema_metadata(meta))
    with pytest.raises(InvalidInput, match="format version 99"):
        DriftReference.from_bytes(sink.getvalue().to_pybytes())


def test_the_report_as_a_frame_and_as_json() -> None:
    ref, cur = frames(300, 300)
    report = compare(ref, cur)
    frame = report.to_frame()
    assert list(frame["column"]) == ["steady", "shifted", "colour", "mix"]
    assert list(frame["drifted"]) == [False, True, False, True]
    assert {"ks", "wasserstein", "chi2", "chi2_p_value"} <= set(frame.columns)
    doc = report.to_dict()
    json.dumps(doc, allow_nan=False)
    assert doc["drifted"] == ["shifted", "mix"] and doc["thresholds"]["p_value"] == 0.05
    with pytest.raises(InvalidInput, match="not in the drift report"):
        report["nope"]


@pytest.fixture
def mean_shift() -> Iterator[Statistic]:
    def shift(samples: NumericSamples) -> tuple[float, None]:
        gap = abs(float(samples.current.mean() - samples.reference.mean()))
        return gap / max(float(samples.prepared.std), 1e-9), None

    registered = register_statistic(Statistic("mean_shift", "numeric", shift, "statistic", 0.5))
    yield registered
    unregister_statistic("mean_shift", "numeric")


def test_a_statistic_registered_from_outside_is_computed_and_can_decide(
    mean_shift: Statistic,
) -> None:
    ref, cur = frames(2000, 2000)
    assert "mean_shift" in statistic_names()
    assert mean_shift in statistics_for("numeric")
    report = compare(ref, cur, columns=["steady", "shifted"], test="mean_shift")
    assert report["shifted"].statistics["mean_shift"] == pytest.approx(1.0, abs=0.1)
    assert report["shifted"].threshold == 0.5 and report.drifted == ["shifted"]
    plain = compare(ref, cur, columns=["steady", "shifted"])
    assert "mean_shift" in plain["steady"].statistics and plain["steady"].test == "wasserstein"
    raised = compare(
        ref, cur, columns=["shifted"], test="mean_shift",
        thresholds=DriftThresholds(others={"mean_shift": 5.0}),
    )  # fmt: skip
    assert raised["shifted"].threshold == 5.0 and raised.drifted == []


@pytest.mark.parametrize(
    ("name", "kind", "field"), [("x y", "numeric", "name"), ("fine", "text", "kind")]
)
def test_a_statistic_needs_a_name_and_a_kind(name: str, kind: str, field: str) -> None:
    def nothing(samples: object) -> tuple[None, None]:
        return None, None

    with pytest.raises(InvalidInput) as caught:
        register_statistic(Statistic(name, kind, nothing))  # type: ignore[arg-type]
    assert caught.value.field == field
