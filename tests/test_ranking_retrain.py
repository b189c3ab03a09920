"""The retrain pipeline's steps on a ranking endpoint: its feedback is refused as one label per
row unless the training data's item column is named, then it becomes one row per judged item;
a canary is judged by a ranking metric computed as the monitor computes it."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

import opsloop
from opsloop.domain.entities import Actor
from opsloop.domain.errors import InvalidInput
from opsloop.pipelines.retrain import _live_scores, labelled_traffic
from opsloop.sdk.client import Client
from opsloop.services.evaluation.ranking import judgement, list_metrics, ranked
from opsloop.services.platform import Platform

from .test_ranking_endpoint import EXAMPLE, TopItems, ratings


def test_ranking_feedback_becomes_one_row_per_judged_item(sdk: Client) -> None:
    platform: Platform = sdk._transport.app.state.platform  # type: ignore[attr-defined]
    trained = ratings(seed=3)
    version = opsloop.register_model(TopItems(trained), "recs/top", input_example=EXAMPLE)
    opsloop.deploy(version.ref, endpoint="recs", force=True, reason="test")
    answers = opsloop.predict("recs", [{"user": 4}, {"user": 5}, {"user": 7}])["predictions"]
    labels = {
        answers[0]["id"]: {"3": 4.5, "8": 2},
        answers[1]["id"]: [answers[1]["prediction"][0]],
        answers[2]["id"]: [],
    }
    items = [{"id": key, "label": label} for key, label in labels.items()]
    assert platform.feedback.record("recs", items, Actor(name="ana")).accepted == 3

    with pytest.raises(InvalidInput, match="answers with ranked lists") as caught:
        labelled_traffic("recs", ["user"], "rating", 0.0)
    assert caught.value.field == "item"
    rows = labelled_traffic("recs", ["user"], "rating", 0.0, "item")
    first = answers[1]["prediction"][0]
    found = sorted(zip(rows.index, rows.to_dict("records"), strict=True), key=str)
    assert found == sorted(
        [
            (answers[0]["id"], {"user": 4, "item": "3", "rating": 4.5}),
            (answers[0]["id"], {"user": 4, "item": "8", "rating": 2}),
            (answers[1]["id"], {"user": 5, "item": first, "rating": 1.0}),
        ],
        key=str,
    )

    since = datetime.fromtimestamp(0, UTC)
    scores = _live_scores("recs", since, "ndcg_at_k", k=3, relevance_threshold=4)
    expected, _ = list_metrics(
        [ranked(a["prediction"]) or [] for a in answers],
        [judgement(labels[a["id"]], 4) for a in answers],  # type: ignore[misc]
        3,
    )
    assert scores == {"primary": (3, pytest.approx(expected["ndcg_at_k"]))}
