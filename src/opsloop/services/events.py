"""Reading the audit log. Writing happens inside each service's own transaction."""

from __future__ import annotations

from datetime import datetime

from opsloop.domain.entities import Event
from opsloop.domain.errors import InvalidInput
from opsloop.store.database import Database
from opsloop.store.repos import events
from opsloop.store.repos._time import epoch_of

MAX_PAGE = 10_000


class EventService:
    def __init__(self, db: Database) -> None:
        self.db = db

    def query(
        self,
        *,
        project: str | None = None,
        subject: str | None = None,
        kind: str | None = None,
        since: datetime | None = None,
        until: datetime | None = None,
        after_id: int | None = None,
        limit: int = 1000,
    ) -> list[Event]:
        if not 1 <= limit <= MAX_PAGE:
            raise InvalidInput(f"limit must be between 1 and {MAX_PAGE}", field="limit")
        with self.db.read() as conn:
            return events.query(
                conn,
                project=project,
                subject=subject,
                kind=kind,
                since=None if since is None else epoch_of(since),
                until=None if until is None else epoch_of(until),
                after_id=after_id,
                limit=limit,
            )
