"""The retrain pipeline's own rules (the whole loop runs in test_closed_loop.py)."""

from __future__ import annotations

import pytest

from opsloop.domain.errors import InvalidInput
from opsloop.pipelines.retrain import _no_worse, retrain_pipeline


@pytest.mark.parametrize(
    ("canary", "primary", "metric", "tolerance", "held"),
    [
        (0.90, 0.80, "accuracy", 0.0, True),
        (0.79, 0.80, "accuracy", 0.0, False),
        (0.79, 0.80, "accuracy", 0.02, True),
        (1.5, 2.0, "mae", 0.0, True),  # lower is better
        (2.5, 2.0, "mae", 0.0, False),
        (0.5, None, "accuracy", 0.0, True),  # no primary labels: nothing says it is worse
        (None, 0.8, "accuracy", 0.0, False),  # the canary cannot be measured: not promoted
        (None, None, "f1", 0.0, False),
    ],
)
def test_a_canary_is_promoted_only_when_shown_no_worse(
    canary: float | None, primary: float | None, metric: str, tolerance: float, held: bool
) -> None:
    assert _no_worse(canary, primary, metric, tolerance) is held


@pytest.mark.parametrize("metric", ["log_loss", "r2", "acuracy"])
def test_a_metric_labels_alone_cannot_give_is_refused(metric: str) -> None:
    with pytest.raises(InvalidInput) as caught:
        retrain_pipeline(
            name="retrain-x",
            endpoint="x",
            train=lambda frame, target: None,
            target="y",
            gate="rules: []",
            metric=metric,
        )
    assert caught.value.field == "metric"
