"""The SDK against a real ``opsloop server`` (uvicorn on 127.0.0.1), and the server's refusal
to listen anywhere but loopback."""

from __future__ import annotations

import os
import subprocess
import sys
from collections.abc import Callable, Iterator
from pathlib import Path

import httpx
import numpy as np
import pytest
from sklearn.datasets import load_breast_cancer
from sklearn.linear_model import LogisticRegression

from opsloop.domain.entities import Signature
from opsloop.domain.errors import Conflict, InvalidInput, NotFound, OpsloopError
from opsloop.domain.settings import Settings
from opsloop.sdk.api import start_run
from opsloop.sdk.client import Client
from opsloop.sdk.models import load_model, register_model

from .conftest import free_port


@pytest.fixture
def remote(live_server: str) -> Iterator[Client]:
    client = Client(Settings.load(environ={}, url=live_server, actor="remote-user"))
    yield client
    client.close()


@pytest.fixture
def embedded(tmp_path: Path) -> Iterator[Client]:
    client = Client(Settings.load(environ={}, home=tmp_path / "embedded", actor="remote-user"))
    yield client
    client.close()


@pytest.fixture(scope="module")
def cancer() -> tuple[np.ndarray, np.ndarray]:
    features, labels = load_breast_cancer(return_X_y=True)
    scaled = (features - features.mean(axis=0)) / features.std(axis=0)
    return scaled, labels


def test_the_sdk_tracks_a_run_on_a_remote_server(remote: Client, live_server: str) -> None:
    assert remote.mode == "remote"
    losses = [0.9, 0.6, 0.45, 0.3]
    with start_run("p", "remote-run", params={"C": 0.5}, client=remote) as run:
        for loss in losses:
            run.log_metric("loss", loss)
        run.log_metrics({"f1": 0.82})
        run.set_tag("where", "server")

    stored = remote.get_run(run.id)
    assert (stored.status.value, stored.user, stored.name) == (
        "FINISHED",
        "remote-user",
        "remote-run",
    )
    assert stored.params == {"C": "0.5"}
    assert stored.tags == {"where": "server"}
    assert stored.metrics == {"loss": 0.3, "f1": 0.82}
    history = remote.metric_history(run.id, "loss")
    assert (history.values, history.steps) == (losses, [0, 1, 2, 3])

    # The server itself holds it: a plain HTTP reader sees the same run.
    found = httpx.get(f"{live_server}/api/v1/projects/p/runs", timeout=30).json()
    assert found["total"] == 1
    assert found["runs"][0]["id"] == run.id
    events = httpx.get(
        f"{live_server}/api/v1/events", params={"subject": f"run:{run.id}"}, timeout=30
    ).json()
    assert [(e["kind"], e["actor"]) for e in events] == [
        ("run.started", "remote-user"),
        ("run.finished", "remote-user"),
    ]


def test_a_model_registered_remotely_loads_back_with_identical_predictions(
    remote: Client, cancer: tuple[np.ndarray, np.ndarray]
) -> None:
    features, labels = cancer
    with start_run("p", "train", client=remote) as run:
        model = LogisticRegression(max_iter=1000).fit(features, labels)
        run.log_metric("accuracy", float(model.score(features, labels)))
    first = register_model(remote, model, "p/cancer", input_example=features[:5], run_id=run.id)
    assert (first.version, first.flavor, first.run_id) == (1, "sklearn", run.id)
    other = LogisticRegression(C=0.001, max_iter=1000).fit(features, labels)
    second = register_model(remote, other, "p/cancer")
    assert second.version == 2

    move = remote.set_alias("p", "cancer", "champion", 1, reason="first good one")
    assert (move.from_version, move.to_version) == (None, 1)

    champion = load_model(remote, "models:/p/cancer@champion")
    assert np.array_equal(champion.predict(features), model.predict(features))
    assert np.array_equal(champion.predict_proba(features), model.predict_proba(features))
    latest = load_model(remote, "p/cancer")
    assert np.array_equal(latest.predict_proba(features), other.predict_proba(features))
    assert not np.array_equal(latest.predict_proba(features), champion.predict_proba(features))

    history = remote.alias_history("p", "cancer", "champion")
    assert [(m.to_version, m.reason, m.actor) for m in history] == [
        (1, "first good one", "remote-user")
    ]


