"""Leases: one holder at a time for work that must not run twice when processes share a store
(the scheduler's pass, a pipeline run in progress).

A lease is a row: a name, its holder, when it expires. ``acquire`` takes or renews one with a
conditional update that succeeds only for its holder or once it has expired, so two processes
can never both believe they hold it. A holder that dies simply stops renewing, and the lease
passes on (or is seen as lapsed) when it expires.
"""

from __future__ import annotations

from collections.abc import Iterable

from sqlalchemy import Connection, or_, select
from sqlalchemy.exc import IntegrityError

from opsloop.store.tables import leases


def acquire(conn: Connection, name: str, holder: str, now: float, ttl_s: float) -> bool:
    """Take or renew ``name`` for ``holder`` until ``now + ttl_s``; False if another holds it."""
    taken = conn.execute(
        leases.update()
        .where(leases.c.name == name)
        .where(or_(leases.c.holder == holder, leases.c.expires_at < now))
        .values(holder=holder, expires_at=now + ttl_s)
    )
    if taken.rowcount == 1:
        return True
    if conn.execute(select(leases.c.name).where(leases.c.name == name)).first() is not None:
        return False  # held by someone else, not expired
    try:
        with conn.begin_nested():  # the first holder ever: create the row
            take(conn, name, holder, now + ttl_s)
    except IntegrityError:
        return False  # another process created it first: it holds the lease
    return True


def take(conn: Connection, name: str, holder: str, expires_at: float) -> None:
    """A lease on a name nobody held before (a new run's); a taken name is an IntegrityError."""
    conn.execute(leases.insert().values(name=name, holder=holder, expires_at=expires_at))


def renew(conn: Connection, holder: str, names: list[str], expires_at: float) -> None:
    """Move the expiry of those of ``names`` that ``holder`` holds."""
    conn.execute(
        leases.update()
        .where(leases.c.holder == holder, leases.c.name.in_(names))
        .values(expires_at=expires_at)
    )


def release(conn: Connection, name: str, holder: str | None = None) -> None:
    """Give ``name`` up at once (only if ``holder`` holds it, when given)."""
    statement = leases.delete().where(leases.c.name == name)
    if holder is not None:
        statement = statement.where(leases.c.holder == holder)
    conn.execute(statement)


def held(conn: Connection, names: Iterable[str]) -> dict[str, tuple[str, float]]:
    """Holder and expiry of each lease that exists among ``names``."""
    wanted = list(names)
    if not wanted:
        return {}
    rows = conn.execute(
        select(leases.c.name, leases.c.holder, leases.c.expires_at).where(leases.c.name.in_(wanted))
    )
    return {name: (holder, expires_at) for name, holder, expires_at in rows}
