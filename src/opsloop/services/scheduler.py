"""The server's clock: the loop's timed work (due monitors and their alerts, due pipeline
triggers) run every tick, by one replica at a time.

Replicas sharing a store each run a Scheduler; the ``scheduler`` lease (store/repos/leases.py)
decides which one works. The holder renews it at the start of a pass and before any task that
starts after a third of the lease has gone, so a task longer than the lease's time-to-live may
let another replica start the next pass: the work is idempotent
(a monitor window's values are replaced, an alert is one open row per rule, a trigger fires
once per due time), so the cost of that is repeated work, never repeated effects.
"""

from __future__ import annotations

import logging
import threading
import time
import uuid
from collections.abc import Callable, Sequence
from dataclasses import dataclass

from opsloop.store.database import Database
from opsloop.store.repos import leases

LEASE = "scheduler"
STOP_WAIT_S = 30.0  # how long shutting down waits for the task in hand
log = logging.getLogger("opsloop.scheduler")


@dataclass(frozen=True)
class Task:
    """Timed work: ``run(now)`` does what is due at ``now`` and returns quickly if nothing is."""

    name: str
    run: Callable[[float], object]


class Scheduler:
    def __init__(
        self,
        db: Database,
        tasks: Sequence[Task],
        *,
        tick_s: float = 1.0,
        lease_s: float = 30.0,
        clock: Callable[[], float] = time.time,
    ) -> None:
        if tick_s <= 0 or lease_s <= tick_s:
            raise ValueError("the lease must outlast a tick, and a tick must be positive")
        self.db = db
        self.tasks = list(tasks)
        self.tick_s = tick_s
        self.lease_s = lease_s
        self.clock = clock
        self.holder = uuid.uuid4().hex
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None

    def tick(self) -> bool:
        """One pass over the tasks if this process holds the lease; whether it did.

        A task that raises is logged and the others still run: one broken monitor must not
        stop every other endpoint's monitoring, nor the pipeline triggers.
        """
        renewed = None
        for task in self.tasks:
            if self._stop.is_set():
                return False
            # Renew once a pass, and again only before a task that starts late in the lease:
            # each renewal is a write, and the server serves predictions meanwhile.
            if renewed is None or self.clock() - renewed > self.lease_s / 3:
                renewed = self.clock()
                if not self._renew():
                    return False
            try:
                task.run(self.clock())
            except Exception:
                log.exception("scheduled task %s failed", task.name)
        return True

    def start(self) -> None:
        if self._thread is not None:
            return
        self._stop.clear()
        self._thread = threading.Thread(target=self._loop, name="opsloop-scheduler", daemon=True)
        self._thread.start()

    def stop(self) -> None:
        """Stop after the task in hand and hand the lease over at once."""
        self._stop.set()
        if self._thread is not None:
            self._thread.join(timeout=STOP_WAIT_S)
            if self._thread.is_alive():  # a long task: it ends on its own, as a daemon
                log.warning("the scheduler's task in hand did not end within %g s", STOP_WAIT_S)
            self._thread = None
        try:
            with self.db.begin() as conn:
                leases.release(conn, LEASE, self.holder)
        except Exception:  # the store may already be closed: the lease simply expires
            log.debug("could not release the scheduler lease", exc_info=True)

    def _renew(self) -> bool:
        with self.db.begin() as conn:
            return leases.acquire(conn, LEASE, self.holder, self.clock(), self.lease_s)

    def _loop(self) -> None:
        while not self._stop.is_set():
            started = time.monotonic()
            try:
                self.tick()
            except Exception:  # the store unreachable for a moment: try again next tick
                log.exception("scheduler tick failed")
            self._stop.wait(max(0.0, self.tick_s - (time.monotonic() - started)))