def seed(client: Client) -> str:
    """Project p with a finished run (returned) and model p/m@1, in either mode."""
    client.create_project("p")
    run = client.create_run(project="p", params={"C": 1})
    client.end_run(run.id)
    sha = client.upload(b"not really a model")
    client.register_version(
        "p", "m", flavor="sklearn", sha256=sha, signature=Signature(), run_id=None, description=""
    )
    return run.id


Call = Callable[[Client, str], object]
FAILURES: list[tuple[str, Call, type[OpsloopError], str]] = [
    ("unknown run", lambda c, _: c.get_run("deadbeef00"), NotFound, "run_id"),
    ("unknown project", lambda c, _: c.list_experiments("ghost"), NotFound, "project"),
    ("unknown model", lambda c, _: c.get_model("p", "ghost"), NotFound, "model"),
    ("unknown alias", lambda c, _: c.remove_alias("p", "m", "champion"), NotFound, "alias"),
    ("unknown version", lambda c, _: c.set_alias("p", "m", "champion", 9), NotFound, "version"),
    ("unknown artifact", lambda c, _: c.download("0" * 64), NotFound, "sha256"),
    ("duplicate project", lambda c, _: c.create_project("p"), Conflict, "project"),
    ("finished run", lambda c, run: c.log_batch(run, tags={"late": "yes"}), Conflict, "run_id"),
    ("changed param", lambda c, run: c.end_run(run, params={"C": 2}), Conflict, "run_id"),
    ("bad filter", lambda c, _: c.search_runs("p", filter="metrics.f1 >"), InvalidInput, "filter"),
    ("bad name", lambda c, _: c.create_project("a/b"), InvalidInput, "project"),
    ("bad body", lambda c, _: c.create_run(project="p", colour="red"), InvalidInput, "colour"),
    (
        "bad metric",
        lambda c, _: c.log_batch(
            c.create_run(project="p").id,
            metrics={"loss": {"values": [0.1, 0.2], "steps": [0], "timestamps": [0]}},
        ),
        InvalidInput,
        "metrics.loss",
    ),
]


def test_remote_errors_are_the_same_exceptions_as_embedded(
    remote: Client, embedded: Client
) -> None:
    # One server for every case (each starts a process): no failing call changes the store.
    runs = {client.mode: seed(client) for client in (embedded, remote)}
    for name, call, kind, field in FAILURES:
        headlines = []
        for client in (embedded, remote):
            with pytest.raises(OpsloopError) as caught:
                call(client, runs[client.mode])
            assert type(caught.value) is kind, (name, caught.value)
            assert caught.value.field == field, name
            assert caught.value.status == kind.status, name
            headlines.append(caught.value.headline.replace(runs[client.mode], "<run>"))
        assert headlines[0] == headlines[1], name


def server_refuses(
    tmp_path: Path, *options: str, env: dict[str, str] | None = None
) -> subprocess.CompletedProcess[str]:
    clean = {k: v for k, v in os.environ.items() if not k.startswith("OPSLOOP_")}
    command = [sys.executable, "-m", "opsloop.cli.main", "--home", str(tmp_path), "server"]
    return subprocess.run(
        [*command, "--port", str(free_port()), *options],
        capture_output=True,
        text=True,
        env=clean | (env or {}),
        timeout=60,
        check=False,
    )


@pytest.mark.parametrize(
    ("options", "env"),
    [
        (["--host", "0.0.0.0"], None),
        (["--host", "::"], None),
        (["--host", "10.1.2.3"], None),
        (["--host", "example.com"], None),
        ([], {"OPSLOOP_HOST": "0.0.0.0"}),
    ],
)
def test_the_server_refuses_to_listen_beyond_loopback(
    tmp_path: Path, options: list[str], env: dict[str, str] | None
) -> None:
    done = server_refuses(tmp_path, *options, env=env)
    assert done.returncode != 0
    assert "loopback" in done.stderr
    assert done.stderr.startswith("error:")
    assert "Traceback" not in done.stdout + done.stderr
