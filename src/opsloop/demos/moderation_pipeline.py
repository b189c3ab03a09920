"""The moderation demo's retrain pipeline, imported by the demo's server (OPSLOOP_PIPELINES).

Labelled April traffic joins the January-March e-mails; the candidate must cost no more per
1,000 e-mails than the model serving, on labelled traffic it never saw, and then hold its
accuracy as a canary on half the traffic before it is promoted.
"""

from __future__ import annotations

from opsloop.demos import moderation
from opsloop.demos._retrain import demo_retrain

# Thirty labelled canary e-mails measure accuracy to about ±0.05.
retrain = demo_retrain(moderation, metric="accuracy", tolerance=0.05)
