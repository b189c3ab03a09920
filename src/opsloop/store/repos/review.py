"""The review queue: one policy per endpoint, items routed from its log, reviewers' decisions.

A claim is a lease on an item: taken and released by conditional updates that succeed only
while the claim is free (or the caller's), so two reviewers can never hold one item.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from typing import Any

from sqlalchemy import Connection, RowMapping, and_, exists, func, or_, select
from sqlalchemy.dialects import postgresql, sqlite

from opsloop.domain.errors import NotFound
from opsloop.domain.review import ReviewConfig, ReviewDecision, ReviewItem, ReviewPolicy
from opsloop.store.repos import _endpoint_config
from opsloop.store.repos._time import at, at_or_none
from opsloop.store.tables import endpoints, review_decisions, review_items, review_policies

OPEN = "open"
CLOSED = "closed"
DECIDED = "decided"
SKIPPED = "skipped"
_IN_LIST = 500

_POLICIES = select(review_policies, endpoints.c.name.label("endpoint")).join(
    endpoints, endpoints.c.id == review_policies.c.endpoint_id
)
_ITEMS = select(review_items, endpoints.c.name.label("endpoint")).join(
    endpoints, endpoints.c.id == review_items.c.endpoint_id
)
_QUEUE_ORDER = (
    review_items.c.priority.desc(),
    review_items.c.predicted_at,
    review_items.c.id,
)


# -- policies -------------------------------------------------------------------------------


def get_policy(conn: Connection, endpoint_id: int) -> ReviewPolicy | None:
    row = conn.execute(_POLICIES.where(review_policies.c.endpoint_id == endpoint_id)).mappings()
    found = row.first()
    return None if found is None else _policy(found)


def list_policies(conn: Connection) -> list[ReviewPolicy]:
    rows = conn.execute(_POLICIES.order_by(endpoints.c.name)).mappings()
    return [_policy(row) for row in rows]


def save_policy(
    conn: Connection, endpoint_id: int, config: ReviewConfig, source: str, time: float, actor: str
) -> bool:
    """Set the endpoint's policy; True when it had none before. Its routing progress stays."""
    return _endpoint_config.save(conn, review_policies, endpoint_id, config, source, time, actor)


def lock_policy(conn: Connection, endpoint_id: int) -> None:
    """Take the policy row for this transaction: routing passes on one endpoint take turns."""
    conn.execute(
        select(review_policies.c.routed_until)
        .where(review_policies.c.endpoint_id == endpoint_id)
        .with_for_update()
    ).scalar()


def advance(conn: Connection, endpoint_id: int, until: float) -> None:
    """Record that predictions logged before ``until`` are routed (never moves back)."""
    conn.execute(
        review_policies.update()
        .where(
            review_policies.c.endpoint_id == endpoint_id,
            or_(review_policies.c.routed_until.is_(None), review_policies.c.routed_until < until),
        )
        .values(routed_until=until)
    )


# -- items ----------------------------------------------------------------------------------


def known_request_ids(conn: Connection, endpoint_id: int, ids: Sequence[str]) -> set[str]:
    """Those of ``ids`` already routed on this endpoint."""
    found: set[str] = set()
    for start in range(0, len(ids), _IN_LIST):
        chunk = list(ids[start : start + _IN_LIST])
        found.update(
            conn.execute(
                select(review_items.c.request_id).where(
                    review_items.c.endpoint_id == endpoint_id,
                    review_items.c.request_id.in_(chunk),
                )
            ).scalars()
        )
    return found


def count_in_hours(conn: Connection, endpoint_id: int, hours: Iterable[int]) -> dict[int, int]:
    """Items per hour of prediction time (hour ``h`` is ``[h * 3600, (h + 1) * 3600)``)."""
    counts = {}
    for hour in hours:
        counts[hour] = conn.execute(
            select(func.count()).where(
                review_items.c.endpoint_id == endpoint_id,
                review_items.c.predicted_at >= hour * 3600.0,
                review_items.c.predicted_at < (hour + 1) * 3600.0,
            )
        ).scalar_one()
    return counts


