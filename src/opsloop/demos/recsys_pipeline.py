"""The recommendation demo's retrain pipeline, imported by the demo's server
(OPSLOOP_PIPELINES).

The visits' feedback becomes one row per rated film and joins the ratings before 2002; the
candidate's NDCG@10 on visits it never saw must be no lower than the serving model's, then it
holds a canary on half the traffic, judged on sixty visits, before it is promoted.
"""

from __future__ import annotations

from opsloop.demos import recsys
from opsloop.demos._retrain import demo_retrain

# A visit's NDCG@10 is 0 for four visits in five (0.045 on average, standard deviation 0.13
# over the replayed visits), so sixty visits a side tell two models apart to about ±0.024:
# the canary catches a broken candidate (one that never hits is rolled back about three
# times in four), not a small loss; the gate on the holdout judges that.
retrain = demo_retrain(
    recsys,
    metric="ndcg_at_k",
    tolerance=0.03,
    canary_predictions=60,
    item=recsys.ITEM,
    k=recsys.K,
    relevance_threshold=recsys.LIKED,
)
