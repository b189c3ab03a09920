"""The metadata database: engine by URL, SQLite tuned for a single writer, schema migrated.

``Database(url)`` is cheap to make; ``migrate()`` brings the schema to the current revision
with Alembic, and is a no-op (one query, no Alembic import) when it is already there.
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any, TypeVar

from sqlalchemy import Connection, Engine, create_engine, event, text
from sqlalchemy.exc import IntegrityError as SQLIntegrityError
from sqlalchemy.exc import OperationalError, ProgrammingError
from sqlalchemy.pool import StaticPool

from opsloop.domain.errors import Conflict, InvalidInput

SCHEMA_REVISION = "0005"
T = TypeVar("T")
ANALYZE_FROM_RUNS = 1000
CHECKPOINT_EVERY_S = 0.5
AUTOCHECKPOINT_PAGES = 4_000  # ~16 MB: bounds the log when writes leave no idle gap
ANALYSIS_LIMIT = 2000
MIGRATIONS = Path(__file__).parent / "migrations"


def normalize_url(url: str) -> str:
    """Pick the driver we ship for each scheme (psycopg 3 for PostgreSQL)."""
    if url.startswith("postgres://"):
        url = "postgresql://" + url.removeprefix("postgres://")
    if url.startswith("postgresql://"):
        url = "postgresql+psycopg://" + url.removeprefix("postgresql://")
    if not (url.startswith("sqlite") or url.startswith("postgresql")):
        raise InvalidInput(
            f"database URL {url.split(':', 1)[0]}:// is not supported "
            "(use sqlite:///path or postgresql://...)",
            field="database_url",
        )
    return url


class Database:
    def __init__(self, url: str) -> None:
        self.url = normalize_url(url)
        self.is_sqlite = self.url.startswith("sqlite")
        options: dict[str, Any] = {}
        self._file_backed = False
        if self.is_sqlite:
            path = self.url.split("///", 1)[-1] if "///" in self.url else ""
            self._file_backed = bool(path) and path != ":memory:"
            if self._file_backed:
                Path(path).parent.mkdir(parents=True, exist_ok=True)
            else:  # one shared connection, or each thread would see its own empty database
                options["poolclass"] = StaticPool
            options["connect_args"] = {"check_same_thread": False, "timeout": 30}
        else:
            options["pool_pre_ping"] = True
        self.engine: Engine = create_engine(self.url, **options)
        self._checkpointer: Checkpointer | None = None
        self._checkpointer_lock = threading.Lock()
        if self.is_sqlite:
            event.listen(self.engine, "connect", _tune_sqlite)
            event.listen(self.engine, "begin", _begin_sqlite)

    @contextmanager
    def begin(self) -> Iterator[Connection]:
        """One write transaction: committed when the block ends, rolled back if it raises.

        On SQLite it takes the write lock at once (``BEGIN IMMEDIATE``): SQLite allows one
        writer anyway, and taking the lock up front means a read-then-write (the next
        version number) can never interleave with another writer's.
        """
        if self._file_backed and self._checkpointer is None:
            self._start_checkpointer()
        with self.engine.connect() as connection:
            connection.execution_options(opsloop_write=True)
            with connection.begin():
                yield connection

    def _start_checkpointer(self) -> None:
        # Started by the first write: a process that only reads has nothing to copy back.
        with self._checkpointer_lock:
            if self._checkpointer is None:
                self._checkpointer = Checkpointer(self.engine)

    @contextmanager
    def read(self) -> Iterator[Connection]:
        with self.engine.connect() as connection:
            yield connection

    def revision(self) -> str | None:
        try:
            with self.engine.connect() as connection:
                row = connection.execute(text("SELECT version_num FROM alembic_version")).first()
        except (OperationalError, ProgrammingError):
            return None
        return row[0] if row else None

    def refresh_statistics(self) -> None:
        """Give SQLite's query planner statistics (PostgreSQL's autovacuum keeps its own).

        Without them a search starts from the project's runs instead of the few rows a
        filter matches. Taken once the store has ``ANALYZE_FROM_RUNS`` runs, and again when
        it has doubled since, so opening a store usually costs one read; bounded by
        ``analysis_limit``. Skipped while the store is small, where statistics would mislead
        the planner later.
        """
        if not self.is_sqlite:
            return
        with self.read() as connection:
            size = connection.exec_driver_sql("SELECT max(rowid) FROM runs").scalar() or 0
            if size < ANALYZE_FROM_RUNS or size < 2 * _analyzed_rows(connection, "runs"):
                return
        with self.begin() as connection:
            connection.exec_driver_sql(f"PRAGMA analysis_limit={ANALYSIS_LIMIT}")
            connection.exec_driver_sql("ANALYZE")

    def migrate(self) -> None:
        if self.revision() == SCHEMA_REVISION:
            return
        from alembic import command
        from alembic.config import Config

        config = Config()
        config.set_main_option("script_location", str(MIGRATIONS))
        with self.begin() as connection:
            config.attributes["connection"] = connection
            command.upgrade(config, "head")

    def dispose(self) -> None:
        if self._checkpointer is not None:
            self._checkpointer.stop()
        self.engine.dispose()


def _analyzed_rows(connection: Connection, table: str) -> int:
    """The row count ``table`` had at the last ANALYZE (0 if never analyzed)."""
    try:
        stat = connection.exec_driver_sql(
            "SELECT stat FROM sqlite_stat1 WHERE tbl = ? LIMIT 1", (table,)
        ).scalar()
    except OperationalError:  # no sqlite_stat1 yet: never analyzed
        return 0
    return int(str(stat).split()[0]) if stat else 0


def retry_races(action: Callable[[], T], what: str, attempts: int = 5) -> T:
    """Run a write whose get-or-create steps can race another writer's.

    Under PostgreSQL's READ COMMITTED two writers may both find no project (or model) and
    both insert it; the loser gets a unique-constraint error, which only means "someone
    created it first", so the write is run again and finds it.
    """
    for attempt in range(attempts):
        try:
            return action()
        except SQLIntegrityError:
            if attempt == attempts - 1:
                raise Conflict(f"{what}: too many concurrent writers, try again") from None
    raise AssertionError("unreachable")  # pragma: no cover


def _begin_sqlite(connection: Connection) -> None:
    # pysqlite's own transaction handling is off (see _tune_sqlite); we say BEGIN ourselves.
    if connection.get_execution_options().get("opsloop_write"):
        connection.exec_driver_sql("BEGIN IMMEDIATE")
    else:
        connection.exec_driver_sql("BEGIN")


class Checkpointer:
    """Copies SQLite's write-ahead log back into the database file from a background thread.

    Left to itself SQLite does this inside whichever commit crosses ``wal_autocheckpoint``
    pages, and that commit then waits for an fsync (about 30 ms here, once every 50 or so
    tracked runs). A passive checkpoint every ``CHECKPOINT_EVERY_S`` keeps that off the
    write path; the raised auto-checkpoint stays as a backstop.
    """

    def __init__(self, engine: Engine) -> None:
        self._engine = engine
        self._stopped = threading.Event()
        self._thread = threading.Thread(target=self._run, name="opsloop-checkpoint", daemon=True)
        self._thread.start()

    def _run(self) -> None:
        while not self._stopped.wait(CHECKPOINT_EVERY_S):
            try:
                # Outside any transaction: a checkpoint cannot pass its own reader's snapshot.
                connection = self._engine.raw_connection()
                try:
                    connection.driver_connection.execute(  # type: ignore[union-attr]
                        "PRAGMA wal_checkpoint(PASSIVE)"
                    )
                finally:
                    connection.close()
            except Exception:
                continue

    def stop(self) -> None:
        self._stopped.set()
        self._thread.join(timeout=5)


def _tune_sqlite(dbapi_connection: Any, _record: Any) -> None:
    dbapi_connection.isolation_level = None
    cursor = dbapi_connection.cursor()
    cursor.execute("PRAGMA journal_mode=WAL")
    cursor.execute("PRAGMA synchronous=NORMAL")
    cursor.execute("PRAGMA foreign_keys=ON")
    cursor.execute("PRAGMA busy_timeout=30000")
    cursor.execute(f"PRAGMA wal_autocheckpoint={AUTOCHECKPOINT_PAGES}")
    cursor.close()
