"""Evaluate beside the champion, judge by a gate, and let the verdict decide a deploy."""

from __future__ import annotations

from typing import Any

import numpy as np
import pytest
from sklearn.linear_model import LinearRegression

from opsloop.domain.errors import Conflict, InvalidInput
from opsloop.domain.names import parse_model_ref
from opsloop.sdk.client import Client
from opsloop.sdk.datasets import log_dataset
from opsloop.sdk.models import register_model

from ._models import posts, spam_classifier

GATE = """
endpoint: moderation
target: spam
segment: channel
costs: {false_positive: 5, false_negative: 50}
latency_sample: 20
rules:
  - recall >= 0.5
  - f1 >= champion - 0.01
  - cost_per_1000 <= 100000
  - segments.f1 >= champion - 0.2
  - latency_p99_ms <= 60000
  - signature compatible
"""


@pytest.fixture
def data(client: Client) -> str:
    frame, label = posts(rows=400, seed=5)
    frame["spam"] = label
    frame["channel"] = np.where(np.arange(len(frame)) % 3 == 0, "mobile", "web")
    return log_dataset(client, frame, "posts", project="mod").ref


def register(client: Client, model: Any, example: Any) -> Any:
    return register_model(client, model, "mod/violation", input_example=example)


def test_a_first_version_is_judged_alone_and_then_deploys_without_force(
    client: Client, data: str
) -> None:
    model, frame = spam_classifier()
    version = register(client, model, frame.head())
    found = client.evaluate(parse_model_ref(version.ref), data, gate=GATE)
    assert (found.verdict, found.endpoint, found.champion, found.task) == (
        "go",
        "moderation",
        None,
        "classification",
    )
    figures = found.candidate.metrics
    for name in (
        "accuracy",
        "precision",
        "recall",
        "f1",
        "roc_auc",
        "pr_auc",
        "brier",
        "ece",
        "cost_per_1000",
        "latency_p50_ms",
        "latency_p99_ms",
    ):
        assert figures[name] is not None, name
    assert set(found.candidate.segments) == {"mobile", "web"}
    assert found.candidate.confusion is not None
    assert sum(map(sum, found.candidate.confusion.matrix)) == 400
    relative = next(r for r in found.rules if r.rule == "f1 >= champion - 0.01")
    assert relative.passed and "no champion" in relative.detail
    done = client.deploy("moderation", version.ref)
    assert (done.verdict, done.evaluation_id, done.forced) == ("go", found.id, False)
    event = client.events(kind="model_version.evaluated")[0]
    assert event.data["verdict"] == "go" and event.data["evaluation_id"] == found.id


def test_a_worse_candidate_is_no_go_against_the_serving_champion(client: Client, data: str) -> None:
    good, frame = spam_classifier()
    first = register(client, good, frame.head())
    client.evaluate(parse_model_ref(first.ref), data, gate=GATE)
    client.deploy("moderation", first.ref)
    worse = register(client, _constant(frame), frame.head())
    found = client.evaluate(parse_model_ref(worse.ref), data, gate=GATE)
    assert found.champion == first.ref
    assert found.champion_report is not None
    assert found.verdict == "no-go"
    failed = {r.rule for r in found.rules if not r.passed}
    assert "f1 >= champion - 0.01" in failed
    with pytest.raises(Conflict) as caught:
        client.deploy("moderation", worse.ref)
    assert f"no-go verdict for endpoint 'moderation' (evaluation {found.id})" in (
        caught.value.headline
    )
    assert [e.id for e in client.list_evaluations(parse_model_ref(worse.ref))] == [found.id]
    assert client.get_evaluation(found.id).rules == found.rules


def test_a_model_taking_other_inputs_fails_the_signature_rule(client: Client, data: str) -> None:
    good, frame = spam_classifier()
    first = register(client, good, frame.head())
    client.evaluate(parse_model_ref(first.ref), data, gate=GATE)
    client.deploy("moderation", first.ref)
    narrower, _ = spam_classifier()
    narrower.fit(frame[["num_char", "exclaim"]], (frame["exclaim"] > 5).astype(int))
    other = register(client, narrower, frame[["num_char", "exclaim"]].head())
    found = client.evaluate(parse_model_ref(other.ref), data, gate=GATE)
    signature = next(r for r in found.rules if r.rule == "signature compatible")
    assert not signature.passed and found.signature_compatible is False


def test_regression_metrics_without_a_gate_give_no_verdict(client: Client) -> None:
    frame, _ = posts(rows=100)
    frame["length"] = frame["num_char"] * 2 + 1
    dataset = log_dataset(client, frame, "lengths", project="mod").ref
    model = LinearRegression().fit(frame[["num_char", "exclaim", "links"]], frame["length"])
    version = register(client, model, frame[["num_char", "exclaim", "links"]].head())
    found = client.evaluate(parse_model_ref(version.ref), dataset, target="length")
    assert (found.verdict, found.task, found.rules) == (None, "regression", [])
    assert found.candidate.metrics["mae"] == pytest.approx(0.0, abs=1e-9)
    assert found.candidate.metrics["rmse"] == pytest.approx(0.0, abs=1e-9)


@pytest.mark.parametrize(
    ("options", "field", "words"),
    [
        ({"gate": "rules:\n  - f1 >= champin - 0.01\n"}, "gate", "champin"),
        ({}, "target", "which column holds the truth"),
        ({"target": "nope"}, "target", "no target column 'nope'"),
        ({"target": "spam", "segment": "nope"}, "segment", "no segment column 'nope'"),
    ],
)
def test_bad_evaluations_name_what_was_wrong(
    client: Client, data: str, options: dict[str, Any], field: str, words: str
) -> None:
    model, frame = spam_classifier()
    version = register(client, model, frame.head())
    with pytest.raises(InvalidInput) as caught:
        client.evaluate(parse_model_ref(version.ref), data, **options)
    assert caught.value.field == field
    assert words in caught.value.headline
    assert client.list_evaluations(parse_model_ref(version.ref)) == []


def _constant(frame: Any) -> Any:
    """A classifier that always says 'not spam' (fitted on one class would refuse)."""
    from sklearn.dummy import DummyClassifier

    return DummyClassifier(strategy="constant", constant=0).fit(
        frame, np.r_[0, 1][np.arange(len(frame)) % 2]
    )
