"""Validating a dataset version against another: the schema decides the verdict, drift is
reported, and every validation is a ``dataset_version.validated`` Event the report counts."""

from __future__ import annotations

import hashlib
from collections.abc import Callable, Iterator
from pathlib import Path

import httpx
import numpy as np
import pandas as pd
import pyarrow as pa
import pytest
from typer.testing import CliRunner

import opsloop
from opsloop.cli.main import app
from opsloop.domain.entities import Actor, ActorKind
from opsloop.domain.errors import InvalidInput, NotFound
from opsloop.domain.names import DatasetRef
from opsloop.domain.report import Level, Stage
from opsloop.domain.settings import Settings
from opsloop.sdk.client import Client
from opsloop.services.datasets import table_to_parquet
from opsloop.services.platform import Platform

from .test_cli import CLEAN_ENV

RNG = np.random.default_rng(7)
DANA = Actor(name="dana")


def frame(rows: int = 400, shift: float = 0.0) -> pd.DataFrame:
    return pd.DataFrame(
        {
            "length": RNG.normal(100 + shift, 10, rows),
            "lang": RNG.choice(["en", "fr"], rows),
            "flagged": RNG.integers(0, 2, rows).astype(bool),
        }
    )


def version(platform: Platform, data: pd.DataFrame, name: str = "posts") -> DatasetRef:
    sha256, _size = platform.artifacts.put(table_to_parquet(pa.Table.from_pandas(data)))
    made = platform.datasets.create_version("mod", name, sha256, actor=DANA)
    return DatasetRef("mod", name, made.version)


@pytest.fixture
def platform(sqlite_settings: Settings) -> Iterator[Platform]:
    opened = Platform.open(sqlite_settings)
    yield opened
    opened.close()


def test_same_schema_and_distribution_passes_and_is_recorded(platform: Platform) -> None:
    reference = version(platform, frame())
    current = version(platform, frame())
    found = platform.datasets.validate(current, against=reference, actor=DANA)
    assert (found.dataset, found.against, found.verdict) == ("mod/posts@2", "mod/posts@1", "pass")
    assert found.features == ["length", "lang", "flagged"]
    assert found.problems == [] and found.drifted == []
    assert [c.column for c in found.drift] == ["length", "lang", "flagged"]
    assert found.share_drifted == 0.0 and found.duration_s > 0
    (recorded,) = platform.events.query(kind="dataset_version.validated")
    assert (recorded.subject, recorded.actor, recorded.project) == (
        "dataset:mod/posts",
        "dana",
        "mod",
    )
    assert recorded.data["version"] == 2 and recorded.data["against"] == "mod/posts@1"
    assert recorded.data["verdict"] == "pass"
    assert recorded.data["duration_s"] == pytest.approx(found.duration_s, abs=1e-5)


def test_a_missing_feature_or_another_kind_of_values_fails(platform: Platform) -> None:
    reference = version(platform, frame())
    broken = frame().drop(columns=["lang"]).assign(length=lambda f: f["length"].astype(str))
    found = platform.datasets.validate(version(platform, broken), against=reference, actor=DANA)
    assert found.verdict == "fail"
    assert [(p.column, p.problem, p.expected, p.found) for p in found.problems] == [
        ("length", "kind", "numeric", "categorical"),
        ("lang", "missing", "categorical", None),
    ]
    assert [c.column for c in found.drift] == ["flagged"]  # only what still compares
    (recorded,) = platform.events.query(kind="dataset_version.validated")
    assert recorded.data["problems"] == [
        "length: categorical, was numeric",
        "lang: missing (was categorical)",
    ]


def test_drift_is_reported_but_does_not_fail(platform: Platform) -> None:
    reference = version(platform, frame())
    shifted = version(platform, frame(shift=30.0))
    found = platform.datasets.validate(shifted, against=reference, actor=DANA)
    assert found.verdict == "pass"
    assert found.drifted == ["length"]
    assert found.share_drifted == pytest.approx(1 / 3)
    drift = {c.column: c for c in found.drift}
    assert drift["length"].test == "ks" and drift["length"].p_value is not None
    assert drift["length"].p_value < drift["length"].threshold


def test_features_narrow_the_check_and_a_boolean_may_become_numbers(platform: Platform) -> None:
    reference = version(platform, frame())
    numbers = frame().drop(columns=["lang"]).assign(flagged=lambda f: f["flagged"].astype(int))
    current = version(platform, numbers)
    found = platform.datasets.validate(
        current, against=reference, actor=DANA, features=["length", "flagged"]
    )
    assert found.verdict == "pass" and found.features == ["length", "flagged"]
    assert [c.column for c in found.drift] == ["length"]  # 0/1 against True/False: no test
    for features, words in ((["nope"], "'nope'"), ("length", "list"), ([], "1 to")):
        with pytest.raises(InvalidInput) as caught:
            platform.datasets.validate(current, against=reference, actor=DANA, features=features)
        assert caught.value.field == "features" and words in caught.value.headline


