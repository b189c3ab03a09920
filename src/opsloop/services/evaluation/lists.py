"""Measuring a model that answers each request with a list of item ids, best first.

The evaluation data holds one row per (group, item, relevance) — a user, a movie and its
rating, say. Each group is scored once, from the features of its first row; its list is then
judged against the group's items and grades (``services/evaluation/ranking.py``), so a gate
gets the same metric names a monitor computes live. The groups and their judgements do not
depend on the model: they are built once for the candidate and the champion alike.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd

from opsloop.domain.errors import InvalidInput
from opsloop.domain.evaluation import Gate, MetricReport
from opsloop.services.evaluation import metrics
from opsloop.services.evaluation._arrays import labels, numbers
from opsloop.services.evaluation.measure import LATENCY_SAMPLE, latency
from opsloop.services.evaluation.ranking import Judgement, graded, item_key, list_metrics, ranked
from opsloop.services.serving.batch import features
from opsloop.services.serving.runtime import LoadedModel


@dataclass(frozen=True)
class JudgedGroups:
    """The evaluation data by group: each group's first row, what a model is asked, and its
    judgement, what its list is held against."""

    firsts: pd.DataFrame
    truths: list[Judgement]
    rows: int  # of the evaluation data


def judged_groups(frame: pd.DataFrame, target: str, policy: Gate) -> JudgedGroups:
    """``frame``'s groups (``policy.group``), each judged by its items and grades."""
    group, item = policy.group, policy.item
    assert group is not None and item is not None  # Gate.parse asks for group beside item
    codes, firsts = _groups(frame, group)
    truths = judgements(
        codes,
        len(firsts),
        labels(frame[item].to_numpy(), "item"),
        numbers(frame[target].to_numpy(), "target"),
        policy.relevance_threshold,
    )
    return JudgedGroups(firsts, truths, len(frame))


def measure_lists(
    model: LoadedModel, groups: JudgedGroups, segment: str | None, policy: Gate
) -> MetricReport:
    """The ranking metrics of ``model``'s lists, one per group."""
    firsts, truths, group = groups.firsts, groups.truths, policy.group
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
    return MetricReport(metrics=overall, segments=segments, rows=groups.rows, task="ranking")


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
    best: list[dict[str, float]] = [{} for _ in range(count)]
    for code, item, grade in zip(codes.tolist(), items.tolist(), grades.tolist(), strict=True):
        key = item_key(item)
        if grade > best[code].get(key, -np.inf):
            best[code][key] = grade
    return [graded(grades_of_one, threshold) for grades_of_one in best]
