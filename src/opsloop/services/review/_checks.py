"""What the queue checks of a caller's input and claim, and how it says what is wrong."""

from __future__ import annotations

import math
from typing import TYPE_CHECKING, Any

from opsloop.domain.errors import InvalidInput
from opsloop.domain.review import Label, ReviewItem, label_key
from opsloop.store.repos import review as repo

MAX_LABEL_TEXT = 1_000

if TYPE_CHECKING:
    from sqlalchemy import Connection


def item_id_of(value: Any) -> int:
    if isinstance(value, bool) or not isinstance(value, int) or not 0 < value < 2**63:
        raise InvalidInput("item must be a positive whole number", field="item")
    return value


def as_choice(label: Any, choices: list[Label] | None) -> Label:
    """``label`` as one of ``choices`` (compared as text, so the CLI's ``1`` is class 1);
    without choices, any one label."""
    if (
        label is None
        or not isinstance(label, bool | int | float | str)
        or (isinstance(label, float) and not math.isfinite(label))
        or (isinstance(label, int) and not -(2**63) <= label < 2**63)
        or (isinstance(label, str) and not 0 < len(label) <= MAX_LABEL_TEXT)
    ):
        raise InvalidInput(
            f"label must be a number, true/false or text of 1 to {MAX_LABEL_TEXT} characters",
            field="label",
        )
    if choices is None:
        return label
    for choice in choices:
        if label_key(choice) == label_key(label):
            return choice
    shown = ", ".join(map(str, choices))
    raise InvalidInput(f"label {label!r} is not one of the choices: {shown}", field="label")


def why_not_held(conn: Connection, item: ReviewItem, reviewer: str, now: float) -> str:
    """Why ``reviewer`` may not decide the item now."""
    if item.status == repo.CLOSED:
        return f"review item {item.id} is already closed"
    seen = repo.has_seen(conn, item.id, reviewer)
    if seen is not None:
        return f"you have already {seen} review item {item.id}"
    expires = None if item.claim_expires_at is None else item.claim_expires_at.timestamp()
    if item.claimed_by == reviewer and expires is not None and expires <= now:
        return f"your claim on review item {item.id} lapsed; claim it again"
    if item.claimed_by is not None and expires is not None and expires > now:
        return f"review item {item.id} is claimed by {item.claimed_by}"
    return f"claim review item {item.id} before deciding it"
