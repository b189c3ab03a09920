"""Endpoints answer predictions through the API: checked inputs, traffic plans, the log."""

from __future__ import annotations

import io
import re
import threading
from collections.abc import Iterator
from typing import Any

import pyarrow.parquet as pq
import pytest

from opsloop.domain.errors import InvalidInput, NotFound
from opsloop.sdk.client import Client
from opsloop.sdk.models import register_model
from opsloop.services.serving.requests import new_ids

from ._models import SlowCounter, posts, spam_classifier
from .conftest import wait_for


def deploy(client: Client, model: Any, example: Any, **options: Any) -> str:
    version = register_model(client, model, "mod/violation", input_example=example)
    client.deploy("moderation", version.ref, force=True, reason="test", **options)
    return version.ref


@pytest.fixture
def served(client: Client) -> Iterator[tuple[Client, Any, Any]]:
    model, frame = spam_classifier()
    deploy(client, model, frame.head())
    yield client, model, frame


def rows_of(frame: Any, count: int) -> list[dict[str, Any]]:
    return [
        {k: (int(v) if k == "exclaim" else float(v)) for k, v in row.items()}
        for row in frame.head(count).to_dict("records")
    ]


def test_rows_by_name_or_in_order_get_the_models_answer(served: Any) -> None:
    client, model, frame = served
    rows = rows_of(frame, 5)
    by_name = client.predict("moderation", rows)
    in_order = client.predict("moderation", [list(r.values()) for r in rows])
    expected = model.predict_proba(frame.head(5))
    assert by_name["model"] == "mod/violation@1"
    for answer in (by_name, in_order):
        got = answer["predictions"]
        assert [p["prediction"] for p in got] == model.predict(frame.head(5)).tolist()
        for p, probabilities in zip(got, expected, strict=True):
            assert p["scores"] == pytest.approx({"0": probabilities[0], "1": probabilities[1]})
    ids = [p["id"] for p in by_name["predictions"]] + [p["id"] for p in in_order["predictions"]]
    assert len(set(ids)) == 10
    assert all(re.fullmatch("[0-9a-f]{32}", i) for i in ids)


def test_generated_ids_sort_by_the_millisecond_they_were_made() -> None:
    first = new_ids(50, now_ms=0x0123456789AB)
    second = new_ids(50, now_ms=0x0123456789AC)
    assert {i[:12] for i in first} == {"0123456789ab"}
    assert len(set(first + second)) == 100
    assert max(first) < min(second)


def test_callers_ids_come_back_and_key_the_log(served: Any) -> None:
    client, _, frame = served
    answer = client.predict("moderation", rows_of(frame, 2), ids=["post-1", "post-2"])
    assert [p["id"] for p in answer["predictions"]] == ["post-1", "post-2"]
    log = pq.read_table(io.BytesIO(client.export_predictions("moderation")))
    assert sorted(log.column("request_id").to_pylist()) == ["post-1", "post-2"]
    assert log.column("input.exclaim").to_pylist() == [int(v) for v in frame["exclaim"][:2]]
    assert all(ms > 0 for ms in log.column("latency_ms").to_pylist())
    assert set(log.column("role").to_pylist()) == {"primary"}


