"""The retrain pipeline's own rules (the whole loop runs in test_closed_loop.py); its canary
watch on a real store."""

from __future__ import annotations

from datetime import UTC, datetime

import pandas as pd
import pytest

import opsloop
from opsloop.domain.errors import InvalidInput
from opsloop.pipelines.retrain import _no_worse, check_canary, retrain_pipeline, watch_canary
from opsloop.sdk.client import Client


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


class Always:
    """Says ``answer`` for every row."""

    def __init__(self, answer: int) -> None:
        self.answer = answer

    def predict(self, frame: pd.DataFrame) -> list[int]:
        return [self.answer] * len(frame)


def label_role(endpoint: str, role: str, since: datetime) -> int:
    """Label 1 on every prediction ``role`` served since ``since``; how many."""
    log = opsloop.export_predictions(endpoint, since=since, inputs=False).to_pylist()
    mine = [{"id": row["request_id"], "label": 1} for row in log if row["role"] == role]
    if mine:
        opsloop.send_feedback(endpoint, mine)
    return len(mine)


def test_a_canary_is_judged_only_once_both_sides_have_their_labels(sdk: Client) -> None:
    """A canary with its labels and a primary without any is not judged: out of time, it is
    rolled back, naming what each side got. With both labelled, it is promoted."""
    example = pd.DataFrame({"x": [1.0]})
    first = opsloop.register_model(Always(1), "t/m", input_example=example)
    opsloop.deploy(first.ref, endpoint="ep", force=True, reason="test")
    for attempt in range(2):
        candidate = opsloop.register_model(Always(1), "t/m", input_example=example)
        since = datetime.now(UTC)
        number = opsloop.deploy(
            candidate.ref, endpoint="ep", canary=50, force=True, reason="test"
        ).number
        for n in range(40):  # a key per request: about half of them go to the canary
            opsloop.predict("ep", [{"x": float(n)}], key=f"user-{attempt}-{n}")
        assert label_role("ep", "canary", since) >= 5
        if attempt == 0:
            watched = watch_canary("ep", number, since.timestamp(), 5, "accuracy", 0.0, 0.5)
            assert watched["outcome"] == "rolled back"
            reason = sdk.deployment_history("ep")[0].reason
            assert "the primary 0 of the 5 labelled predictions each needs" in reason
        else:
            assert label_role("ep", "primary", since) >= 5
            watched = watch_canary("ep", number, since.timestamp(), 5, "accuracy", 0.0, 30)
            assert watched["outcome"] == "promoted"
            assert watched["scores"]["primary"][0] >= 5 and watched["scores"]["canary"][0] >= 5
