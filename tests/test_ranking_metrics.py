"""Ranking metrics of lists against clicks and grades, worked by hand on a tiny case; the
shapes a ranking's feedback may take; the policy keys monitors and gates read."""

from __future__ import annotations

import math
from typing import Any

import pytest

from opsloop.domain.errors import InvalidInput
from opsloop.domain.evaluation import Gate
from opsloop.domain.monitoring import MonitorConfig
from opsloop.services.evaluation.ranking import (
    RANKING_METRICS,
    decoded,
    judgement,
    list_metrics,
    ranked,
)
from opsloop.services.feedback import check_feedback


def d(rank: int) -> float:
    """The discount of a 1-based rank."""
    return 1 / math.log2(rank + 1)


def test_metrics_at_k_match_a_case_worked_by_hand() -> None:
    lists = [ranked([1, 2, 3, 4]), ranked(["a", "b"]), ranked([7])]
    truths = [
        judgement([2, 4, 9]),  # clicks: relevant 2, 4, 9, each gain 1
        judgement({"a": 5, "b": 2, "c": 4}, threshold=4),  # grades: relevant a and c
        judgement([]),  # nothing engaged with: counts for precision only
    ]
    assert all(truth is not None for truth in truths)
    found, counts = list_metrics(
        [items or [] for items in lists], [t for t in truths if t is not None], k=3
    )
    # Request 1: top 3 is 1, 2, 3; one hit (2) at rank 2 of 3 relevant.
    ndcg_1 = d(2) / (d(1) + d(2) + d(3))
    # Request 2: a short list a, b (still divided by k); a is a hit at rank 1 of 2 relevant;
    # gains are the grades, the ideal list is a, c, b.
    ndcg_2 = (5 * d(1) + 2 * d(2)) / (5 * d(1) + 4 * d(2) + 2 * d(3))
    assert found == pytest.approx(
        {
            "precision_at_k": (1 / 3 + 1 / 3 + 0) / 3,
            "recall_at_k": (1 / 3 + 1 / 2) / 2,
            "ndcg_at_k": (ndcg_1 + ndcg_2) / 2,
            "hit_rate_at_k": 1.0,
            "mrr": (1 / 2 + 1) / 2,
        }
    )
    assert tuple(found) == RANKING_METRICS
    assert counts == {"requests": 3, "with_relevant": 2, "k": 3}


def test_without_a_threshold_any_grade_above_zero_is_relevant_and_negative_gains_nothing() -> None:
    truth = judgement({"1": 0.5, "2": 0, "3": -2})
    assert truth is not None
    assert truth.relevant == {"1"}
    assert truth.gains == {"1": 0.5, "2": 0.0, "3": 0.0}
    found, _ = list_metrics([["3", "2", "1"]], [truth], k=3)
    assert found["mrr"] == pytest.approx(1 / 3)
    assert found["ndcg_at_k"] == pytest.approx(d(3) / d(1))


def test_items_match_by_text_and_a_listed_item_counts_once() -> None:
    assert ranked([318, 318.0, "318", 50]) == ["318", "50"]
    assert ranked('[318, "x"]') == ["318", "x"]  # the JSON text the log gives back
    assert ranked(3) is None and ranked("spam") is None
    truth = judgement('{"318": 4.5}')
    assert truth is not None and truth.relevant == {"318"}
    found, _ = list_metrics([ranked([318, 318, 1]) or []], [truth], k=2)
    assert found["precision_at_k"] == 0.5  # 318 once, then 1: one hit of two slots


def test_nothing_defined_is_none_and_k_must_be_a_whole_number() -> None:
    found, counts = list_metrics([], [], k=5)
    assert found == dict.fromkeys(RANKING_METRICS)
    assert counts["requests"] == 0
    for bad in (0, 2.5, True):
        with pytest.raises(InvalidInput, match="k must be a whole number"):
            list_metrics([["1"]], [judgement([1])], k=bad)  # type: ignore[list-item,arg-type]


@pytest.mark.parametrize(
    ("value", "back"),
    [
        ('{"318":4.5}', {"318": 4.5}),
        ("[1,2]", [1, 2]),
        ("[oops", "[oops"),
        ("spam", "spam"),
        (3, 3),
    ],
)
def test_logged_text_of_lists_and_objects_decodes_and_the_rest_stays(value: Any, back: Any) -> None:
    assert decoded(value) == back


