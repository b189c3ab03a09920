"""The retrain pipeline a workload's ``*_pipeline`` module registers in the demo's server:
the workload's training and gate, a canary on half the traffic judged on thirty labelled
predictions, at the pace the demo runs (a module of its own, so the runner never imports the
pipelines)."""

from __future__ import annotations

from collections.abc import Callable
from types import ModuleType
from typing import Any

from opsloop.demos._workload import pace_from_environment
from opsloop.pipelines.retrain import retrain_pipeline


def demo_retrain(
    workload: ModuleType, *, metric: str, tolerance: float
) -> Callable[..., dict[str, Any]]:
    """Register the retrain pipeline of ``workload`` (``opsloop.demos.moderation``, say):
    its ``PIPELINE``, ``ENDPOINT``, ``PROJECT``, ``train``, ``TARGET`` and ``GATE``; the
    canary judged by ``metric``, no worse than the primary within ``tolerance``."""
    return retrain_pipeline(
        name=workload.PIPELINE,
        endpoint=workload.ENDPOINT,
        project=workload.PROJECT,
        train=workload.train,
        target=workload.TARGET,
        gate=workload.GATE,
        canary=50,
        canary_predictions=30,
        canary_timeout_s=pace_from_environment().canary_timeout_s,
        metric=metric,
        tolerance=tolerance,
    )
