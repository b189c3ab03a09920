"""The leases that say this process is executing a run: taken with the run's row, renewed by a
heartbeat while any run is active here, released when it ends. A lapsed lease means the process
that held it is gone (see ``PipelineService.recover``)."""

from __future__ import annotations

import logging
import os
import socket
import threading
import uuid

from sqlalchemy import Connection

from opsloop.store.database import Database
from opsloop.store.repos import leases
from opsloop.store.repos import pipelines as repo
from opsloop.store.repos._time import now

LEASE_TTL_S = 60.0
HEARTBEAT_S = 15.0
log = logging.getLogger(__name__)


class RunLeases:
    def __init__(self, db: Database) -> None:
        self.db = db
        self.holder = f"{socket.gethostname()[:40]}:{os.getpid()}:{uuid.uuid4().hex[:8]}"
        self._active: set[str] = set()
        self._lock = threading.Lock()
        self._heartbeat: threading.Thread | None = None
        self._stopped = threading.Event()

    def take(self, conn: Connection, run_id: str) -> None:
        """In the transaction that queues the run."""
        leases.take(conn, repo.lease_name(run_id), self.holder, now() + LEASE_TTL_S)

    def track(self, run_id: str) -> None:
        """This process is executing the run now: keep its lease alive."""
        with self._lock:
            self._active.add(run_id)
            if self._heartbeat is None and not self._stopped.is_set():
                self._heartbeat = threading.Thread(
                    target=self._beat, name="opsloop-pipeline-heartbeat", daemon=True
                )
                self._heartbeat.start()

    def untrack(self, run_id: str) -> None:
        with self._lock:
            self._active.discard(run_id)

    def active(self) -> set[str]:
        with self._lock:
            return set(self._active)

    def stop(self) -> None:
        self._stopped.set()

    def _beat(self) -> None:
        while not self._stopped.wait(HEARTBEAT_S):
            with self._lock:
                if not self._active:
                    self._heartbeat = None
                    return
                names = [repo.lease_name(run_id) for run_id in self._active]
            try:
                with self.db.begin() as conn:
                    leases.renew(conn, self.holder, names, now() + LEASE_TTL_S)
            except Exception:
                log.exception("pipeline run leases could not be renewed")
