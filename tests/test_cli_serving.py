"""``opsloop evaluate|deploy|rollback|endpoints|predict|feedback|predictions`` end to end."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import numpy as np
import pyarrow.parquet as pq
import pytest
from typer.testing import CliRunner, Result

from opsloop.cli.main import app
from opsloop.domain.settings import Settings
from opsloop.sdk.client import Client
from opsloop.sdk.datasets import log_dataset
from opsloop.sdk.models import register_model

from ._models import posts, spam_classifier
from .test_cli import CLEAN_ENV, console

GATE = "endpoint: moderation\ntarget: spam\nrules:\n  - recall >= {recall}\n"


@pytest.fixture
def home(tmp_path: Path) -> Path:
    """Store with mod/violation@1 and @2 and dataset mod/posts@1 (features + spam)."""
    client = Client(Settings.load(environ={}, home=tmp_path / "home", actor="seeder"))
    try:
        frame, label = posts(rows=300, seed=3)
        table = frame.assign(spam=label)
        log_dataset(client, table, "posts", project="mod")
        for seed in (0, 1):
            model, example = spam_classifier(seed=seed)
            register_model(client, model, "mod/violation", input_example=example.head())
    finally:
        client.close()
    return tmp_path / "home"


def cli(home: Path, *args: str) -> Result:
    return CliRunner().invoke(app, ["--home", str(home), *args], env=CLEAN_ENV)


def gate(tmp_path: Path, recall: float) -> str:
    path = tmp_path / f"gate-{recall}.yaml"
    path.write_text(GATE.format(recall=recall))
    return str(path)


def test_evaluate_then_deploy_then_rollback(home: Path, tmp_path: Path) -> None:
    refused = console(home, "deploy", "mod/violation@1", "--endpoint", "moderation")
    assert refused.returncode == 1
    assert "no gate verdict for endpoint 'moderation'" in refused.stderr
    passed = cli(
        home, "evaluate", "mod/violation@1", "--data", "mod/posts", "--gate", gate(tmp_path, 0.1)
    )
    assert passed.exit_code == 0, passed.output
    assert "→ go" in passed.stdout and "recall >= 0.1" in passed.stdout
    failed = cli(
        home,
        "evaluate",
        "mod/violation@2",
        "--data",
        "mod/posts",
        "--gate",
        gate(tmp_path, 1.01),
        "--json",
    )
    assert failed.exit_code == 1
    assert json.loads(failed.stdout)["verdict"] == "no-go"
    assert cli(home, "deploy", "mod/violation@1", "--endpoint", "moderation").exit_code == 0
    forced = cli(
        home,
        "deploy",
        "mod/violation@2",
        "--endpoint",
        "moderation",
        "--force",
        "--reason",
        "hotfix",
    )
    assert forced.exit_code == 0 and "forced" in forced.stdout
    back = cli(home, "rollback", "moderation", "--reason", "bad", "--json")
    assert json.loads(back.stdout)["plan"]["primary"] == {"model": "violation", "version": 1}
    shown = cli(home, "endpoints", "show", "moderation", "--json")
    history = json.loads(shown.stdout)["deployments"]
    assert [(d["number"], d["action"], d["forced"], d["reason"]) for d in history] == [
        (3, "rollback", False, "bad"),
        (2, "deploy", True, "hotfix"),
        (1, "deploy", False, ""),
    ]
    listed = cli(home, "evaluations", "list", "mod/violation@2", "--json")
    assert [e["verdict"] for e in json.loads(listed.stdout)] == ["no-go"]
    table = cli(home, "endpoints", "list")
    assert "moderation" in table.stdout and "violation@1" in table.stdout


def test_feedback_import_and_export(home: Path, tmp_path: Path) -> None:
    cli(
        home, "deploy", "mod/violation@1", "--endpoint", "moderation", "--force", "--reason", "test"
    )
    client = Client(Settings.load(environ={}, home=home))
    try:
        frame, _ = posts(rows=3)
        rows: list[dict[str, Any]] = [
            {"num_char": float(r.num_char), "exclaim": int(r.exclaim), "links": float(r.links)}
            for r in frame.itertuples()
        ]
        client.predict("moderation", rows, ids=["a", "b", "c"])
    finally:
        client.close()
    labels = tmp_path / "labels.csv"
    labels.write_text("id,label\na,1\nb,0\nnope,1\n")
    imported = cli(home, "feedback", "import", str(labels), "--endpoint", "moderation")
    assert imported.exit_code == 1
    assert "stored 2 labels" in imported.stdout
    assert "1 request ids are unknown to endpoint moderation (first: nope)" in imported.stderr
    out = tmp_path / "log.parquet"
    exported = cli(home, "predictions", "export", "moderation", "--output", str(out))
    assert exported.exit_code == 0, exported.output
    log = {r["request_id"]: r["label"] for r in pq.read_table(out).to_pylist()}
    assert log == {"a": 1, "b": 0, "c": None}
    assert cli(home, "predictions", "export", "moderation", "--output", "x.txt").exit_code == 1


def test_batch_predict_writes_predictions_and_scores(home: Path, tmp_path: Path) -> None:
    frame, _ = posts(rows=120, seed=9)
    source = tmp_path / "in.csv"
    frame.to_csv(source, index=False)
    target = tmp_path / "out.parquet"
    done = cli(
        home,
        "predict",
        "mod/violation@1",
        "--input",
        str(source),
        "--output",
        str(target),
        "--chunk",
        "50",
    )
    assert done.exit_code == 0, done.output
    scored = pq.read_table(target)
    model, _ = spam_classifier(seed=0)
    assert scored.column("prediction").to_pylist() == model.predict(frame).tolist()
    assert np.allclose(scored.column("score").to_numpy(), model.predict_proba(frame)[:, 1])
    missing = tmp_path / "missing.csv"
    frame.drop(columns=["links"]).to_csv(missing, index=False)
    bad = console(
        home, "predict", "mod/violation@1", "--input", str(missing), "--output", str(target)
    )
    assert bad.returncode == 2 and "no column 'links'" in bad.stderr
    assert "Traceback" not in bad.stderr
