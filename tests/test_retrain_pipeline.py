"""The retrain pipeline's own rules (the whole loop runs in test_closed_loop.py)."""

from __future__ import annotations

import pytest

from opsloop.domain.errors import InvalidInput
from opsloop.pipelines.retrain import _no_worse, check_canary, retrain_pipeline


@pytest.mark.parametrize(
    ("canary", "primary", "metric", "tolerance", "held"),
    [
        (0.90, 0.80, "accuracy", 0.0, True),
        (0.79, 0.80, "accuracy", 0.0, False),
        (0.79, 0.80, "accuracy", 0.02, True),
        (1.5, 2.0, "mae", 0.0, True),  # lower is better
        (2.5, 2.0, "mae", 0.0, False),
        (0.5, None, "accuracy", 0.0, True),  # undefined on the primary: nothing says worse
        (None, 0.8, "accuracy", 0.0, False),  # the canary cannot be measured: not promoted
        (None, None, "f1", 0.0, False),
    ],
)
def test_a_canary_is_promoted_only_when_shown_no_worse(
    canary: float | None, primary: float | None, metric: str, tolerance: float, held: bool
) -> None:
    assert _no_worse(canary, primary, metric, tolerance) is held


@pytest.mark.parametrize(
    ("metric", "k", "refused"),
    [
        ("accuracy", 10, None),
        ("mae", 10, None),
        ("ndcg_at_k", 5, None),
        ("precision_at_k", 1, None),
        ("recall_at_k", 10, None),
        ("hit_rate_at_k", 10, None),
        ("mrr", 10, None),
        ("log_loss", 10, "metric"),  # labels alone cannot give it
        ("r2", 10, "metric"),
        ("acuracy", 10, "metric"),
        ("map_at_k", 10, "metric"),  # a gate's pointwise ranking metric, none a monitor has
        ("ndcg_at_k", 0, "k"),
        ("ndcg_at_k", 2.5, "k"),
        ("ndcg_at_k", True, "k"),
    ],
)
def test_a_canary_is_judged_by_a_live_metric_at_a_whole_k(
    metric: str, k: int, refused: str | None
) -> None:
    if refused is None:
        check_canary(metric, k)  # accepted: no error
        return
    with pytest.raises(InvalidInput) as caught:
        check_canary(metric, k)
    assert caught.value.field == refused


@pytest.mark.parametrize(("metric", "k", "refused"), [("log_loss", 10, "metric"), ("mrr", 0, "k")])
def test_a_pipeline_that_cannot_judge_its_canary_is_refused(
    metric: str, k: int, refused: str
) -> None:
    with pytest.raises(InvalidInput) as caught:
        retrain_pipeline(
            name="retrain-x",
            endpoint="x",
            train=lambda frame, target: None,
            target="y",
            gate="rules: []",
            metric=metric,
            k=k,
        )
    assert caught.value.field == refused
