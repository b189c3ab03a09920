"""Ids a person may shorten: a full id, or a unique prefix of at least 6 characters (as
``git`` does). One rule for tracking runs and pipeline runs alike."""

from __future__ import annotations

from sqlalchemy import Column, Connection, String, bindparam, select

from opsloop.domain.errors import InvalidInput, NotFound

MIN_PREFIX = 6


def resolve_prefix(conn: Connection, column: Column[str], given: str, noun: str) -> str:
    """The full id ``given`` names in ``column``; ``noun`` says what it is in errors."""
    if not isinstance(given, str) or not given:
        raise InvalidInput("run id must be a non-empty string", field="run_id")
    if conn.execute(select(column).where(column == given)).first():
        return given
    if len(given) >= MIN_PREFIX and given.isalnum():
        prefix = bindparam("prefix", given, type_=String)
        found = conn.execute(select(column).where(column.startswith(prefix)).limit(2)).all()
        if len(found) == 1:
            return str(found[0][0])
        if len(found) > 1:
            raise InvalidInput(f"run id prefix {given!r} is ambiguous", field="run_id")
    raise NotFound(f"{noun} {given!r} not found", field="run_id")
