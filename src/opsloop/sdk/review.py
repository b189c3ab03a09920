"""The review queue through the API: its policy, claims and decisions, its figures."""

from __future__ import annotations

from datetime import datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any

import orjson

from opsloop.domain.review import ReviewClaim, ReviewItem, ReviewPolicy, ReviewStats, RoutingPass
from opsloop.sdk._files import text_or_file

if TYPE_CHECKING:
    from opsloop.sdk.client import Client


def set_review_policy(client: Client, endpoint: str, config: str | Path) -> ReviewPolicy:
    """Set (or replace) ``endpoint``'s review policy: YAML text, or a path to a YAML file."""
    body = {"config": text_or_file(config)}
    found = client._json("PUT", f"/endpoints/{endpoint}/review/policy", json=body)
    return ReviewPolicy.model_validate(found)


def get_review_policy(client: Client, endpoint: str) -> ReviewPolicy:
    return ReviewPolicy.model_validate(client._json("GET", f"/endpoints/{endpoint}/review/policy"))


def route_reviews(client: Client, endpoint: str) -> RoutingPass:
    """Route the predictions logged since the last pass now."""
    return RoutingPass.model_validate(client._json("POST", f"/endpoints/{endpoint}/review/route"))


def review_items(
    client: Client, endpoint: str, *, status: str | None = None, limit: int = 100
) -> list[ReviewItem]:
    """Open items in queue order, or every (or closed) item newest first."""
    params: dict[str, Any] = {"limit": limit}
    if status is not None:
        params["status"] = status
    found = client._json("GET", f"/endpoints/{endpoint}/review/items", params=params)
    return [ReviewItem.model_validate(item) for item in found]


def review_item(client: Client, endpoint: str, item_id: int) -> ReviewItem:
    """One item with its decisions and the labels a reviewer may give."""
    found = client._json("GET", f"/endpoints/{endpoint}/review/items/{item_id}")
    return ReviewItem.model_validate(found)


def claim_review(client: Client, endpoint: str) -> ReviewClaim | None:
    """The next item for this client's actor, claimed (or the one they hold); None when
    nothing is left."""
    body = client.request("POST", f"/endpoints/{endpoint}/review/claim")
    return ReviewClaim.model_validate(orjson.loads(body)) if body else None


def decide_review(
    client: Client, endpoint: str, item_id: int, label: Any, note: str | None = None
) -> ReviewItem:
    """Label a claimed item; once closed its label is Feedback (source reviewer)."""
    body: dict[str, Any] = {"label": label}
    if note is not None:
        body["note"] = note
    found = client._json(
        "POST", f"/endpoints/{endpoint}/review/items/{item_id}/decision", json=body
    )
    return ReviewItem.model_validate(found)


def skip_review(client: Client, endpoint: str, item_id: int) -> ReviewItem:
    """Pass on an item; it is not offered to this actor again."""
    found = client._json("POST", f"/endpoints/{endpoint}/review/items/{item_id}/skip")
    return ReviewItem.model_validate(found)


def review_stats(client: Client, endpoint: str, *, since: datetime | None = None) -> ReviewStats:
    """Backlog, waiting and handling times, agreement, errors caught by review."""
    params = {} if since is None else {"since": since.isoformat()}
    found = client._json("GET", f"/endpoints/{endpoint}/review/stats", params=params)
    return ReviewStats.model_validate(found)
