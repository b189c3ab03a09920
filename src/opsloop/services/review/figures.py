"""The arithmetic of review statistics, over plain rows (the service gathers them)."""

from __future__ import annotations

import math
from collections.abc import Iterable, Sequence
from typing import Any

from opsloop.domain.review import Spread, label_key
from opsloop.services.review.routing import SHADOW

DAY_S = 86400.0


def quantile(ordered: Sequence[float], q: float) -> float:
    """The ``q`` quantile of sorted values, interpolated linearly (NumPy's default)."""
    position = (len(ordered) - 1) * q
    low = math.floor(position)
    high = min(low + 1, len(ordered) - 1)
    return ordered[low] + (ordered[high] - ordered[low]) * (position - low)


def spread(durations: Iterable[float]) -> Spread | None:
    ordered = sorted(durations)
    if not ordered:
        return None
    return Spread(median=quantile(ordered, 0.5), p90=quantile(ordered, 0.9), count=len(ordered))


def reviewer_agreement(votes: Iterable[Sequence[Any]]) -> tuple[int, float | None]:
    """(items with two decisions, share of them whose first two decisions agree)."""
    pairs = [labels[:2] for labels in votes if len(labels) >= 2]
    if not pairs:
        return 0, None
    agreed = sum(1 for first, second in pairs if label_key(first) == label_key(second))
    return len(pairs), agreed / len(pairs)


def model_agreement(closed: Iterable[tuple[Any, Any]]) -> float | None:
    """The share of (prediction, label) pairs with a label where the two are one label."""
    labelled = [(prediction, label) for prediction, label in closed if label is not None]
    if not labelled:
        return None
    same = sum(1 for prediction, label in labelled if label_key(prediction) == label_key(label))
    return same / len(labelled)


def wrong_request_ids(
    request_ids: Sequence[Any],
    roles: Sequence[Any],
    predictions: Sequence[Any],
    labels: Sequence[Any],
) -> list[str]:
    """Request ids of served (not shadow) predictions whose latest label differs."""
    return [
        request_id
        for request_id, role, prediction, label in zip(
            request_ids, roles, predictions, labels, strict=True
        )
        if label is not None and role != SHADOW and label_key(label) != label_key(prediction)
    ]


def day_start(moment: float) -> float:
    """The start of the UTC day holding ``moment``."""
    return math.floor(moment / DAY_S) * DAY_S
