"""Server processes for the serving benchmark: started in their own process group, always stopped.

Each server starts with ``start_new_session=True`` (pid == process group id), so a Ctrl-C in
the terminal reaches only the benchmark, and stopping kills the whole tree at once:
``mlflow models serve`` runs uvicorn as a child process. Descendants that left the group
(none should) are found through ``/proc`` and killed too.
"""

from __future__ import annotations

import contextlib
import os
import signal
import subprocess
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

from _peers import wait_http


@dataclass
class Server:
    name: str
    url: str  # base URL, e.g. http://127.0.0.1:8123
    proc: subprocess.Popen[bytes]
    log_path: Path
    start_s: float = 0.0  # from spawn to the first HTTP answer

    def log_tail(self, limit: int = 3000) -> str:
        try:
            return self.log_path.read_text("utf-8", "replace")[-limit:]
        except OSError:
            return ""


def descendants(pid: int) -> list[int]:
    """Pids of every live descendant of ``pid`` (Linux ``/proc``; empty elsewhere)."""
    out: list[int] = []
    todo = [pid]
    while todo:
        parent = todo.pop()
        for children in Path(f"/proc/{parent}/task").glob("*/children"):
            try:
                kids = [int(k) for k in children.read_text().split()]
            except (OSError, ValueError):
                continue
            out.extend(kids)
            todo.extend(kids)
    return out


def group_usage(pgid: int) -> tuple[int, float]:
    """Number of processes in group ``pgid`` and their summed RSS in MB (Linux)."""
    procs, rss_kb = 0, 0
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            if os.getpgid(int(entry.name)) != pgid:
                continue
            status = (entry / "status").read_text()
        except (OSError, ProcessLookupError):
            continue
        procs += 1
        for line in status.splitlines():
            if line.startswith("VmRSS:"):
                rss_kb += int(line.split()[1])
    return procs, rss_kb / 1024


def _group_alive(pgid: int) -> bool:
    try:
        os.killpg(pgid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


def stop_tree(proc: subprocess.Popen[bytes], grace: float = 10.0) -> None:
    """SIGTERM the process group of ``proc``, SIGKILL whatever is left after ``grace``."""
    strays = descendants(proc.pid)
    pgid = proc.pid
    for sig in (signal.SIGTERM, signal.SIGKILL):
        with contextlib.suppress(ProcessLookupError):
            os.killpg(pgid, sig)
        for pid in strays:
            with contextlib.suppress(ProcessLookupError, PermissionError):
                os.kill(pid, sig)
        deadline = time.monotonic() + grace
        while time.monotonic() < deadline:
            proc.poll()
            if not _group_alive(pgid) and not any(Path(f"/proc/{p}").exists() for p in strays):
                break
            time.sleep(0.05)
        else:
            continue  # still alive after the grace period: escalate to SIGKILL
        break
    with contextlib.suppress(subprocess.TimeoutExpired):
        proc.wait(timeout=grace)


@contextlib.contextmanager
def running(
    name: str,
    cmd: list[str],
    *,
    port: int,
    ready_path: str,
    log_path: Path,
    env: dict[str, str] | None = None,
    cwd: Path | None = None,
    timeout: float = 120.0,
) -> Iterator[Server]:
    """Start ``cmd``, wait until ``ready_path`` answers HTTP, yield it; stop the tree on exit."""
    url = f"http://127.0.0.1:{port}"
    log_path.parent.mkdir(parents=True, exist_ok=True)
    with open(log_path, "wb") as log:
        t0 = time.perf_counter()
        proc = subprocess.Popen(
            cmd,
            stdout=log,
            stderr=subprocess.STDOUT,
            stdin=subprocess.DEVNULL,
            env=env,
            cwd=cwd,
            start_new_session=True,
        )
        server = Server(name, url, proc, log_path)
        try:
            _wait_ready(server, ready_path, timeout)
            server.start_s = time.perf_counter() - t0
            yield server
        finally:
            stop_tree(proc)


def _wait_ready(server: Server, path: str, timeout: float) -> None:
    deadline = time.monotonic() + timeout
    while True:
        if server.proc.poll() is not None:
            raise RuntimeError(
                f"{server.name} exited with code {server.proc.returncode} before answering\n"
                f"log tail:\n{server.log_tail()}"
            )
        try:
            wait_http(server.url + path, timeout=1.0)
            return
        except TimeoutError:
            if time.monotonic() >= deadline:
                raise RuntimeError(
                    f"{server.name} did not answer {server.url + path} within {timeout:g}s\n"
                    f"log tail:\n{server.log_tail()}"
                ) from None
