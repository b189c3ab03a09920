"""The append-only audit log. Rows are only ever inserted, never updated or deleted."""

from __future__ import annotations

from typing import Any

from sqlalchemy import Connection, func, select

from opsloop.domain.entities import ActorKind, Event
from opsloop.store.repos._time import at, now
from opsloop.store.tables import events

_INSERT = events.insert()


def _row(
    *,
    kind: str,
    subject: str,
    project: str | None,
    actor: str,
    actor_kind: ActorKind,
    data: dict[str, Any] | None = None,
    time: float | None = None,
) -> dict[str, Any]:
    return {
        "time": now() if time is None else time,
        "project": project,
        "kind": kind,
        "subject": subject,
        "actor": actor,
        "actor_kind": actor_kind.value,
        "data": data or {},
    }


def append(conn: Connection, **event: Any) -> int:
    """One event (keywords as ``_row``); returns its id."""
    result = conn.execute(_INSERT, _row(**event))
    return int(result.inserted_primary_key[0])  # type: ignore[index]


def append_many(conn: Connection, events: list[dict[str, Any]]) -> None:
    """Several events in one statement; each has the keywords of ``append``."""
    conn.execute(_INSERT, [_row(**event) for event in events])


def query(
    conn: Connection,
    *,
    project: str | None = None,
    subject: str | None = None,
    kind: str | None = None,
    kind_prefix: str | None = None,
    since: float | None = None,
    until: float | None = None,
    after_id: int | None = None,
    limit: int = 1000,
    newest_first: bool = False,
) -> list[Event]:
    statement = select(events)
    if project is not None:
        statement = statement.where(events.c.project == project)
    if subject is not None:
        statement = statement.where(events.c.subject == subject)
    if kind is not None:
        statement = statement.where(events.c.kind == kind)
    if kind_prefix is not None:
        statement = statement.where(events.c.kind.startswith(kind_prefix))
    if since is not None:
        statement = statement.where(events.c.time >= since)
    if until is not None:
        statement = statement.where(events.c.time < until)
    if after_id is not None:
        statement = statement.where(events.c.id > after_id)
    order = events.c.id.desc() if newest_first else events.c.id
    rows = conn.execute(statement.order_by(order).limit(limit))
    return [
        Event(
            id=row.id,
            time=at(row.time),
            project=row.project,
            kind=row.kind,
            subject=row.subject,
            actor=row.actor,
            actor_kind=ActorKind(row.actor_kind),
            data=row.data,
        )
        for row in rows
    ]


def newer(conn: Connection, *, subject: str, kind: str, after_id: int) -> tuple[int, float] | None:
    """The newest id and the oldest time of the ``kind`` events about ``subject`` after
    ``after_id``; None when there are none."""
    row = conn.execute(
        select(func.max(events.c.id), func.min(events.c.time)).where(
            events.c.subject == subject, events.c.kind == kind, events.c.id > after_id
        )
    ).one()
    return None if row[0] is None else (int(row[0]), float(row[1]))


def data_since(conn: Connection, *, subject: str, kind: str, since: float) -> list[Any]:
    """The data of every ``kind`` event about ``subject`` at or after ``since`` (no limit:
    for sums over a period)."""
    return list(
        conn.execute(
            select(events.c.data).where(
                events.c.subject == subject, events.c.kind == kind, events.c.time >= since
            )
        ).scalars()
    )