def insert_items(conn: Connection, rows: list[dict[str, Any]]) -> None:
    """New open items; one already routed (same endpoint and request id) is left as it is."""
    if not rows:
        return
    dialect = postgresql if conn.dialect.name == "postgresql" else sqlite
    statement = dialect.insert(review_items).on_conflict_do_nothing(
        index_elements=[review_items.c.endpoint_id, review_items.c.request_id]
    )
    conn.execute(statement, rows)


def get_item(conn: Connection, endpoint_id: int, item_id: int) -> ReviewItem:
    row = (
        conn.execute(
            _ITEMS.where(review_items.c.id == item_id, review_items.c.endpoint_id == endpoint_id)
        )
        .mappings()
        .first()
    )
    if row is None:
        raise NotFound(f"review item {item_id} not found", field="item")
    return _item(row)


def list_items(
    conn: Connection, endpoint_id: int, status: str | None, limit: int, offset: int = 0
) -> list[ReviewItem]:
    """Open items in queue order; otherwise the newest first; the first ``offset`` skipped."""
    query = _ITEMS.where(review_items.c.endpoint_id == endpoint_id)
    if status is not None:
        query = query.where(review_items.c.status == status)
    order = _QUEUE_ORDER if status == OPEN else (review_items.c.id.desc(),)
    rows = conn.execute(query.order_by(*order).limit(limit).offset(offset)).mappings()
    return [_item(row) for row in rows]


def count_items(conn: Connection, endpoint_id: int, status: str | None) -> int:
    """How many items ``list_items`` pages through."""
    query = select(func.count()).where(review_items.c.endpoint_id == endpoint_id)
    if status is not None:
        query = query.where(review_items.c.status == status)
    return int(conn.execute(query).scalar_one())


def held_by(conn: Connection, endpoint_id: int, reviewer: str, now: float) -> ReviewItem | None:
    """The open item ``reviewer`` holds a live claim on, if any (the earliest claimed)."""
    row = (
        conn.execute(
            _ITEMS.where(
                review_items.c.endpoint_id == endpoint_id,
                review_items.c.status == OPEN,
                review_items.c.claimed_by == reviewer,
                review_items.c.claim_expires_at > now,
            )
            .order_by(review_items.c.claimed_at, review_items.c.id)
            .limit(1)
        )
        .mappings()
        .first()
    )
    return None if row is None else _item(row)


def _claimable(endpoint_id: int, reviewer: str, now: float) -> Any:
    """Open items with no live claim that ``reviewer`` has not decided or skipped."""
    seen = exists().where(
        review_decisions.c.item_id == review_items.c.id,
        review_decisions.c.reviewer == reviewer,
    )
    return and_(
        review_items.c.endpoint_id == endpoint_id,
        review_items.c.status == OPEN,
        _free(now),
        ~seen,
    )


def _free(now: float) -> Any:
    return or_(review_items.c.claimed_by.is_(None), review_items.c.claim_expires_at <= now)


def next_claimable(conn: Connection, endpoint_id: int, reviewer: str, now: float) -> int | None:
    """The id of the first item in queue order ``reviewer`` may claim now."""
    return conn.execute(
        select(review_items.c.id)
        .where(_claimable(endpoint_id, reviewer, now))
        .order_by(*_QUEUE_ORDER)
        .limit(1)
    ).scalar()


def count_claimable(conn: Connection, endpoint_id: int, reviewer: str, now: float) -> int:
    """Items ``reviewer`` could claim now, the one they hold included."""
    mine = and_(review_items.c.claimed_by == reviewer, review_items.c.claim_expires_at > now)
    seen = exists().where(
        review_decisions.c.item_id == review_items.c.id,
        review_decisions.c.reviewer == reviewer,
    )
    return conn.execute(
        select(func.count()).where(
            review_items.c.endpoint_id == endpoint_id,
            review_items.c.status == OPEN,
            or_(_free(now), mine),
            ~seen,
        )
    ).scalar_one()


