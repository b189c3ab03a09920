"""Alembic environment: runs on the connection opsloop hands it (see store/database.py)."""

from alembic import context

from opsloop.store.tables import metadata

connection = context.config.attributes.get("connection")
if connection is None:  # pragma: no cover - only when someone runs the alembic CLI by hand
    raise SystemExit("run migrations through opsloop (opsloop.store.database.Database.migrate)")

context.configure(connection=connection, target_metadata=metadata, render_as_batch=True)
with context.begin_transaction():
    context.run_migrations()
