"""The review queue's figures over a period: gathered from the store and the prediction log."""

from __future__ import annotations

from typing import TYPE_CHECKING

from opsloop.domain.review import ReviewStats
from opsloop.services.deployments import subject_of
from opsloop.services.review import figures
from opsloop.services.review.routing import ROUTED_EVENT
from opsloop.store.repos import events
from opsloop.store.repos import review as repo
from opsloop.store.repos._time import at

if TYPE_CHECKING:
    from opsloop.store.database import Database
    from opsloop.store.prediction_log import PredictionLog


def gather(
    db: Database, log: PredictionLog, endpoint: str, endpoint_id: int, start: float, now: float
) -> ReviewStats:
    """The figures of ``[start, now)``; the backlog and today's decisions are now's."""
    today = figures.day_start(now)
    with db.read() as conn:
        backlog, oldest = repo.open_summary(conn, endpoint_id)
        by_reason = repo.reasons_since(conn, endpoint_id, start)
        closed = repo.closed_since(conn, endpoint_id, start)
        decisions = repo.decisions_since(conn, endpoint_id, min(start, today))
        votes = repo.double_review_votes(conn, endpoint_id, start)
        routed = events.data_since(
            conn, subject=subject_of(endpoint), kind=ROUTED_EVENT, since=start
        )
    # Errors known from any label: the log's latest label of each served prediction. Only the
    # labelled rows leave the log: most predictions never get a label.
    table = log.export(
        endpoint, since=at(start), until=at(now), with_inputs=False, labelled_only=True
    )
    wrong = sorted(
        set(
            figures.wrong_request_ids(
                table.column("request_id").to_pylist(),
                table.column("role").to_pylist(),
                table.column("prediction").to_pylist(),
                table.column("label").to_pylist(),
            )
        )
    )
    with db.read() as conn:
        caught = repo.closed_request_ids(conn, endpoint_id, wrong)
    decided = [row for row in decisions if row["action"] == repo.DECIDED]
    today_counts: dict[str, int] = {}
    for row in decided:
        if row["decided_at"] >= today:
            today_counts[row["reviewer"]] = today_counts.get(row["reviewer"], 0) + 1
    double_reviewed, agreement = figures.reviewer_agreement(votes)
    return ReviewStats(
        endpoint=endpoint,
        since=at(start),
        until=at(now),
        backlog=backlog,
        oldest_open_age_s=None if oldest is None else max(0.0, now - oldest),
        routed=sum(by_reason.values()),
        by_reason=by_reason,
        capped=sum(int((data or {}).get("capped", 0)) for data in routed),
        closed=len(closed),
        time_to_decision_s=figures.spread(row["closed_at"] - row["created_at"] for row in closed),
        handling_time_s=figures.spread(
            row["decided_at"] - row["claimed_at"]
            for row in decided
            if row["decided_at"] >= start and row["claimed_at"] is not None
        ),
        double_reviewed=double_reviewed,
        reviewer_agreement=agreement,
        model_agreement=figures.model_agreement(
            (row["prediction"], row["label"]) for row in closed
        ),
        errors_known=len(wrong),
        errors_caught=len(caught),
        errors_caught_share=len(caught) / len(wrong) if wrong else None,
        decided_today=dict(sorted(today_counts.items())),
    )