def take_claim(conn: Connection, item_id: int, reviewer: str, now: float, ttl_s: float) -> bool:
    """Claim the item for ``reviewer`` until ``now + ttl_s`` if it is open and its claim is
    free; False when another claimer got there first."""
    taken = conn.execute(
        review_items.update()
        .where(review_items.c.id == item_id, review_items.c.status == OPEN, _free(now))
        .values(claimed_by=reviewer, claimed_at=now, claim_expires_at=now + ttl_s)
    )
    return taken.rowcount == 1


def release_claim(conn: Connection, item_id: int, reviewer: str, *, live_at: float | None) -> bool:
    """Drop ``reviewer``'s claim on the open item (with ``live_at``: only a claim still live
    then); False when they hold none."""
    conditions = [
        review_items.c.id == item_id,
        review_items.c.status == OPEN,
        review_items.c.claimed_by == reviewer,
    ]
    if live_at is not None:
        conditions.append(review_items.c.claim_expires_at > live_at)
    released = conn.execute(
        review_items.update()
        .where(*conditions)
        .values(claimed_by=None, claimed_at=None, claim_expires_at=None)
    )
    return released.rowcount == 1


def close(conn: Connection, item_id: int, label: Any, time: float) -> None:
    conn.execute(
        review_items.update()
        .where(review_items.c.id == item_id)
        .values(status=CLOSED, label=label, closed_at=time)
    )


def need_reviews(conn: Connection, item_id: int, count: int) -> None:
    conn.execute(
        review_items.update().where(review_items.c.id == item_id).values(reviews_needed=count)
    )


# -- decisions ------------------------------------------------------------------------------


def add_decision(
    conn: Connection,
    item_id: int,
    *,
    reviewer: str,
    action: str,
    label: Any,
    note: str | None,
    claimed_at: float | None,
    time: float,
) -> None:
    conn.execute(
        review_decisions.insert().values(
            item_id=item_id,
            reviewer=reviewer,
            action=action,
            label=label,
            note=note,
            claimed_at=claimed_at,
            decided_at=time,
        )
    )


def decisions(conn: Connection, item_id: int) -> list[ReviewDecision]:
    rows = conn.execute(
        select(review_decisions)
        .where(review_decisions.c.item_id == item_id)
        .order_by(review_decisions.c.id)
    ).mappings()
    return [_decision(row) for row in rows]


def has_seen(conn: Connection, item_id: int, reviewer: str) -> str | None:
    """What ``reviewer`` did with the item already (decided, skipped), or None."""
    return conn.execute(
        select(review_decisions.c.action)
        .where(review_decisions.c.item_id == item_id, review_decisions.c.reviewer == reviewer)
        .limit(1)
    ).scalar()


# -- figures for stats ----------------------------------------------------------------------


def open_summary(conn: Connection, endpoint_id: int) -> tuple[int, float | None]:
    """How many items are open and when the oldest of them was routed."""
    count, oldest = conn.execute(
        select(func.count(), func.min(review_items.c.created_at)).where(
            review_items.c.endpoint_id == endpoint_id, review_items.c.status == OPEN
        )
    ).one()
    return int(count), oldest


def reasons_since(conn: Connection, endpoint_id: int, since: float) -> dict[str, int]:
    rows = conn.execute(
        select(review_items.c.reason, func.count())
        .where(review_items.c.endpoint_id == endpoint_id, review_items.c.created_at >= since)
        .group_by(review_items.c.reason)
    ).all()
    return {reason: int(count) for reason, count in rows}


