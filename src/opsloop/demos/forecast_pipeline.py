"""The forecast demo's retrain pipeline, imported by the demo's server (OPSLOOP_PIPELINES).

The days traffic has labelled join 2001-2010; the candidate must have no larger mean absolute
error than the model serving on days it never saw, then hold it as a canary on half the
traffic before it is promoted.
"""

from __future__ import annotations

from opsloop.demos import forecast
from opsloop.demos._workload import Pace, pace_from_environment
from opsloop.pipelines.retrain import retrain_pipeline

PACE: Pace = pace_from_environment()

retrain = retrain_pipeline(
    name=forecast.PIPELINE,
    endpoint=forecast.ENDPOINT,
    project=forecast.PROJECT,
    train=forecast.train,
    target=forecast.TARGET,
    gate=forecast.GATE,
    canary=50,
    canary_predictions=30,
    canary_timeout_s=PACE.canary_timeout_s,
    metric="mae",
    tolerance=0.3,  # thirty days measure a mean absolute error to about ±0.3 thousand riders
)
