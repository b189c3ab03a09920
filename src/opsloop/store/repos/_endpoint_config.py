"""An endpoint's one configuration row (its monitor, its review policy): set from YAML,
replaced in place so that the progress kept beside it stays."""

from __future__ import annotations

from pydantic import BaseModel
from sqlalchemy import Connection, Table


def save(
    conn: Connection,
    table: Table,
    endpoint_id: int,
    config: BaseModel,
    source: str,
    time: float,
    actor: str,
) -> bool:
    """Set the row; True when the endpoint had none (its progress columns start empty)."""
    values = {
        "config": config.model_dump(mode="json"),
        "source": source,
        "updated_at": time,
        "updated_by": actor,
    }
    changed = conn.execute(
        table.update().where(table.c.endpoint_id == endpoint_id).values(**values)
    )
    if changed.rowcount == 1:
        return False
    conn.execute(table.insert().values(endpoint_id=endpoint_id, created_at=time, **values))
    return True