@pytest.mark.parametrize(
    ("body", "field", "words"),
    [
        ({"inputs": [{"num_char": 1.0, "exclaim": 1}]}, "inputs[0].links", "is missing"),
        (
            {"inputs": [{"num_char": 1.0, "exclaim": 1, "links": 0.0, "extra": 1}]},
            "inputs[0].extra",
            "unknown field 'extra'",
        ),
        (
            {"inputs": [[1.0, 2, 0.0], [1.0, "two", 0.0]]},
            "inputs[1].exclaim",
            "row 1, field 'exclaim': must be a whole number (long), got 'two'",
        ),
        (
            {"inputs": [[1.0, 2, True]]},
            "inputs[0].links",
            "must be a number (double), got True",
        ),
        ({"inputs": [[1.0, 2]]}, "inputs[0]", "row 0: has 2 values, the model takes 3"),
        ({"inputs": [5]}, "inputs[0]", "must be an object keyed by feature name or an array"),
        ({"inputs": []}, "inputs", "non-empty list"),
        ({"rows": []}, "rows", "unknown key 'rows'"),
        ({"inputs": [[1.0, 2, 0.0]], "ids": ["a", "b"]}, "ids", "one per input row"),
        ({"inputs": [[1.0, 2, 0.0]] * 2, "ids": ["a", "a"]}, "ids", "must not repeat"),
        ({"inputs": [[1.0, 2, 0.0]], "ids": [""]}, "ids[0]", "non-empty text"),
        ({"inputs": [[1.0, 2, 0.0]], "key": 7}, "key", "key must be text"),
        # a long is 64 bits: a larger whole number could be scored but never logged
        ({"inputs": [[1.0, 2**63, 0.0]]}, "inputs[0].exclaim", "from -2**63 to 2**63 - 1"),
        ({"inputs": [[1.0, 1e30, 0.0]]}, "inputs[0].exclaim", "from -2**63 to 2**63 - 1"),
    ],
)
def test_bad_inputs_get_422_naming_row_field_and_rule(
    served: Any, body: dict[str, Any], field: str, words: str
) -> None:
    client, _, _ = served
    with pytest.raises(InvalidInput) as caught:
        client._json("POST", "/endpoints/moderation/predict", json=body, api=False)
    assert caught.value.field == field
    assert words in caught.value.headline
    assert client.export_predictions("moderation", format="csv").count(b"\n") <= 1  # none logged


def test_a_body_that_is_not_json_is_a_422(served: Any) -> None:
    client, _, _ = served
    with pytest.raises(InvalidInput) as caught:
        client.request("POST", "/endpoints/moderation/predict", content=b"{nope", api=False)
    assert caught.value.field == "body"


@pytest.mark.parametrize(
    "query", [{"since": "0001-01-01T00:00:00+14:00"}, {"until": "9999-12-31T23:59:59-14:00"}]
)
def test_an_export_from_beyond_the_years_1_to_9999_is_a_422(
    served: Any, query: dict[str, str]
) -> None:
    client, _, _ = served
    with pytest.raises(InvalidInput) as caught:
        client.export_predictions("moderation", **query)
    assert caught.value.field == next(iter(query))


def test_unknown_endpoints_are_404(served: Any) -> None:
    client, _, frame = served
    with pytest.raises(NotFound):
        client.predict("nowhere", rows_of(frame, 1))


def test_a_deploy_swaps_the_answering_model_before_it_returns(served: Any) -> None:
    client, _, frame = served
    second, _ = spam_classifier(seed=1, c=0.01)
    deploy(client, second, frame.head())
    assert client.predict("moderation", rows_of(frame, 1))["model"] == "mod/violation@2"
    client.rollback("moderation")
    assert client.predict("moderation", rows_of(frame, 1))["model"] == "mod/violation@1"


def test_a_canary_takes_its_share_and_a_key_sticks(served: Any) -> None:
    client, _, frame = served
    second, _ = spam_classifier(seed=1, c=0.01)
    deploy(client, second, frame.head(), canary=50)
    row = rows_of(frame, 1)
    seen = {client.predict("moderation", row)["model"] for _ in range(60)}
    assert seen == {"mod/violation@1", "mod/violation@2"}
    for key in ("user-1", "user-2", "user-3"):
        sticky = {client.predict("moderation", row, key=key)["model"] for _ in range(10)}
        assert len(sticky) == 1
    log = pq.read_table(io.BytesIO(client.export_predictions("moderation")))
    by_role = {}
    for role, version in zip(
        log.column("role").to_pylist(), log.column("version").to_pylist(), strict=True
    ):
        by_role.setdefault(role, set()).add(version)
    assert by_role == {"primary": {1}, "canary": {2}}


