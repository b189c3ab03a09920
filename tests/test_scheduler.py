"""The scheduler: one replica at a time does the timed work, and one failing task stops
nothing else."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from opsloop.services.scheduler import LEASE, Scheduler, Task
from opsloop.store.database import Database
from opsloop.store.repos import leases

from .conftest import wait_for


@pytest.fixture
def db(database_url: str) -> Iterator[Database]:
    database = Database(database_url)
    database.migrate()
    yield database
    database.dispose()


class Clock:
    def __init__(self) -> None:
        self.now = 1_000.0

    def __call__(self) -> float:
        return self.now


def recorder(calls: list[tuple[str, float]], name: str) -> Task:
    return Task(name, lambda now: calls.append((name, now)))


def test_only_the_lease_holder_runs_the_tasks(db: Database) -> None:
    clock, calls = Clock(), []
    first = Scheduler(db, [recorder(calls, "a")], lease_s=30, clock=clock)
    second = Scheduler(db, [recorder(calls, "b")], lease_s=30, clock=clock)
    assert first.tick() is True
    assert second.tick() is False
    clock.now += 10
    assert first.tick() is True  # renewing its own lease
    assert second.tick() is False
    assert calls == [("a", 1_000.0), ("a", 1_010.0)]


def test_an_expired_lease_passes_to_another_replica(db: Database) -> None:
    clock, calls = Clock(), []
    first = Scheduler(db, [recorder(calls, "a")], lease_s=30, clock=clock)
    second = Scheduler(db, [recorder(calls, "b")], lease_s=30, clock=clock)
    first.tick()
    clock.now += 31  # the first replica died without a word
    assert second.tick() is True
    assert first.tick() is False
    with db.read() as conn:
        assert leases.held(conn, [LEASE])[LEASE][0] == second.holder


def test_stopping_hands_the_lease_over_at_once(db: Database) -> None:
    clock, calls = Clock(), []
    first = Scheduler(db, [recorder(calls, "a")], lease_s=30, clock=clock)
    second = Scheduler(db, [recorder(calls, "b")], lease_s=30, clock=clock)
    first.tick()
    first.stop()
    assert second.tick() is True


def test_a_failing_task_does_not_stop_the_others(
    db: Database, caplog: pytest.LogCaptureFixture
) -> None:
    calls: list[tuple[str, float]] = []

    def broken(now: float) -> None:
        raise RuntimeError("monitor exploded")

    scheduler = Scheduler(db, [Task("broken", broken), recorder(calls, "after")], clock=Clock())
    assert scheduler.tick() is True
    assert calls == [("after", 1_000.0)]
    assert "scheduled task broken failed" in caplog.text


def test_the_thread_ticks_until_stopped(db: Database) -> None:
    calls: list[tuple[str, float]] = []
    scheduler = Scheduler(db, [recorder(calls, "a")], tick_s=0.05, lease_s=5)
    scheduler.start()
    try:
        wait_for(lambda: len(calls) >= 3, timeout=30)
    finally:
        scheduler.stop()
    with db.read() as conn:  # stopped: the lease is free for another replica now
        assert leases.held(conn, [LEASE]) == {}


def test_a_long_pass_renews_the_lease_before_a_late_task(db: Database) -> None:
    clock, calls = Clock(), []

    def slow(now: float) -> None:
        clock.now += 25  # most of the 30 s lease gone

    first = Scheduler(db, [Task("slow", slow), recorder(calls, "late")], lease_s=30, clock=clock)
    second = Scheduler(db, [recorder(calls, "other")], lease_s=30, clock=clock)
    assert first.tick() is True
    clock.now += 20  # 45 s after the pass began; the renewal before "late" still holds
    assert second.tick() is False
    assert calls == [("late", 1_025.0)]
