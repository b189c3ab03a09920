"""Gates for models that answer with lists: each group scored once from its first row, its list
judged against the group's items and grades, the live metric names, ``ndcg_at_k >= champion``;
and the pointwise ranking (a score per row) still measured as before."""

from __future__ import annotations

import math
from typing import Any, ClassVar

import numpy as np
import pandas as pd
import pytest

from opsloop.domain.errors import InvalidInput
from opsloop.domain.names import parse_model_ref
from opsloop.sdk.client import Client
from opsloop.sdk.datasets import log_dataset
from opsloop.sdk.models import register_model

GATE = """
target: rating
group: user
item: movie
segment: country
k: 2
relevance_threshold: 4
latency_sample: 5
rules:
  - ndcg_at_k >= champion
  - hit_rate_at_k >= 0.5
"""


class Fixed:
    """Gives each user the list it was built with; remembers the rows it was asked about."""

    asked: ClassVar[list[dict[str, Any]]] = []

    def __init__(self, lists: dict[int, list[int]]) -> None:
        self.lists = lists

    def predict(self, frame: pd.DataFrame) -> list[list[int]]:
        Fixed.asked.extend(frame.to_dict("records"))
        return [self.lists[int(user)] for user in frame["user"]]


def d(rank: int) -> float:
    return 1 / math.log2(rank + 1)


@pytest.fixture
def data(client: Client) -> str:
    """User 1 (fr) rated movies 10 (5 stars) and 11 (3); user 2 (de) rated 20 (4) and 21 (2).
    The rows of one user carry different ``age`` values: only the first row's is used."""
    frame = pd.DataFrame(
        {
            "user": [1, 1, 2, 2],
            "age": [30.0, 99.0, 40.0, 99.0],
            "country": ["fr", "fr", "de", "de"],
            "movie": [10, 11, 20, 21],
            "rating": [5.0, 3.0, 4.0, 2.0],
        }
    )
    return log_dataset(client, frame, "ratings", project="recs").ref


def register(client: Client, lists: dict[int, list[int]]) -> Any:
    example = pd.DataFrame({"user": [1, 2], "age": [30.0, 40.0]})
    return register_model(client, Fixed(lists), "recs/top", input_example=example)


def test_lists_are_judged_per_group_and_the_better_one_passes_the_gate(
    client: Client, data: str
) -> None:
    weak = register(client, {1: [11, 10], 2: [22, 23]})
    client.deploy("recs", weak.ref, force=True, reason="first")
    strong = register(client, {1: [10, 12], 2: [21, 20]})
    Fixed.asked.clear()
    found = client.evaluate(parse_model_ref(strong.ref), data, gate=GATE, endpoint="recs")
    assert found.task == "ranking" and found.champion == weak.ref
    # Two calls (the candidate, the champion), one row per user each, from its first row;
    # then the latency sample, a row at a time.
    assert [(row["user"], row["age"]) for row in Fixed.asked[:4]] == [
        (1, 30.0),
        (2, 40.0),
        (1, 30.0),
        (2, 40.0),
    ]
    # Strong: user 1 gets 10 (relevant, gain 5) first; user 2 gets 20 (relevant, gain 4)
    # second, after 21 (gain 2, below the threshold).
    ideal_1, ideal_2 = 5 * d(1) + 3 * d(2), 4 * d(1) + 2 * d(2)
    mine = found.candidate.metrics
    assert mine["ndcg_at_k"] == pytest.approx(
        (5 * d(1) / ideal_1 + (2 * d(1) + 4 * d(2)) / ideal_2) / 2
    )
    assert (mine["precision_at_k"], mine["recall_at_k"]) == (0.5, 1.0)
    assert (mine["hit_rate_at_k"], mine["mrr"], mine["groups"]) == (1.0, 0.75, 2.0)
    assert found.champion_report is not None
    theirs = found.champion_report.metrics
    # Weak: user 1 gets 11 (gain 3) then 10 (gain 5); user 2 nothing rated.
    assert theirs["ndcg_at_k"] == pytest.approx((3 * d(1) + 5 * d(2)) / ideal_1 / 2)
    assert (theirs["hit_rate_at_k"], theirs["mrr"]) == (0.5, 0.25)
    assert found.verdict == "go", found.rules
    assert set(found.candidate.segments) == {"de", "fr"}
    assert found.candidate.segments["fr"].metrics["ndcg_at_k"] == pytest.approx(5 * d(1) / ideal_1)
    assert found.candidate.metrics["latency_p99_ms"] is not None

    client.deploy("recs", strong.ref, reason="passed the gate")
    again = client.evaluate(parse_model_ref(weak.ref), data, gate=GATE, endpoint="recs")
    assert again.verdict == "no-go"
    assert (again.rules[0].rule, again.rules[0].passed) == ("ndcg_at_k >= champion", False)
    assert again.rules[0].threshold == pytest.approx(mine["ndcg_at_k"])


def test_a_list_model_without_item_gets_an_error_naming_item(client: Client, data: str) -> None:
    version = register(client, {1: [10], 2: [20]})
    with pytest.raises(InvalidInput, match="name the item column") as caught:
        client.evaluate(
            parse_model_ref(version.ref), data, gate="target: rating\ntask: ranking\ngroup: user\n"
        )
    assert caught.value.field == "item"
    with pytest.raises(InvalidInput, match="no item column 'film'"):
        client.evaluate(
            parse_model_ref(version.ref), data, gate="target: rating\ngroup: user\nitem: film\n"
        )
    with pytest.raises(InvalidInput, match="needs the group column"):
        client.evaluate(parse_model_ref(version.ref), data, gate="target: rating\nitem: movie\n")


class Scorer:
    """One score per row: the pointwise ranking the gate measured before lists existed."""

    def predict(self, frame: pd.DataFrame) -> np.ndarray:
        return -frame["movie"].to_numpy(dtype=float)  # lower movie ids first


def test_a_score_per_row_is_still_ranked_within_each_group(client: Client, data: str) -> None:
    example = pd.DataFrame({"user": [1], "movie": [10]})
    version = register_model(client, Scorer(), "recs/scorer", input_example=example)
    found = client.evaluate(
        parse_model_ref(version.ref),
        data,
        gate="target: rating\ntask: ranking\ngroup: user\nk: 1\n",
    )
    # Each user's first movie is ranked first, and every rated movie counts as relevant (> 0).
    assert found.task == "ranking"
    assert found.candidate.metrics["precision_at_k"] == 1.0
    assert found.candidate.metrics["recall_at_k"] == 0.5
    assert found.candidate.metrics["ndcg_at_k"] == pytest.approx(1.0)