def closed_since(conn: Connection, endpoint_id: int, since: float) -> list[RowMapping]:
    """Items closed since then: request_id, prediction, label, created_at, closed_at."""
    return list(
        conn.execute(
            select(
                review_items.c.request_id,
                review_items.c.prediction,
                review_items.c.label,
                review_items.c.created_at,
                review_items.c.closed_at,
            ).where(
                review_items.c.endpoint_id == endpoint_id,
                review_items.c.status == CLOSED,
                review_items.c.closed_at >= since,
            )
        ).mappings()
    )


def closed_request_ids(conn: Connection, endpoint_id: int, ids: Sequence[str]) -> set[str]:
    """Those of ``ids`` whose item review closed with a label."""
    found: set[str] = set()
    for start in range(0, len(ids), _IN_LIST):
        chunk = list(ids[start : start + _IN_LIST])
        rows = conn.execute(
            select(review_items.c.request_id, review_items.c.label).where(
                review_items.c.endpoint_id == endpoint_id,
                review_items.c.status == CLOSED,
                review_items.c.request_id.in_(chunk),
            )
        ).all()
        found.update(request_id for request_id, label in rows if label is not None)
    return found


def decisions_since(conn: Connection, endpoint_id: int, since: float) -> list[RowMapping]:
    """Decisions made since then: reviewer, action, claimed_at, decided_at."""
    return list(
        conn.execute(
            select(
                review_decisions.c.reviewer,
                review_decisions.c.action,
                review_decisions.c.claimed_at,
                review_decisions.c.decided_at,
            )
            .join(review_items, review_items.c.id == review_decisions.c.item_id)
            .where(
                review_items.c.endpoint_id == endpoint_id,
                review_decisions.c.decided_at >= since,
            )
        ).mappings()
    )


def double_review_votes(conn: Connection, endpoint_id: int, since: float) -> list[list[Any]]:
    """For each double-review item routed since then, its decided labels in order."""
    rows = conn.execute(
        select(review_decisions.c.item_id, review_decisions.c.label)
        .join(review_items, review_items.c.id == review_decisions.c.item_id)
        .where(
            review_items.c.endpoint_id == endpoint_id,
            review_items.c.created_at >= since,
            review_items.c.reviews_needed >= 2,
            review_decisions.c.action == DECIDED,
        )
        .order_by(review_decisions.c.item_id, review_decisions.c.id)
    ).all()
    votes: dict[int, list[Any]] = {}
    for item_id, label in rows:
        votes.setdefault(item_id, []).append(label)
    return list(votes.values())


# -- rows to entities -----------------------------------------------------------------------


def _policy(row: RowMapping) -> ReviewPolicy:
    return ReviewPolicy(
        endpoint=row["endpoint"],
        config=ReviewConfig.model_validate(row["config"]),
        source=row["source"],
        routed_until=at_or_none(row["routed_until"]),
        created_at=at(row["created_at"]),
        updated_at=at(row["updated_at"]),
        updated_by=row["updated_by"],
    )


def _item(row: RowMapping) -> ReviewItem:
    return ReviewItem(
        id=row["id"],
        endpoint=row["endpoint"],
        request_id=row["request_id"],
        reason=row["reason"],
        priority=row["priority"],
        status=row["status"],
        reviews_needed=row["reviews_needed"],
        model=row["model"],
        version=row["version"],
        prediction=row["prediction"],
        score=row["score"],
        inputs=row["inputs"],
        predicted_at=at(row["predicted_at"]),
        created_at=at(row["created_at"]),
        claimed_by=row["claimed_by"],
        claimed_at=at_or_none(row["claimed_at"]),
        claim_expires_at=at_or_none(row["claim_expires_at"]),
        label=row["label"],
        closed_at=at_or_none(row["closed_at"]),
    )


def _decision(row: RowMapping) -> ReviewDecision:
    return ReviewDecision(
        id=row["id"],
        item_id=row["item_id"],
        reviewer=row["reviewer"],
        action=row["action"],
        label=row["label"],
        note=row["note"],
        claimed_at=at_or_none(row["claimed_at"]),
        decided_at=at(row["decided_at"]),
    )
