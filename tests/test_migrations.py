"""Alembic migrations build exactly the schema in ``store/tables.py``, on SQLite and PostgreSQL."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
import sqlalchemy as sa
from alembic.autogenerate import compare_metadata
from alembic.config import Config
from alembic.runtime.migration import MigrationContext
from alembic.script import ScriptDirectory

from opsloop.store.database import MIGRATIONS, SCHEMA_REVISION, Database
from opsloop.store.tables import experiments, metadata, projects


def script_directory() -> ScriptDirectory:
    config = Config()
    config.set_main_option("script_location", str(MIGRATIONS))
    return ScriptDirectory.from_config(config)


def test_the_code_expects_the_newest_migration() -> None:
    scripts = script_directory()
    assert scripts.get_heads() == [SCHEMA_REVISION]  # one head, and it is the one the code wants


def test_every_migration_but_the_first_has_a_parent() -> None:
    revisions = list(script_directory().walk_revisions())
    assert [r.down_revision for r in revisions].count(None) == 1


@pytest.fixture
def migrated(database_url: str) -> Iterator[Database]:
    db = Database(database_url)
    db.migrate()
    yield db
    db.dispose()


def test_a_migrated_database_matches_the_tables_exactly(migrated: Database) -> None:
    with migrated.engine.connect() as connection:
        context = MigrationContext.configure(
            connection, opts={"compare_type": True, "compare_server_default": True}
        )
        diffs = compare_metadata(context, metadata)
    assert diffs == []


def test_a_migrated_database_records_the_current_revision(migrated: Database) -> None:
    assert migrated.revision() == SCHEMA_REVISION
    with migrated.engine.connect() as connection:
        stored = connection.execute(sa.text("SELECT version_num FROM alembic_version")).all()
    assert [row[0] for row in stored] == [SCHEMA_REVISION]


def test_migrating_again_changes_nothing_and_keeps_data(
    migrated: Database, database_url: str
) -> None:
    with migrated.begin() as connection:
        connection.execute(projects.insert().values(name="kept", description="", created_at=1.0))
    migrated.migrate()
    again = Database(database_url)
    try:
        again.migrate()
        assert again.revision() == SCHEMA_REVISION
        with again.read() as connection:
            names = connection.execute(sa.select(projects.c.name)).scalars().all()
        assert names == ["kept"]
    finally:
        again.dispose()


def test_an_empty_database_has_no_revision(database_url: str) -> None:
    db = Database(database_url)
    try:
        assert db.revision() is None
    finally:
        db.dispose()


@pytest.fixture
def sqlite_db(tmp_path: Path) -> Iterator[Database]:
    db = Database(f"sqlite:///{tmp_path / 'nested' / 'opsloop.db'}")
    db.migrate()
    yield db
    db.dispose()


@pytest.mark.parametrize(
    ("pragma", "expected"),
    [("journal_mode", "wal"), ("foreign_keys", 1), ("busy_timeout", 30000)],
)
def test_sqlite_connections_are_tuned(sqlite_db: Database, pragma: str, expected: object) -> None:
    with sqlite_db.read() as connection:
        assert connection.execute(sa.text(f"PRAGMA {pragma}")).scalar() == expected


def test_sqlite_enforces_foreign_keys(sqlite_db: Database) -> None:
    with pytest.raises(sa.exc.IntegrityError), sqlite_db.begin() as connection:
        connection.execute(
            experiments.insert().values(project_id=12345, name="orphan", created_at=1.0)
        )
