"""The retrain pipeline a workload's ``*_pipeline`` module registers in the demo's server:
the workload's training and gate, a canary on half the traffic judged on its labelled
predictions (thirty unless the workload says), at the pace the demo runs (a module of its
own, so the runner never imports the pipelines)."""

from __future__ import annotations

from collections.abc import Callable
from types import ModuleType
from typing import Any

from opsloop.demos._workload import pace_from_environment
from opsloop.pipelines.retrain import retrain_pipeline


def demo_retrain(
    workload: ModuleType,
    *,
    metric: str,
    tolerance: float,
    canary_predictions: int = 30,
    **ranking: Any,
) -> Callable[..., dict[str, Any]]:
    """Register the retrain pipeline of ``workload`` (``opsloop.demos.moderation``, say):
    its ``PIPELINE``, ``ENDPOINT``, ``PROJECT``, ``train``, ``TARGET`` and ``GATE``; the
    canary judged by ``metric`` on ``canary_predictions`` labelled predictions a side, no
    worse than the primary within ``tolerance``. A ranking passes ``retrain_pipeline``'s
    ``item``, ``k`` and ``relevance_threshold`` in ``ranking``."""
    return retrain_pipeline(
        name=workload.PIPELINE,
        endpoint=workload.ENDPOINT,
        project=workload.PROJECT,
        train=workload.train,
        target=workload.TARGET,
        gate=workload.GATE,
        canary=50,
        canary_predictions=canary_predictions,
        canary_timeout_s=pace_from_environment().canary_timeout_s,
        metric=metric,
        tolerance=tolerance,
        **ranking,
    )
