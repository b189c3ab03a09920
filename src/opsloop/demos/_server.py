"""The demo's own `opsloop server`: a child process on 127.0.0.1 with the scheduler running the
monitors, the review routing and the pipeline triggers, and the workload's pipelines loaded."""

from __future__ import annotations

import os
import subprocess
import sys
import time
from pathlib import Path

import httpx

from opsloop.domain.errors import Unavailable

START_TIMEOUT_S = 90.0
STOP_TIMEOUT_S = 15.0


class DemoServer:
    """``start()`` returns once the server answers /healthz at ``url``; ``stop()`` ends it."""

    def __init__(
        self,
        home: Path,
        port: int,
        *,
        pipelines: str,
        tick_s: float,
        log: Path,
        environment: dict[str, str] | None = None,
    ) -> None:
        self.home = home
        self.port = port
        self.pipelines = pipelines
        self.tick_s = tick_s
        self.log = log
        self.environment = environment or {}
        self.url = f"http://127.0.0.1:{port}"
        self._process: subprocess.Popen[bytes] | None = None

    def start(self) -> None:
        environment = {
            **os.environ,
            "OPSLOOP_PIPELINES": self.pipelines,
            "OPSLOOP_SCHEDULER_TICK_S": str(self.tick_s),
            **self.environment,
        }
        for name in ("OPSLOOP_URL", "OPSLOOP_TOKEN", "OPSLOOP_DATABASE_URL"):
            environment.pop(name, None)  # the demo's server uses the demo's own store
        command = [sys.executable, "-m", "opsloop.cli.main", "--home", str(self.home)]
        command += ["server", "--host", "127.0.0.1", "--port", str(self.port)]
        with self.log.open("ab") as output:
            self._process = subprocess.Popen(
                command, stdout=output, stderr=subprocess.STDOUT, env=environment
            )
        deadline = time.monotonic() + START_TIMEOUT_S
        while not self._healthy():
            if self._process.poll() is not None or time.monotonic() > deadline:
                self.stop()
                tail = self.log.read_text(errors="replace")[-2000:]
                raise Unavailable(f"the demo's server did not start on {self.url}:\n{tail}")
            time.sleep(0.1)

    def alive(self) -> bool:
        return self._process is not None and self._process.poll() is None

    def wait(self) -> None:
        """Block until the server stops (Ctrl-C stops it)."""
        if self._process is not None:
            self._process.wait()

    def stop(self) -> None:
        process, self._process = self._process, None
        if process is None or process.poll() is not None:
            return
        process.terminate()
        try:
            process.wait(timeout=STOP_TIMEOUT_S)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()

    def _healthy(self) -> bool:
        try:
            return httpx.get(self.url + "/healthz", timeout=1).status_code == 200
        except httpx.TransportError:
            return False
