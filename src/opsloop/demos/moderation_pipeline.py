"""The moderation demo's retrain pipeline, imported by the demo's server (OPSLOOP_PIPELINES).

Labelled April traffic joins the January-March e-mails; the candidate must cost no more per
1,000 e-mails than the model serving, on labelled traffic it never saw, and then hold its
accuracy as a canary on half the traffic before it is promoted.
"""

from __future__ import annotations

from opsloop.demos import moderation
from opsloop.demos._workload import Pace, pace_from_environment
from opsloop.pipelines.retrain import retrain_pipeline

PACE: Pace = pace_from_environment()

retrain = retrain_pipeline(
    name=moderation.PIPELINE,
    endpoint=moderation.ENDPOINT,
    project=moderation.PROJECT,
    train=moderation.train,
    target=moderation.TARGET,
    gate=moderation.GATE,
    canary=50,
    canary_predictions=30,
    canary_timeout_s=PACE.canary_timeout_s,
    metric="accuracy",
    tolerance=0.05,  # thirty labelled canary e-mails measure accuracy to about ±0.05
)