# -- feedback shapes ------------------------------------------------------------------------


def test_feedback_takes_scalars_click_lists_and_item_grades() -> None:
    labels = check_feedback(
        [
            {"id": "a", "label": 1},
            {"id": "b", "label": "spam"},
            {"id": "c", "label": [318, "tt0111161"]},
            {"id": "d", "label": {"318": 4.5, "50": 3}},
            {"id": "e", "label": []},  # shown items, none engaged with
            {"id": "f", "label": {7: 1}},  # a whole-number key is the item's text
            {"id": "g", "label": [318.0, 50]},  # a whole float is that item
            {"id": "h", "label": {318.0: 4}},
        ]
    )
    assert labels == {
        "a": 1,
        "b": "spam",
        "c": [318, "tt0111161"],
        "d": {"318": 4.5, "50": 3},
        "e": [],
        "f": {"7": 1},
        "g": [318, 50],
        "h": {"318": 4},
    }


@pytest.mark.parametrize(
    ("label", "field", "words"),
    [
        ([318, [1]], "feedback[1].label[1]", "must be an item id"),
        ([1.5], "feedback[1].label[0]", "must be an item id"),
        ([True], "feedback[1].label[0]", "must be an item id"),
        ([""], "feedback[1].label[0]", "must be an item id"),
        ({"318": "five"}, "feedback[1].label['318']", "must be a grade"),
        ({"318": None}, "feedback[1].label['318']", "must be a grade"),
        ({"318": True}, "feedback[1].label['318']", "must be a grade"),
        ({"318": {"stars": 4}}, "feedback[1].label['318']", "must be a grade"),
        (None, "feedback[1].label", "a list of item ids or an object"),
        (float("nan"), "feedback[1].label", "NaN"),
    ],
)
def test_bad_feedback_names_the_item_that_is_wrong(label: Any, field: str, words: str) -> None:
    with pytest.raises(InvalidInput, match=words) as caught:
        check_feedback([{"id": "ok", "label": 1}, {"id": "bad", "label": label}])
    assert caught.value.field == field
    assert caught.value.status == 422


# -- policy keys ------------------------------------------------------------------------------


def test_a_monitor_reads_k_the_relevance_threshold_and_a_declared_task() -> None:
    config = MonitorConfig.parse("window: 1h\ntask: ranking\nk: 5\nrelevance_threshold: 3.5\n")
    assert (config.task, config.k, config.relevance_threshold) == ("ranking", 5, 3.5)
    plain = MonitorConfig.parse("window: 1h\n")
    assert (plain.task, plain.k, plain.relevance_threshold) == (None, 10, None)


@pytest.mark.parametrize(
    ("line", "words"),
    [
        ("k: 0", "monitor key 'k' (line 2): must be a whole number >= 1"),
        ("relevance_threshold: high", "monitor key 'relevance_threshold' (line 2): must be a"),
        ("task: recommend", "monitor key 'task' (line 2): must be one of classification"),
    ],
)
def test_bad_ranking_keys_of_a_monitor_name_the_key(line: str, words: str) -> None:
    with pytest.raises(InvalidInput) as caught:
        MonitorConfig.parse(f"window: 1h\n{line}\n")
    assert words in caught.value.headline


def test_a_gate_reads_item_and_relevance_threshold() -> None:
    gate = Gate.parse(
        "target: rating\ngroup: user\nitem: movie\nk: 5\nrelevance_threshold: 4\n"
        "rules:\n  - ndcg_at_k >= champion\n"
    )
    assert (gate.group, gate.item, gate.k, gate.relevance_threshold) == ("user", "movie", 5, 4.0)
    with pytest.raises(InvalidInput, match="'relevance_threshold' must be a number"):
        Gate.parse("relevance_threshold: [4]\n")


@pytest.mark.parametrize(
    ("source", "field", "words"),
    [
        ("item: movie\n", "group", "needs the group column (group: the user or query)"),
        (
            "group: user\nitem: movie\ntask: regression\n",
            "task",
            "item: measures a ranking of lists, but the gate says task: regression",
        ),
    ],
)
def test_a_gate_of_lists_names_its_group_and_no_other_task(
    source: str, field: str, words: str
) -> None:
    with pytest.raises(InvalidInput) as caught:
        Gate.parse(source)
    assert caught.value.field == field
    assert words in caught.value.headline
