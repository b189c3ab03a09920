"""Which logged predictions go to review, how urgent each is, and what the hourly cap keeps.

Pure functions over plain values: the service reads the log and stores what these choose.

The logged ``score`` (services/serving/runtime.py, ``Scored.score``) is, for a classifier of
two classes, the probability of the **second** class in the model's class order (sklearn
sorts them: ``violation`` of ok/violation, ``1`` of 0/1), whichever class won; for more
classes it is the winning class's probability. The uncertainty band and the rules' score
conditions read that number as it is.
"""

from __future__ import annotations

import hashlib
import math
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import Any

from opsloop.domain.review import ReviewConfig, label_key

HOUR_S = 3600.0
UNKNOWN_CHANCE = 0.5  # no score: the chance of an error is anyone's guess
UNCERTAIN = "uncertain"
SAMPLE = "sample"
RULE = "rule:"
SHADOW = "shadow"  # a shadow's answers never reached anyone: nothing to review, no error made
ROUTED_EVENT = "review.routed"  # one per pass that routed or capped something


@dataclass(frozen=True)
class Match:
    """Why a prediction is routed (the first of: a rule, the band, the sample) and whether
    it is in the quality-control sample too."""

    reason: str
    sampled: bool


@dataclass(frozen=True)
class Candidate:
    """A routed prediction before the cap."""

    request_id: str
    predicted_at: float
    priority: float
    match: Match


def sampled(request_id: str, share: float) -> bool:
    """Whether ``request_id`` falls in a ``share`` sample: decided by its hash, so the same
    prediction is chosen (or not) however often it is read."""
    if share <= 0.0:
        return False
    if share >= 1.0:
        return True
    digest = hashlib.sha256(request_id.encode()).digest()
    return int.from_bytes(digest[:8], "big") < share * 2**64


def match(
    config: ReviewConfig, request_id: str, prediction: Any, score: float | None
) -> Match | None:
    """Why this prediction goes to review under ``config``, or None."""
    if score is not None and not math.isfinite(score):
        score = None
    in_sample = sampled(request_id, config.sample)
    for rule in config.rules:
        if rule.matches(prediction, score):
            return Match(RULE + rule.name, in_sample)
    band = config.uncertain
    if band is not None and score is not None and band.holds(score):
        return Match(UNCERTAIN, in_sample)
    return Match(SAMPLE, True) if in_sample else None


def error_chance(
    prediction: Any, score: float | None, classes: Sequence[Any] | None
) -> float | None:
    """The model's own chance of being wrong: 1 - the probability of what it predicted.

    Two classes: ``score`` is the second class's probability. More: ``score`` is the
    winner's. None without a score."""
    if score is None or not math.isfinite(score):
        return None
    if classes is not None and len(classes) == 2:
        chosen = score if label_key(prediction) == label_key(classes[1]) else 1.0 - score
    else:
        chosen = score
    return min(1.0, max(0.0, 1.0 - chosen))


def priority(
    config: ReviewConfig, prediction: Any, score: float | None, classes: Sequence[Any] | None
) -> float:
    """The expected cost of the model's error on this prediction: its chance of being wrong
    times what that error costs. Costs apply to a binary classifier whose classes hold the
    positive one; otherwise (and without costs) the chance alone."""
    chance = error_chance(prediction, score, classes)
    if chance is None:
        chance = UNKNOWN_CHANCE
    costs = config.costs
    if costs is None or classes is None or len(classes) != 2:
        return chance
    keys = [label_key(value) for value in classes]
    positive = keys[1] if costs.positive is None else label_key(costs.positive)
    if positive not in keys:
        return chance
    said_positive = label_key(prediction) == positive
    return chance * (costs.false_positive if said_positive else costs.false_negative)


def hour_of(moment: float) -> int:
    return math.floor(moment / HOUR_S)


def within_cap(
    candidates: Iterable[Candidate], cap: int | None, stored: dict[int, int]
) -> tuple[list[Candidate], list[Candidate]]:
    """(kept, left out): per hour of prediction time, at most ``cap`` items counting the
    ``stored`` ones; the most urgent first, then the oldest."""
    ordered = sorted(candidates, key=lambda c: (-c.priority, c.predicted_at, c.request_id))
    if cap is None:
        return ordered, []
    taken = dict(stored)
    kept: list[Candidate] = []
    left: list[Candidate] = []
    for candidate in ordered:
        hour = hour_of(candidate.predicted_at)
        if taken.get(hour, 0) < cap:
            taken[hour] = taken.get(hour, 0) + 1
            kept.append(candidate)
        else:
            left.append(candidate)
    return kept, left


def reviews_needed(config: ReviewConfig, found: Match) -> int:
    """Two reviewers for a sampled prediction under double review, else one."""
    return 2 if found.sampled and config.double_review else 1


def majority(labels: Sequence[Any]) -> tuple[bool, Any]:
    """(decided, label): the label given more often than any other, as first given."""
    counts: dict[str, int] = {}
    first: dict[str, Any] = {}
    for label in labels:
        key = label_key(label)
        counts[key] = counts.get(key, 0) + 1
        first.setdefault(key, label)
    if not counts:
        return False, None
    ranked = sorted(counts.values(), reverse=True)
    if len(ranked) > 1 and ranked[0] == ranked[1]:
        return False, None
    top = max(counts, key=lambda key: counts[key])
    return True, first[top]
