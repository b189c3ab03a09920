"""Leases: one holder at a time for work that must not run twice when replicas share a store.

A lease is a row; taking it is one conditional update that succeeds only for its holder or
once it has expired, so two processes can never both believe they hold it. A holder that dies
simply stops renewing, and the lease passes on when it expires.
"""

from __future__ import annotations

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
            conn.execute(leases.insert().values(name=name, holder=holder, expires_at=now + ttl_s))
    except IntegrityError:
        return False  # another process created it first: it holds the lease
    return True


def release(conn: Connection, name: str, holder: str) -> None:
    """Give ``name`` up at once (if ``holder`` holds it), so another may take it now."""
    conn.execute(
        leases.update()
        .where(leases.c.name == name, leases.c.holder == holder)
        .values(expires_at=0.0)
    )


def holder_of(conn: Connection, name: str, now: float) -> str | None:
    row = conn.execute(
        select(leases.c.holder, leases.c.expires_at).where(leases.c.name == name)
    ).first()
    return None if row is None or row.expires_at < now else str(row.holder)
