"""SQLite planner statistics: taken once a store is large, retaken when it has doubled."""

from __future__ import annotations

from pathlib import Path

from opsloop.store.database import ANALYZE_FROM_RUNS, Database


def add_runs(db: Database, count: int, start: int = 0) -> None:
    with db.begin() as conn:
        conn.exec_driver_sql(
            "INSERT OR IGNORE INTO projects (id, name, description, created_at)"
            " VALUES (1, 'p', '', 0)"
        )
        conn.exec_driver_sql(
            "INSERT OR IGNORE INTO experiments (id, project_id, name, created_at)"
            " VALUES (1, 1, 'default', 0)"
        )
        conn.exec_driver_sql(
            "INSERT INTO runs (id, project_id, experiment_id, name, status, user, start_time)"
            " VALUES (?, 1, 1, 'r', 'FINISHED', 'u', 0)",
            [(f"{i:032x}",) for i in range(start, start + count)],
        )


def analyzed_rows(db: Database) -> int | None:
    with db.read() as conn:
        found = conn.exec_driver_sql(
            "SELECT name FROM sqlite_master WHERE name = 'sqlite_stat1'"
        ).scalar()
        if found is None:
            return None
        stat = conn.exec_driver_sql("SELECT stat FROM sqlite_stat1 WHERE tbl = 'runs'").scalar()
        return int(stat.split()[0]) if stat else None


def test_statistics_come_at_the_threshold_and_again_after_doubling(tmp_path: Path) -> None:
    db = Database(f"sqlite:///{tmp_path / 'store.db'}")
    db.migrate()
    add_runs(db, ANALYZE_FROM_RUNS - 1)
    db.refresh_statistics()
    assert analyzed_rows(db) is None  # a small store keeps none
    add_runs(db, 1, start=ANALYZE_FROM_RUNS - 1)
    db.refresh_statistics()
    assert analyzed_rows(db) == ANALYZE_FROM_RUNS
    add_runs(db, ANALYZE_FROM_RUNS // 2, start=ANALYZE_FROM_RUNS)
    db.refresh_statistics()
    assert analyzed_rows(db) == ANALYZE_FROM_RUNS  # not grown enough: one read, no ANALYZE
    add_runs(db, ANALYZE_FROM_RUNS, start=ANALYZE_FROM_RUNS * 3 // 2)
    db.refresh_statistics()
    assert (analyzed_rows(db) or 0) > ANALYZE_FROM_RUNS  # retaken (a bounded estimate)
    db.dispose()
