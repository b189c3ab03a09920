"""The forecast demo's retrain pipeline, imported by the demo's server (OPSLOOP_PIPELINES).

The days traffic has labelled join 2001-2010; the candidate must have no larger mean absolute
error than the model serving on days it never saw, then hold it as a canary on half the
traffic before it is promoted.
"""

from __future__ import annotations

from opsloop.demos import forecast
from opsloop.demos._retrain import demo_retrain

# Thirty days measure a mean absolute error to about ±0.3 thousand riders.
retrain = demo_retrain(forecast, metric="mae", tolerance=0.3)
