"""The SDK as a user writes it: ``import opsloop``, runs as context managers, buffered metrics."""

from __future__ import annotations

import time
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import pyarrow as pa
import pytest
from sklearn.datasets import load_breast_cancer
from sklearn.linear_model import LogisticRegression

import opsloop
from opsloop.domain.entities import RunStatus
from opsloop.domain.errors import Conflict, InvalidInput, NotFound
from opsloop.domain.settings import Settings
from opsloop.sdk.client import Client


def emails() -> pd.DataFrame:
    return pd.DataFrame(
        {
            "num_char": [11.37, 10.5, 7.77, 13.26, 1.23],
            "winner": ["no", "no", "yes", "no", "no"],
            "spam": [0, 0, 1, 0, 1],
        }
    )


def test_the_readme_loop(sdk: Client) -> None:
    X, y = load_breast_cancer(return_X_y=True, as_frame=True)
    ds = opsloop.log_dataset(X.assign(target=y), "emails", project="moderation")
    losses = [1.0 / (step + 1) for step in range(50)]
    with opsloop.start_run(project="moderation", name="lr-baseline") as run:
        run.use_dataset(ds)
        run.log_params({"C": 1.0})
        for step, loss in enumerate(losses):
            run.log_metric("loss", loss, step=step)
        model = LogisticRegression(max_iter=5000).fit(X, y)
        mv = run.log_model(model, "violation", input_example=X[:5])
    opsloop.set_alias("moderation/violation", "champion", mv.version)
    loaded = opsloop.load_model("models:/moderation/violation@champion")

    np.testing.assert_array_equal(loaded.predict(X), model.predict(X))
    stored = opsloop.get_run(run.id)
    assert stored.status == RunStatus.FINISHED
    assert stored.params == {"C": "1.0"}
    assert stored.metrics == {"loss": losses[-1]}
    assert [str(i) for i in stored.inputs] == ["moderation/emails@1"]
    assert sdk.metric_history(run.id, "loss").values == losses
    assert mv.run_id == run.id and mv.version == 1


def test_a_run_that_raises_ends_failed_with_the_error(sdk: Client) -> None:
    with pytest.raises(ZeroDivisionError), opsloop.start_run(project="p") as run:
        run.log_metric("loss", 0.5)
        _ = 1 / 0
    stored = opsloop.get_run(run.id)
    assert stored.status == RunStatus.FAILED
    assert stored.error is not None and "ZeroDivisionError" in stored.error
    assert stored.metrics == {"loss": 0.5}  # what was logged before the error is kept


def test_an_interrupted_run_ends_killed(sdk: Client) -> None:
    with pytest.raises(KeyboardInterrupt), opsloop.start_run(project="p") as run:
        raise KeyboardInterrupt
    assert opsloop.get_run(run.id).status == RunStatus.KILLED


def test_runs_nest_and_inherit_the_project(sdk: Client) -> None:
    with opsloop.start_run(project="p", name="sweep") as parent:
        with opsloop.start_run(name="trial-1") as child:
            assert opsloop.active_run() is child
        with opsloop.start_run(project="p", name="solo", nested=False) as solo:
            pass
    assert opsloop.get_run(child.id).parent_id == parent.id
    assert opsloop.get_run(child.id).project == "p"
    assert opsloop.get_run(solo.id).parent_id is None
    assert opsloop.active_run() is None


def test_metric_steps_default_per_key_and_numpy_scalars_are_numbers(sdk: Client) -> None:
    with opsloop.start_run(project="p") as run:
        for value in np.linspace(1.0, 0.5, 3):
            run.log_metric("loss", value)
        run.log_metrics({"acc": np.float32(0.75), "n": 3})
    assert sdk.metric_history(run.id, "loss").steps == [0, 1, 2]
    assert opsloop.get_run(run.id).metrics == {"loss": 0.5, "acc": 0.75, "n": 3.0}


