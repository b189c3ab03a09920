"""Dataset versions, lineage and profiles, on SQLite and PostgreSQL.

Profiles are checked against NumPy and pandas computing the same statistic on the same data.
"""

from __future__ import annotations

import datetime as dt
import threading
from collections.abc import Callable
from decimal import Decimal
from typing import Any

import numpy as np
import pandas as pd
import pyarrow as pa
import pytest

from opsloop.domain.entities import ColumnProfile, DatasetVersion
from opsloop.domain.errors import InvalidInput, NotFound
from opsloop.services.datasets import table_to_parquet
from opsloop.services.platform import Platform
from opsloop.services.profiling import QUANTILES

from .conftest import ACTOR


def upload(platform: Platform, data: pd.DataFrame | pa.Table) -> str:
    table = data if isinstance(data, pa.Table) else pa.Table.from_pandas(data, preserve_index=False)
    sha256, _ = platform.artifacts.put(table_to_parquet(table))
    return sha256


def log(
    platform: Platform, data: pd.DataFrame | pa.Table, name: str = "posts", **extra: Any
) -> DatasetVersion:
    return platform.datasets.create_version(
        "mod", name, upload(platform, data), actor=ACTOR, **extra
    )


def frame(seed: int, rows: int = 5) -> pd.DataFrame:
    return pd.DataFrame(
        {
            "id": np.arange(seed, seed + rows),
            "label": ["spam", "ok"] * (rows // 2) + ["ok"] * (rows % 2),
        }
    )


# --- versions -------------------------------------------------------------------------------


def test_versions_are_numbered_from_one(platform: Platform) -> None:
    made = [log(platform, frame(seed)) for seed in range(3)]
    assert [v.version for v in made] == [1, 2, 3]
    assert [v.ref for v in made] == ["mod/posts@1", "mod/posts@2", "mod/posts@3"]
    assert [v.created_by for v in made] == ["tester"] * 3
    assert [v.version for v in platform.datasets.list_versions("mod", "posts")] == [1, 2, 3]
    assert platform.datasets.get_version("mod", "posts").version == 3
    assert platform.datasets.get_version("mod", "posts", 2).sha256 == made[1].sha256
    [listed] = platform.datasets.list_datasets("mod")
    assert (listed.name, listed.latest_version) == ("posts", 3)


def test_a_version_records_its_shape_and_text(platform: Platform) -> None:
    data = frame(0, rows=7)
    made = log(platform, data, source="s3://raw/posts.csv", description="first cut")
    assert (made.num_rows, made.num_columns) == (7, 2)
    assert (made.profile.num_rows, made.profile.num_columns) == (7, 2)
    assert [c.name for c in made.profile.columns] == ["id", "label"]
    assert (made.source, made.description) == ("s3://raw/posts.csv", "first cut")
    assert made.size == platform.artifacts.size(made.sha256)
    assert platform.datasets.get_version("mod", "posts", 1) == made


def test_the_same_content_and_parents_give_back_the_same_version(platform: Platform) -> None:
    first = log(platform, frame(0))
    again = log(platform, frame(0))
    assert again == first
    assert [v.version for v in platform.datasets.list_versions("mod", "posts")] == [1]
    kinds = [e.kind for e in platform.events.query(subject="dataset:mod/posts")]
    assert kinds == ["dataset_version.created"]


def test_the_same_content_with_other_parents_is_a_new_version(platform: Platform) -> None:
    log(platform, frame(100), name="raw")
    first = log(platform, frame(0))
    derived = log(platform, frame(0), parents=["mod/raw@1"])
    assert (first.version, derived.version) == (1, 2)
    assert derived.parents == ["mod/raw@1"]
    assert log(platform, frame(0), parents=["mod/raw@1"]) == derived


def test_returning_to_older_content_is_a_new_version(platform: Platform) -> None:
    log(platform, frame(0))
    log(platform, frame(1))
    back = log(platform, frame(0))
    assert back.version == 3  # only the latest version is compared: history stays linear


def test_lineage_records_each_parent_at_its_version(platform: Platform) -> None:
    log(platform, frame(0), name="raw")
    log(platform, frame(1), name="raw")
    log(platform, frame(2), name="labels")
    platform.datasets.create_version("other", "seed", upload(platform, frame(3)), actor=ACTOR)
    train = log(
        platform,
        frame(4),
        name="train",
        parents=["mod/raw@1", "mod/labels", "other/seed@1", "mod/raw@1"],
    )
    assert train.parents == ["mod/labels@1", "mod/raw@1", "other/seed@1"]
    # An unpinned parent is pinned at the version it was when the child was made.
    log(platform, frame(5), name="labels")
    assert platform.datasets.get_version("mod", "train").parents == [
        "mod/labels@1",
        "mod/raw@1",
        "other/seed@1",
    ]
    [event] = platform.events.query(subject="dataset:mod/train")
    assert event.data["parents"] == train.parents


@pytest.mark.parametrize(
    ("parent", "field"),
    [
        ("ghost/raw@1", "project"),
        ("mod/ghost@1", "dataset"),
        ("mod/raw@9", "version"),
    ],
)
def test_an_unknown_parent_is_not_found_and_nothing_is_made(
    platform: Platform, parent: str, field: str
) -> None:
    log(platform, frame(0), name="raw")
    sha256 = upload(platform, frame(1))
    with pytest.raises(NotFound) as caught:
        platform.datasets.create_version("new", "train", sha256, actor=ACTOR, parents=[parent])
    assert caught.value.field == field
    assert [p.name for p in platform.projects.list_projects()] == ["mod"]


@pytest.mark.parametrize("parent", ["raw", "mod/raw@0", "mod/raw@x", "a/b/c", ""])
def test_a_malformed_parent_is_invalid(platform: Platform, parent: str) -> None:
    log(platform, frame(0), name="raw")
    with pytest.raises(InvalidInput) as caught:
        log(platform, frame(1), name="train", parents=[parent])
    assert (caught.value.field or "").startswith("parents")


@pytest.mark.parametrize(
    "blob",
    [b"", b"not parquet", b"PAR1" + b"\x00" * 64 + b"PAR1", b"id,label\n1,spam\n", b"\x89PNG\r\n"],
)
def test_a_blob_that_is_not_parquet_is_invalid(platform: Platform, blob: bytes) -> None:
    sha256, _ = platform.artifacts.put(blob)
    with pytest.raises(InvalidInput) as caught:
        platform.datasets.create_version("mod", "posts", sha256, actor=ACTOR)
    assert caught.value.field == "sha256"
    assert platform.projects.list_projects() == []


def test_a_blob_that_was_never_uploaded_is_not_found(platform: Platform) -> None:
    with pytest.raises(NotFound) as caught:
        platform.datasets.create_version("mod", "posts", "c" * 64, actor=ACTOR)
    assert caught.value.field == "sha256"


@pytest.mark.parametrize(
    ("call", "field"),
    [
        (lambda p: p.datasets.get_version("ghost", "posts"), "project"),
        (lambda p: p.datasets.get_version("mod", "ghost"), "dataset"),
        (lambda p: p.datasets.get_version("mod", "posts", 7), "version"),
        (lambda p: p.datasets.list_versions("mod", "ghost"), "dataset"),
        (lambda p: p.datasets.list_datasets("ghost"), "project"),
        (lambda p: p.datasets.read_table("mod", "posts", 7), "version"),
    ],
    ids=["project", "dataset", "version", "list versions", "list datasets", "read"],
)
def test_unknown_datasets_are_not_found_naming_the_field(
    platform: Platform, call: Callable[[Platform], object], field: str
) -> None:
    log(platform, frame(0))
    with pytest.raises(NotFound) as caught:
        call(platform)
    assert caught.value.field == field


@pytest.mark.parametrize("first", ["into a new project", "onto an existing dataset"])
def test_concurrent_versions_all_get_distinct_numbers(platform: Platform, first: str) -> None:
    """Parallel pipeline steps writing one dataset must not lose a version or crash."""
    existing = 1 if first == "onto an existing dataset" else 0
    if existing:
        log(platform, frame(-10))
    writers = 6
    shas = [upload(platform, frame(seed * 10)) for seed in range(writers)]
    start = threading.Barrier(writers)
    failures: list[BaseException] = []

    def write(sha256: str) -> None:
        start.wait()
        try:
            platform.datasets.create_version("mod", "posts", sha256, actor=ACTOR)
        except Exception as error:  # collected: an exception in a thread would be lost
            failures.append(error)

    threads = [threading.Thread(target=write, args=(sha,)) for sha in shas]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()

    assert failures == []
    versions = platform.datasets.list_versions("mod", "posts")
    assert [v.version for v in versions] == list(range(1, existing + writers + 1))


# --- reading back ---------------------------------------------------------------------------

ROUND_TRIPS = {
    "numbers and text": pd.DataFrame(
        {"i": [1, 2, 3], "f": [0.5, np.nan, -2.0], "s": ["a", None, "c"]}
    ),
    "booleans and times": pd.DataFrame(
        {
            "b": [True, False, True],
            "t": pd.to_datetime(["2024-01-01", "2024-06-30 12:00", None], format="ISO8601"),
            "tz": pd.to_datetime(["2024-01-01", "2024-01-02", "2024-01-03"], utc=True),
        }
    ),
    "categories and nullable ints": pd.DataFrame(
        {
            "c": pd.Categorical(["x", "y", None]),
            "n": pd.array([1, None, 3], dtype="Int64"),
        }
    ),
    "empty": pd.DataFrame({"i": pd.Series([], dtype="int64"), "s": pd.Series([], dtype=object)}),
}


@pytest.mark.parametrize("data", ROUND_TRIPS.values(), ids=ROUND_TRIPS.keys())
def test_read_table_gives_back_the_table_that_was_logged(
    platform: Platform, data: pd.DataFrame
) -> None:
    table = pa.Table.from_pandas(data, preserve_index=False)
    made = log(platform, table)
    read = platform.datasets.read_table("mod", "posts", made.version)
    pd.testing.assert_frame_equal(read.to_pandas(), data)
    # Parquet keeps every Arrow type, except that a dictionary's large_string values come
    # back as string (pyarrow's reader, not opsloop): the values themselves are unchanged.
    assert read.schema.names == table.schema.names
    for got, sent in zip(read.schema.types, table.schema.types, strict=True):
        if pa.types.is_dictionary(sent):
            assert pa.types.is_dictionary(got)
            assert got.index_type == sent.index_type
        else:
            assert got == sent
    assert read.cast(table.schema).equals(table)


def test_read_table_reads_the_version_asked_for(platform: Platform) -> None:
    log(platform, frame(0))
    log(platform, frame(50))
    assert platform.datasets.read_table("mod", "posts", 1).column("id").to_pylist()[0] == 0
    assert platform.datasets.read_table("mod", "posts").column("id").to_pylist()[0] == 50


# --- profiles -------------------------------------------------------------------------------

_rng = np.random.default_rng(7)
NUMERIC = {
    "ints": pd.Series([3, 1, 4, 1, 5, 9, 2, 6, 5, 3, 5], dtype="int64"),
    "floats with NaN and None": pd.Series([1.5, np.nan, None, 2.5, -3.0, 10.0, np.nan]),
    "nullable ints": pd.Series([1, None, 3, 7, None], dtype="Int64"),
    "normal sample": pd.Series(_rng.normal(50.0, 12.0, size=2_000)),
    "skewed sample": pd.Series(_rng.lognormal(0.0, 1.5, size=1_000)),
    "negative floats": pd.Series([-0.25, -1e6, -3.5, -0.0, -42.0]),
    "constant": pd.Series([7.0] * 10),
    "one value": pd.Series([42], dtype="int32"),
    "uint8": pd.Series([0, 255, 128, 1], dtype="uint8"),
    "float32": pd.Series([0.1, 0.2, 0.3, None], dtype="float32"),
}


def profile_of(platform: Platform, series: pd.Series) -> ColumnProfile:
    made = log(platform, pd.DataFrame({"x": series}))
    stored = platform.datasets.get_version("mod", "posts", made.version)
    assert stored.profile == made.profile  # what the database kept is what was computed
    return stored.profile.column("x")


@pytest.mark.parametrize("series", NUMERIC.values(), ids=NUMERIC.keys())
def test_numeric_profiles_match_numpy(platform: Platform, series: pd.Series) -> None:
    column = profile_of(platform, series)
    valid = series.dropna().to_numpy(dtype="float64")

    assert column.kind == "numeric"
    assert column.count == series.count() == len(valid)
    assert column.missing == series.isna().sum()
    assert column.distinct == series.nunique()
    assert column.min == valid.min()
    assert column.max == valid.max()
    assert column.mean == pytest.approx(np.mean(valid), rel=1e-12, abs=1e-12)
    assert column.std == pytest.approx(np.std(valid, ddof=0), rel=1e-12, abs=1e-12)
    assert column.std == pytest.approx(series.astype("float64").std(ddof=0), rel=1e-9, abs=1e-12)
    expected_quantiles = np.quantile(valid, QUANTILES)
    assert list(column.quantiles) == ["p01", "p05", "p25", "p50", "p75", "p95", "p99"]
    assert list(column.quantiles.values()) == pytest.approx(list(expected_quantiles), rel=1e-12)
    assert column.quantiles["p50"] == pytest.approx(series.median(), rel=1e-12)

    edges, counts = column.histogram["edges"], column.histogram["counts"]
    assert len(edges) == 21
    assert len(counts) == 20
    assert sum(counts) == len(valid)
    assert edges == sorted(edges)
    expected_counts, expected_edges = np.histogram(valid, bins=20)
    assert counts == list(expected_counts)
    assert edges == pytest.approx(list(expected_edges), rel=1e-12)
    if valid.min() < valid.max():
        assert (edges[0], edges[-1]) == (valid.min(), valid.max())


def test_nan_and_null_both_count_as_missing(platform: Platform) -> None:
    # Built in Arrow, so NaN stays a NaN value beside a real null.
    table = pa.table({"x": pa.array([1.0, float("nan"), None, 3.0, None], from_pandas=False)})
    assert table.column("x").null_count == 2
    column = log(platform, table).profile.column("x")
    assert (column.count, column.missing) == (2, 3)
    assert (column.min, column.max, column.mean) == (1.0, 3.0, 2.0)


def test_an_all_missing_numeric_column_has_counts_only(platform: Platform) -> None:
    column = profile_of(platform, pd.Series([np.nan, None, np.nan], dtype="float64"))
    assert (column.kind, column.count, column.missing) == ("numeric", 0, 3)
    assert column.mean is None and column.quantiles == {} and column.histogram == {}


def test_decimal_columns_are_profiled_as_numbers(platform: Platform) -> None:
    values = [Decimal("1.50"), None, Decimal("2.25"), Decimal("-4.00")]
    table = pa.table({"x": pa.array(values, type=pa.decimal128(6, 2))})
    column = log(platform, table).profile.column("x")
    assert (column.kind, column.count, column.missing) == ("numeric", 3, 1)
    assert (column.min, column.max) == (-4.0, 2.25)
    assert column.mean == pytest.approx(np.mean([1.5, 2.25, -4.0]))


CATEGORICAL = {
    "strings with None": pd.Series(["a", "b", "a", None, "c", "a", "b", None]),
    "pandas category": pd.Series(pd.Categorical(["x", "y", "x", None, "x", "z"])),
    "one value": pd.Series(["only"] * 4),
    "ties": pd.Series(["b", "a", "c", "a", "b", "c"]),
    "unicode": pd.Series(["été", "naïve", "été", "日本", "日本", "日本"]),
}


@pytest.mark.parametrize("series", CATEGORICAL.values(), ids=CATEGORICAL.keys())
def test_categorical_profiles_match_pandas_value_counts(
    platform: Platform, series: pd.Series
) -> None:
    column = profile_of(platform, series)
    expected = series.value_counts(dropna=True)
    expected = expected[expected > 0]  # unused categories of a pandas Categorical

    assert column.kind == "categorical"
    assert column.count == series.count()
    assert column.missing == series.isna().sum()
    assert column.distinct == len(expected)
    assert {t["value"]: t["count"] for t in column.top_values} == expected.to_dict()
    counts = [t["count"] for t in column.top_values]
    assert counts == sorted(counts, reverse=True)
    assert not any(t.get("other") for t in column.top_values)


def test_more_than_100_categories_sum_the_rest_into_other(platform: Platform) -> None:
    # 150 categories; category k appears (k % 9) + 1 times, so the counts have many ties.
    values = [f"c{k:03d}" for k in range(150) for _ in range((k % 9) + 1)]
    series = pd.Series(values)
    column = profile_of(platform, series)
    expected = series.value_counts()

    named = [t for t in column.top_values if not t.get("other")]
    others = [t for t in column.top_values if t.get("other")]
    assert len(named) == 100
    assert column.distinct == 150
    for entry in named:
        assert entry["count"] == expected[entry["value"]]
    named_counts = [t["count"] for t in named]
    assert named_counts == sorted(named_counts, reverse=True)
    left_out = expected.drop([t["value"] for t in named])
    assert len(left_out) == 50
    assert max(left_out) <= min(named_counts)  # the 100 kept are the most frequent
    [other] = others
    assert other["count"] == left_out.sum()
    assert sum(t["count"] for t in column.top_values) == column.count == len(values)


@pytest.mark.parametrize(
    ("values", "true", "false", "missing"),
    [
        ([True, False, True, None, True], 3, 1, 1),
        ([False, False], 0, 2, 0),
        ([True, None, None], 1, 0, 2),
    ],
)
def test_boolean_profiles_count_each_value(
    platform: Platform, values: list[bool | None], true: int, false: int, missing: int
) -> None:
    table = pa.table({"x": pa.array(values, type=pa.bool_())})
    column = log(platform, table).profile.column("x")
    assert column.kind == "boolean"
    assert (column.count, column.missing) == (true + false, missing)
    found = {t["value"]: t["count"] for t in column.top_values}
    assert found == {k: v for k, v in ((True, true), (False, false)) if v}


DATETIMES = {
    "naive with NaT": pd.Series(
        pd.to_datetime(
            ["2024-03-01 10:00", None, "2023-12-31 23:59:59", "2024-01-15"], format="ISO8601"
        )
    ),
    "utc": pd.Series(
        pd.to_datetime(["2024-01-02", "2021-07-04 08:30"], utc=True, format="ISO8601")
    ),
    "dates": pd.Series([dt.date(2020, 5, 1), None, dt.date(2019, 1, 31)], dtype=object),
}


@pytest.mark.parametrize("series", DATETIMES.values(), ids=DATETIMES.keys())
def test_datetime_profiles_give_the_range(platform: Platform, series: pd.Series) -> None:
    column = profile_of(platform, series)
    valid = series.dropna()
    assert column.kind == "datetime"
    assert (column.count, column.missing) == (len(valid), len(series) - len(valid))
    assert column.min == str(min(valid))
    assert column.max == str(max(valid))


@pytest.mark.parametrize(
    ("series", "kind"),
    [
        (pd.Series([1, 2], dtype="int16"), "numeric"),
        (pd.Series([1.0, 2.0]), "numeric"),
        (pd.Series(["a", "b"]), "categorical"),
        (pd.Series(pd.Categorical(["a", "b"])), "categorical"),
        (pd.Series([True, False]), "boolean"),
        (pd.Series(pd.to_datetime(["2024-01-01", "2024-01-02"])), "datetime"),
        (pd.Series([b"\x00", b"\x01"]), "other"),
    ],
)
def test_each_column_gets_the_kind_of_its_type(
    platform: Platform, series: pd.Series, kind: str
) -> None:
    assert profile_of(platform, series).kind == kind