def test_a_shadow_is_logged_never_returned(served: Any) -> None:
    client, _, frame = served
    second, _ = spam_classifier(seed=1, c=0.01)
    deploy(client, second, frame.head(), shadow=True)
    answers = [client.predict("moderation", rows_of(frame, 1)) for _ in range(5)]
    assert {a["model"] for a in answers} == {"mod/violation@1"}
    ids = {a["predictions"][0]["id"] for a in answers}

    def shadow_log() -> Any:
        return pq.read_table(io.BytesIO(client.export_predictions("moderation", role="shadow")))

    wait_for(lambda: shadow_log().num_rows == 5)  # the shadow answers after the caller did
    log = shadow_log()
    assert set(log.column("request_id").to_pylist()) == ids
    assert set(log.column("version").to_pylist()) == {2}


def concurrently(client: Client, bodies: list[list[dict[str, Any]]]) -> list[Any]:
    results: list[Any] = [None] * len(bodies)

    def call(i: int) -> None:
        try:
            results[i] = client.predict("moderation", bodies[i])
        except InvalidInput as exc:
            results[i] = exc

    threads = [threading.Thread(target=call, args=(i,)) for i in range(len(bodies))]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    return results


def test_concurrent_requests_share_predict_calls(client: Client) -> None:
    frame, _ = posts()
    deploy(client, SlowCounter(), frame.head())
    SlowCounter.batches.clear()
    results = concurrently(client, [rows_of(frame, 1)] * 16)
    assert all(isinstance(r, dict) for r in results)
    assert sum(SlowCounter.batches) == 16  # every row scored once
    assert len(SlowCounter.batches) < 16  # in fewer predict calls than requests


def test_a_bad_request_in_a_batch_fails_alone(client: Client) -> None:
    frame, _ = posts()
    deploy(client, SlowCounter(), frame.head())
    good = rows_of(frame, 1)
    bad = [{**good[0], "links": 13.0}]
    results = concurrently(client, [bad if i == 3 else good for i in range(12)])
    assert isinstance(results[3], InvalidInput)
    assert "could not score these inputs: ValueError: links == 13" in results[3].headline
    assert all(isinstance(r, dict) for i, r in enumerate(results) if i != 3)
    log = pq.read_table(io.BytesIO(client.export_predictions("moderation")))
    assert log.num_rows == 11  # what failed was not logged as answered


def test_feedback_joins_by_id_and_reports_unknown_ids(served: Any) -> None:
    client, _, frame = served
    client.predict("moderation", rows_of(frame, 3), ids=["a", "b", "c"])
    receipt = client.send_feedback(
        "moderation",
        [{"id": "a", "label": 1}, {"id": "b", "label": 0}, {"id": "zzz", "label": 1}],
    )
    assert (receipt.accepted, receipt.unknown, receipt.unknown_ids) == (2, 1, ["zzz"])
    client.send_feedback("moderation", [{"id": "a", "label": 0}], source="reviewer")
    log = pq.read_table(io.BytesIO(client.export_predictions("moderation"))).to_pylist()
    labels = {row["request_id"]: (row["label"], row["label_source"]) for row in log}
    assert labels == {"a": (0, "reviewer"), "b": (0, "user"), "c": (None, None)}
    event = client.events(kind="feedback.received")[0]
    assert event.data == {"accepted": 2, "unknown": 1, "source": "user"}


@pytest.mark.parametrize(
    ("items", "field"),
    [
        ([], "feedback"),
        ([{"id": "a"}], "feedback.0.label"),
        ([{"id": 5, "label": 1}], "feedback.0.id"),
        ([{"id": "a", "label": [[1]]}], "feedback[0].label[0]"),  # a list holds item ids
        ([{"id": "a", "label": {"318": "good"}}], "feedback[0].label['318']"),  # grades: numbers
    ],
)
def test_bad_feedback_is_a_422(served: Any, items: list[Any], field: str) -> None:
    client, _, _ = served
    with pytest.raises(InvalidInput) as caught:
        client.send_feedback("moderation", items)
    assert caught.value.field == field
