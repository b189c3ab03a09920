"""Measuring a model that answers each request with a list of item ids, best first.

The evaluation data holds one row per (group, item, relevance) — a user, a movie and its
rating, say. Each group is scored once, from the features of its first row; its list is then
judged against the group's items and grades (``services/evaluation/ranking.py``), so a gate
gets the same metric names a monitor computes live.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from opsloop.domain.errors import InvalidInput
from opsloop.domain.evaluation import Gate, MetricReport
from opsloop.services.evaluation import metrics
from opsloop.services.evaluation._arrays import labels, numbers
from opsloop.services.evaluation.measure import LATENCY_SAMPLE, latency
from opsloop.services.evaluation.ranking import (
    Judgement,
    item_key,
    list_metrics,
    ranked,
    relevant_grade,
)
from opsloop.services.serving.batch import features
from opsloop.services.serving.runtime import LoadedModel


def measure_lists(
    model: LoadedModel, frame: pd.DataFrame, target: str, segment: str | None, policy: Gate
) -> MetricReport:
    """The ranking metrics of ``model``'s lists, one per value of ``policy.group``."""
    group, item = policy.group, policy.item
    assert item is not None
    if group is None:
        raise InvalidInput(
            "a ranking of lists needs the group column (group: the user or query) beside item:",
            field="group",
        )
    if policy.task not in (None, "ranking"):
        raise InvalidInput(
            f"item: measures a ranking of lists, but the gate says task: {policy.task}",
            field="task",
        )
    if item not in frame.columns:
        raise InvalidInput(f"the data has no item column {item!r}", field="item")
    codes, firsts = _groups(frame, group)
    truths = judgements(
        codes,
        len(firsts),
        labels(frame[item].to_numpy(), "item"),
        numbers(frame[target].to_numpy(), "target"),
        policy.relevance_threshold,
    )
    scored = model.score_features(features(model, firsts), len(firsts))
    lists = []
    for position, answer in enumerate(scored.predictions):
        items = ranked(answer)
        if items is None:
            who = firsts[group].iloc[position]
            raise InvalidInput(
                f"model {model.ref} answered {group} {who!r} with {answer!r}, not a list of "
                "item ids",
                field="model",
            )
        lists.append(items)

    def compute(mask: np.ndarray | None) -> dict[str, float | None]:
        chosen = range(len(lists)) if mask is None else np.flatnonzero(mask)
        found, counts = list_metrics(
            [lists[i] for i in chosen], [truths[i] for i in chosen], policy.k
        )
        return {**found, "groups": float(counts["requests"])}

    overall = compute(None)
    segments = {}
    if segment is not None:
        segments = metrics.by_segment(firsts[segment].to_numpy(), compute)
    overall.update(latency(model, firsts, policy.latency_sample or LATENCY_SAMPLE))
    return MetricReport(metrics=overall, segments=segments, rows=len(frame), task="ranking")


def _groups(frame: pd.DataFrame, group: str) -> tuple[np.ndarray, pd.DataFrame]:
    """Each row's group number (in order of first appearance), and each group's first row."""
    keys = labels(frame[group].to_numpy(), "group")
    codes, uniques = pd.factorize(keys)
    first_rows = np.full(len(uniques), len(codes), dtype=np.int64)
    np.minimum.at(first_rows, codes, np.arange(len(codes)))
    return codes, frame.iloc[first_rows].reset_index(drop=True)


def judgements(
    codes: np.ndarray,
    count: int,
    items: np.ndarray,
    grades: np.ndarray,
    threshold: float | None,
) -> list[Judgement]:
    """Each group's items and grades as its judgement (an item listed twice keeps its best
    grade)."""
    gains: list[dict[str, float]] = [{} for _ in range(count)]
    best: list[dict[str, float]] = [{} for _ in range(count)]
    for code, item, grade in zip(codes.tolist(), items.tolist(), grades.tolist(), strict=True):
        key = item_key(item)
        if grade > best[code].get(key, -np.inf):
            best[code][key] = grade
            gains[code][key] = max(grade, 0.0)
    return [
        Judgement(
            gains[code],
            frozenset(key for key, grade in best[code].items() if relevant_grade(grade, threshold)),
        )
        for code in range(count)
    ]
