"""Ranked lists judged by what users engaged with: the metrics of a model that answers each
request with a list of item ids, best first — live (monitors, canaries) and in gates alike.

A request's truth is a **judgement**: the items the user clicked (a list; each one's gain is 1)
or graded (an object ``{item: grade}``; each one's gain is its grade, 0 if negative). An item
is relevant when it was clicked, or when its grade is at least ``threshold`` (no threshold:
above 0). Items are matched by their text, so the item ``318`` is the item ``"318"`` (and a
whole float ``318.0`` too). Per request, over the first ``k`` distinct items of its list:

- ``precision_at_k``: relevant items found / k (a short list still divides by k, as trec_eval);
- ``recall_at_k``: relevant items found / relevant items;
- ``hit_rate_at_k``: 1 if any relevant item was found, else 0;
- ``mrr``: 1 / the rank of the first relevant item found (0 if none in the top k);
- ``ndcg_at_k``: the discounted gain of the list (gain / log2(rank + 1)) over that of the ideal
  list (the request's own items by gain). The gain is the grade itself (1 for a click), not
  2**grade - 1 as the pointwise ``metrics.ranking`` takes it: the two ndcg_at_k differ.

Each is the mean over requests; a request with no relevant item counts only for precision
(and for ndcg when it has a positive gain). A metric no request can define is None.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np

from opsloop.domain.errors import InvalidInput
from opsloop.domain.numbers import is_number

Metrics = dict[str, float | None]
RANKING_METRICS = ("precision_at_k", "recall_at_k", "ndcg_at_k", "hit_rate_at_k", "mrr")


@dataclass(frozen=True)
class Judgement:
    """One request's truth: each judged item's gain, and which of them are relevant."""

    gains: dict[str, float]
    relevant: frozenset[str]


def item_key(item: Any) -> str:
    """An item id as the text items are matched by."""
    if type(item) is str:  # the common case (keys made already, a JSON object's keys): fast
        return item
    if isinstance(item, np.generic):
        item = item.item()
    if isinstance(item, float) and item.is_integer():
        return str(int(item))
    return str(item)


def decoded(value: Any) -> Any:
    """A logged value as it was sent: the log keeps a list or an object as its JSON text."""
    if isinstance(value, str) and value[:1] in ("[", "{"):
        import orjson

        try:
            return orjson.loads(value)
        except orjson.JSONDecodeError:
            return value
    return value


def ranked(value: Any) -> list[str] | None:
    """A prediction as the keys of the items it ranks, best first, each once; None when it
    is not a list."""
    value = decoded(value)
    if isinstance(value, np.ndarray):
        value = value.tolist()
    if not isinstance(value, list | tuple):
        return None
    return list(dict.fromkeys(item_key(item) for item in value))


def relevant_grade(grade: float, threshold: float | None) -> bool:
    return grade >= threshold if threshold is not None else grade > 0


def judgement(label: Any, threshold: float | None = None) -> Judgement | None:
    """A label as a judgement: a list of clicked items, or an object of item grades (see
    ``graded``); None for any other label."""
    value = decoded(label)
    if isinstance(value, dict):
        return graded(value, threshold)
    if isinstance(value, list | tuple | np.ndarray):
        keys = frozenset(item_key(item) for item in value)
        return Judgement(dict.fromkeys(keys, 1.0), keys)
    return None


def graded(grades: Mapping[Any, Any], threshold: float | None = None) -> Judgement:
    """Item grades as a judgement; grades that are not numbers are left out."""
    gains: dict[str, float] = {}
    relevant = set()
    for item, grade in grades.items():
        if not is_number(grade):
            continue
        key = item_key(item)
        gains[key] = max(float(grade), 0.0)
        if relevant_grade(float(grade), threshold):
            relevant.add(key)
    return Judgement(gains, frozenset(relevant))


def check_k(k: Any) -> int:
    """``k``, a cut-off of ranked lists, checked: a whole number from 1."""
    if isinstance(k, bool) or not isinstance(k, int) or k < 1:
        raise InvalidInput(f"k must be a whole number >= 1, got {k!r}", field="k")
    return k


def list_metrics(
    lists: Sequence[Sequence[str]], truths: Sequence[Judgement], k: int = 10
) -> tuple[Metrics, dict[str, int]]:
    """The ranking metrics of ``lists`` (item keys, best first) against ``truths``, one per
    list; and how many requests were judged and how many had a relevant item."""
    check_k(k)
    if len(lists) != len(truths):
        raise InvalidInput(f"{len(lists)} ranked lists but {len(truths)} judgements", field="data")
    discount = 1.0 / np.log2(np.arange(2, k + 2))
    precision: list[float] = []
    recall: list[float] = []
    hit: list[float] = []
    reciprocal: list[float] = []
    ndcg: list[float] = []
    for items, truth in zip(lists, truths, strict=True):
        top = list(items[:k])
        found = [item in truth.relevant for item in top]
        hits = sum(found)
        precision.append(hits / k)
        if truth.relevant:
            recall.append(hits / len(truth.relevant))
            hit.append(1.0 if hits else 0.0)
            first = found.index(True) if hits else None
            reciprocal.append(0.0 if first is None else 1.0 / (first + 1))
        ideal = sorted(truth.gains.values(), reverse=True)[:k]
        best = float(np.dot(ideal, discount[: len(ideal)]))
        if best > 0:
            gained = [truth.gains.get(item, 0.0) for item in top]
            ndcg.append(float(np.dot(gained, discount[: len(gained)])) / best)
    counts = {"requests": len(lists), "with_relevant": len(recall), "k": k}
    return {
        "precision_at_k": _mean(precision),
        "recall_at_k": _mean(recall),
        "ndcg_at_k": _mean(ndcg),
        "hit_rate_at_k": _mean(hit),
        "mrr": _mean(reciprocal),
    }, counts


def measure_logged(
    predictions: Iterable[Any], labels: Iterable[Any], k: int, threshold: float | None
) -> tuple[Metrics, dict[str, int]]:
    """The ranking metrics of logged answers against their feedback, as ``list_metrics``
    gives them; a row whose answer is no list, or whose label is neither clicked items nor
    grades, is left out and counted as ``unknown``. No metric when no row is left."""
    lists: list[list[str]] = []
    truths: list[Judgement] = []
    unknown = 0
    for prediction, label in zip(predictions, labels, strict=True):
        items, truth = ranked(prediction), judgement(label, threshold)
        if items is None or truth is None:
            unknown += 1
            continue
        lists.append(items)
        truths.append(truth)
    if not lists:
        return {}, {"requests": 0, "with_relevant": 0, "k": k, "unknown": unknown}
    found, counts = list_metrics(lists, truths, k)
    return found, {**counts, "unknown": unknown}


def _mean(values: list[float]) -> float | None:
    return float(np.mean(values)) if values else None