@pytest.mark.parametrize("value", [float("nan"), float("inf"), "0.5", None, True])
def test_a_bad_metric_is_refused_where_it_is_logged(sdk: Client, value: Any) -> None:
    with opsloop.start_run(project="p") as run:
        with pytest.raises(InvalidInput) as caught:
            run.log_metric("loss", value)
        assert caught.value.field == "metrics.loss"
        run.log_metric("loss", 0.1)
    assert opsloop.get_run(run.id).metrics == {"loss": 0.1}


def test_a_param_changed_in_the_same_run_is_refused(sdk: Client) -> None:
    with opsloop.start_run(project="p", params={"C": 1}) as run:
        run.log_params({"C": 1, "seed": 7})
        with pytest.raises(Conflict, match="write-once") as caught:
            run.log_param("C", 2)
        assert caught.value.field == "params.C"
    assert opsloop.get_run(run.id).params == {"C": "1", "seed": "7"}


def test_the_background_flusher_creates_the_run_and_sends_metrics(sdk: Client) -> None:
    def seen() -> dict[str, float]:
        try:
            return opsloop.get_run(run.id).metrics
        except NotFound:  # not created yet: that happens in the background
            return {}

    with opsloop.start_run(project="p") as run:
        run.log_metric("loss", 0.9)
        deadline = time.monotonic() + 30
        while not seen() and time.monotonic() < deadline:
            time.sleep(0.05)
        assert seen() == {"loss": 0.9}
        assert opsloop.get_run(run.id).status == RunStatus.RUNNING


def test_explicit_flush_sends_the_buffer(sdk: Client) -> None:
    with opsloop.start_run(project="p") as run:
        run.log_metrics({"a": 1.0, "b": 2.0})
        run.set_tag("team", "trust-and-safety")
        run.flush()
        assert opsloop.get_run(run.id).metrics == {"a": 1.0, "b": 2.0}
        assert opsloop.get_run(run.id).tags == {"team": "trust-and-safety"}


def test_a_run_the_server_refuses_to_create_fails_where_the_user_is(sdk: Client) -> None:
    run = opsloop.start_run(project="p", parent="0" * 32)  # no such parent: found out later
    run.log_metric("loss", 0.5)
    with pytest.raises(NotFound) as caught:
        run.end()
    assert caught.value.field == "parent_id"
    with pytest.raises(NotFound):
        opsloop.get_run(run.id)  # nothing half-made was stored


def test_a_run_records_where_it_ran(sdk: Client) -> None:
    with opsloop.start_run(project="p") as run:
        pass
    stored = opsloop.get_run(run.id)
    assert stored.python_version and stored.python_version.startswith("3.")
    assert "opsloop" in stored.packages and "numpy" in stored.packages
    assert stored.git_sha is None or len(stored.git_sha) == 40


def test_artifacts_are_kept_by_content(sdk: Client, tmp_path: Path) -> None:
    report = tmp_path / "report.txt"
    report.write_text("confusion matrix")
    with opsloop.start_run(project="p") as run:
        run.log_artifact(report)
        run.log_artifact(b"{}", path="eval/metrics.json")
    artifacts = {a.path: a for a in opsloop.get_run(run.id).artifacts}
    assert set(artifacts) == {"report.txt", "eval/metrics.json"}
    assert sdk.download(artifacts["report.txt"].sha256) == b"confusion matrix"


@pytest.mark.parametrize("kind", ["pandas", "polars", "arrow"])
def test_datasets_load_back_identical(sdk: Client, kind: str) -> None:
    frame = emails()
    if kind == "polars":
        import polars

        data: Any = polars.from_pandas(frame)
    elif kind == "arrow":
        data = pa.Table.from_pandas(frame, preserve_index=False)
    else:
        data = frame
    version = opsloop.log_dataset(data, "emails", project="moderation", source="unit test")
    back = opsloop.load_dataset(version, as_="pandas")
    pd.testing.assert_frame_equal(back.reset_index(drop=True), frame)
    assert version.num_rows == 5 and version.profile.column("spam").mean == pytest.approx(0.4)
    if kind == "polars":
        assert opsloop.load_dataset("moderation/emails@1", as_="polars").equals(data)


