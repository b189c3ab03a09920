"""API tokens: the hash of each secret, never the secret."""

from __future__ import annotations

from typing import Any

from sqlalchemy import Connection, RowMapping, select

from opsloop.domain.auth import Role, Token
from opsloop.domain.errors import NotFound
from opsloop.store.repos._time import at, at_or_none
from opsloop.store.tables import tokens


def insert(conn: Connection, **values: Any) -> None:
    conn.execute(tokens.insert().values(**values))


def find(conn: Connection, token_id: str) -> tuple[Token, str] | None:
    """The token and its secret's hash."""
    row = conn.execute(select(tokens).where(tokens.c.id == token_id)).mappings().first()
    return None if row is None else (_token(row), row["secret_hash"])


def list_all(conn: Connection, include_revoked: bool = False) -> list[Token]:
    query = select(tokens).order_by(tokens.c.created_at)
    if not include_revoked:
        query = query.where(tokens.c.revoked_at.is_(None))
    return [_token(row) for row in conn.execute(query).mappings()]


def revoke(conn: Connection, token_id: str, time: float) -> Token:
    found = find(conn, token_id)
    if found is None:
        raise NotFound(f"token {token_id!r} not found", field="token")
    conn.execute(tokens.update().where(tokens.c.id == token_id).values(revoked_at=time))
    return found[0].model_copy(update={"revoked_at": at(time)})


def touch(conn: Connection, token_id: str, time: float) -> None:
    conn.execute(tokens.update().where(tokens.c.id == token_id).values(last_used_at=time))


def _token(row: RowMapping) -> Token:
    return Token(
        id=row["id"],
        name=row["name"],
        role=Role(row["role"]),
        endpoint=row["endpoint"],
        created_at=at(row["created_at"]),
        created_by=row["created_by"],
        expires_at=at_or_none(row["expires_at"]),
        revoked_at=at_or_none(row["revoked_at"]),
        last_used_at=at_or_none(row["last_used_at"]),
    )