def test_an_empty_version_fails_and_an_unknown_one_is_not_found(platform: Platform) -> None:
    reference = version(platform, frame())
    empty = version(platform, frame().head(0))
    found = platform.datasets.validate(empty, against=reference, actor=DANA)
    assert found.verdict == "fail" and [p.problem for p in found.problems] == ["empty"]
    assert found.drift == []
    with pytest.raises(NotFound):
        platform.datasets.validate(DatasetRef("mod", "posts", 9), against=reference, actor=DANA)


def test_the_sdk_validates_through_the_api_as_the_report_then_counts_it(
    sdk: Client, tmp_path: Path
) -> None:
    first = opsloop.log_dataset(frame(), "posts", project="mod")
    second = opsloop.log_dataset(frame(shift=30.0), "posts", project="mod")
    found = opsloop.validate_dataset(second, against=first, features=["length", "lang"])
    assert (found.verdict, found.drifted, found.actor) == ("pass", ["length"], "tester")
    latest = opsloop.validate_dataset("mod/posts", against="mod/posts@1")
    assert latest.dataset == "mod/posts@2"
    with pytest.raises(InvalidInput) as caught:
        opsloop.validate_dataset("mod/posts", against="no-slash")
    assert caught.value.field == "against"
    report = opsloop.report("mod")
    validation = report.stage(Stage.VALIDATION)
    assert (validation.level, validation.by_people) == (Level.MANUAL, 2)
    assert validation.hours.people.measured == 2


def test_a_pipeline_validation_is_automated(platform: Platform) -> None:
    reference = version(platform, frame())
    pipeline = Actor(name="pipeline:retrain", kind=ActorKind.PIPELINE)
    platform.datasets.validate(version(platform, frame()), against=reference, actor=pipeline)
    found = platform.report.build(project="mod").stage(Stage.VALIDATION)
    assert (found.level, found.by_machines, found.hours.machines.measured) == (
        Level.AUTOMATED,
        1,
        1,
    )


def test_the_route_answers_201_and_4xx_naming_the_field(api: httpx.Client) -> None:
    blob = table_to_parquet(pa.Table.from_pandas(frame()))
    digest = hashlib.sha256(blob).hexdigest()
    assert api.put(f"/api/v1/artifacts/{digest}", content=blob).status_code < 300
    made = api.post("/api/v1/projects/mod/datasets/posts/versions", json={"sha256": digest})
    assert made.status_code == 201
    path = "/api/v1/projects/mod/datasets/posts/versions/latest/validations"
    answer = api.post(path, json={"against": "mod/posts@1"})
    assert answer.status_code == 201 and answer.json()["verdict"] == "pass"
    cases = [
        (path, {"against": "mod"}, 422, "against"),
        (path, {"against": "mod/posts@1", "features": "length"}, 422, "features"),
        (path, {"against": "mod/posts@1", "extra": 1}, 422, "extra"),
        (path.replace("latest", "x"), {"against": "mod/posts@1"}, 422, "version"),
        (path.replace("posts", "ghost"), {"against": "mod/posts@1"}, 404, "dataset"),
    ]
    for url, body, status, field in cases:
        refused = api.post(url, json=body)
        assert refused.status_code == status, (url, body, refused.text)
        assert field in refused.json()["error"].get("field", ""), refused.text


def test_the_cli_prints_the_verdict_and_exits_1_on_a_failure(tmp_path: Path) -> None:
    settings = Settings.load(environ={}, home=tmp_path, actor="seeder")
    opened = Platform.open(settings)
    try:
        reference = version(opened, frame())
        version(opened, frame().drop(columns=["lang"]))
    finally:
        opened.close()
    runner = CliRunner()
    base = ["--home", str(tmp_path), "datasets", "validate"]
    passed = runner.invoke(app, [*base, "mod/posts@1", "--against", str(reference)], env=CLEAN_ENV)
    assert passed.exit_code == 0, passed.output
    assert "mod/posts@1 against mod/posts@1: pass" in passed.stdout
    failed = runner.invoke(app, [*base, "mod/posts", "--against", "mod/posts@1"], env=CLEAN_ENV)
    assert failed.exit_code == 1
    assert "fail" in failed.stdout and "lang: missing (was categorical)" in failed.stdout
    narrowed = runner.invoke(
        app,
        [*base, "mod/posts", "--against", "mod/posts@1", "--feature", "length", "--json"],
        env=CLEAN_ENV,
    )
    assert narrowed.exit_code == 0, narrowed.output
    assert '"verdict": "pass"' in narrowed.stdout


@pytest.mark.parametrize(
    ("kept", "index"),
    [
        (lambda f: f.query("length > 95"), "__index_level_0__"),  # a filtered frame's
        (lambda f: f.rename_axis("post_id").query("length > 95"), "post_id"),  # a named one
    ],
    ids=["filtered", "named"],
)
def test_a_stored_pandas_index_is_not_a_feature(
    platform: Platform, kept: Callable[[pd.DataFrame], pd.DataFrame], index: str
) -> None:
    reference = version(platform, kept(frame()))
    columns = platform.datasets.get_version("mod", "posts", reference.version).profile.columns
    assert index in [column.name for column in columns]  # the Parquet table holds it
    found = platform.datasets.validate(version(platform, frame()), against=reference, actor=DANA)
    assert found.features == ["length", "lang", "flagged"]
    assert (found.verdict, found.problems) == ("pass", [])
