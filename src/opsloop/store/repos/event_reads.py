"""Reading the audit log in bulk: every event of some kinds in a period, in one query, as
light rows (the report reads thousands; an ``Event`` entity each would cost more than the
query)."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any, NamedTuple

import orjson
from sqlalchemy import Connection, Text, cast, select, union_all

from opsloop.store.tables import events


class Happened(NamedTuple):
    """One event as stored: epoch-second time, actor kind as text. A tuple: the report
    makes thousands of them per read."""

    id: int
    time: float
    project: str | None
    kind: str
    subject: str
    actor: str
    actor_kind: str
    data: dict[str, Any]


_COLUMNS = (
    events.c.id,
    events.c.time,
    events.c.project,
    events.c.kind,
    events.c.subject,
    events.c.actor,
    events.c.actor_kind,
    # As text, decoded here by orjson: the JSON type's own decoding took most of a read.
    cast(events.c.data, Text).label("data"),
)


def in_period(
    conn: Connection,
    *,
    since: float,
    until: float,
    kinds: Sequence[str],
    project: str | None = None,
    projectless: Sequence[str] = (),
) -> list[Happened]:
    """The events of ``kinds`` in ``[since, until)``, oldest first: of ``project`` (every
    project when None), plus those of ``projectless`` kinds recorded without a project (a
    pipeline defined without one). One statement; each half runs off an index."""

    def part(kind_list: Sequence[str]) -> Any:
        return select(*_COLUMNS).where(
            events.c.kind.in_(list(kind_list)), events.c.time >= since, events.c.time < until
        )

    if project is None:
        statement = part(kinds)
    else:
        own = part(kinds).where(events.c.project == project)
        statement = own
        if projectless:
            loose = part(projectless).where(events.c.project.is_(None))
            statement = union_all(own, loose)
    ordered = statement.subquery()
    rows = conn.execute(select(ordered).order_by(ordered.c.time, ordered.c.id)).all()
    loads, make = orjson.loads, Happened._make
    return [make((*row[:7], loads(row[7]) if row[7] else {})) for row in rows]