def test_a_new_dataset_version_records_its_parents(sdk: Client) -> None:
    first = opsloop.log_dataset(emails(), "emails", project="moderation")
    again = opsloop.log_dataset(emails(), "emails", project="moderation")
    assert again.version == first.version  # same bytes, same parents: no copy
    labels = pd.DataFrame({"id": [1], "label": ["violation"]})
    reviewed = opsloop.log_dataset(labels, "reviews", project="moderation")
    merged = opsloop.log_dataset(
        pd.concat([emails(), emails()]),
        "emails",
        project="moderation",
        parents=[first, reviewed],
    )
    assert merged.version == 2
    assert merged.parents == ["moderation/emails@1", "moderation/reviews@1"]


def test_not_a_table_is_refused(sdk: Client) -> None:
    with pytest.raises(InvalidInput, match="pandas, polars or Arrow"):
        opsloop.log_dataset([1, 2, 3], "x", project="p")


def test_unknown_things_are_not_found(sdk: Client) -> None:
    with pytest.raises(NotFound) as caught:
        opsloop.load_model("models:/p/ghost@champion")
    assert caught.value.field == "project"
    opsloop.register_model(lambda rows: rows, "p/echo")
    with pytest.raises(NotFound, match="no alias 'champion'"):
        opsloop.load_model("models:/p/echo@champion")
    with pytest.raises(NotFound, match="no version 9"):
        opsloop.load_model("models:/p/echo/9")
    with pytest.raises(Conflict):
        sdk.create_project("p")


def scenario(client: Client) -> dict[str, Any]:
    """One user story, told the same way embedded and remote; returns what a user would see."""
    from opsloop.sdk import models

    X, y = load_breast_cancer(return_X_y=True, as_frame=True)
    run = client.create_run(project="m", name="lr", params={"C": 0.5})
    client.log_batch(
        run.id, metrics={"loss": {"values": [0.5, 0.25], "steps": [0, 1], "timestamps": [1, 2]}}
    )
    ended = client.end_run(run.id)
    version = models.register_model(
        client,
        LogisticRegression(max_iter=5000).fit(X, y),
        "m/violation",
        input_example=X[:2],
        run_id=run.id,
    )
    move = client.set_alias("m", "violation", "champion", version.version, "first")
    errors = []
    for call in (
        lambda: client.get_run("nope00"),
        lambda: client.set_alias("m", "violation", "champion", 7),
    ):
        try:
            call()
        except Exception as exc:
            errors.append((type(exc).__name__, getattr(exc, "field", None), str(exc)))
    found, total = client.search_runs("m", filter="metrics.loss < 0.3")
    predictions = models.load_model(client, "m/violation@champion").predict(X[:20])
    return {
        "run": (ended.status, ended.params, ended.metrics, ended.name),
        "history": client.metric_history(run.id, "loss").values,
        "version": (version.version, version.flavor, len(version.signature.inputs)),
        "move": (move.from_version, move.to_version, move.reason),
        "search": (total, [r.name for r in found]),
        "errors": errors,
        "predictions": predictions.tolist(),
        "events": [e.kind for e in client.events(project="m")],
    }


def test_embedded_and_remote_behave_the_same(tmp_path: Path, live_server: str) -> None:
    embedded = Client(Settings.load(environ={}, home=tmp_path / "embedded"))
    remote = Client(Settings.load(environ={}, url=live_server))
    assert (embedded.mode, remote.mode) == ("embedded", "remote")
    try:
        assert scenario(embedded) == scenario(remote)
    finally:
        embedded.close()
        remote.close()
