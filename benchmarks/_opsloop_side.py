"""opsloop's side of ``benchmarks/tracking.py``: each function times one thing through the SDK.

Every store is fresh, in a folder the caller gives (SQLite, as on MLflow's side).
"""

from __future__ import annotations

import random
import statistics
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path

from _peers import free_port
from _servers import running

import opsloop
from opsloop.domain.settings import Settings
from opsloop.sdk.client import Client
from opsloop.server.app import create_app  # noqa: F401  (fail fast, before MLflow's minutes)
from opsloop.services.platform import Platform

SEARCH_FILTER = "metrics.f1 > 0.5 and params.C = '1.0'"
SEARCH_ORDER = "metrics.f1 desc"
C_VALUES = ("0.01", "0.1", "1.0", "10.0")


def repeat(fn: Callable[[], object], times: int, warmup: int = 1) -> list[float]:
    """Wall seconds of ``times`` calls of ``fn``, after ``warmup`` untimed calls."""
    for _ in range(warmup):
        fn()
    out = []
    for _ in range(times):
        t0 = time.perf_counter()
        fn()
        out.append(time.perf_counter() - t0)
    return out


def log_metrics_one_run(n: int, client: Client | None = None) -> None:
    """One run with ``n`` points of one metric; the ``with`` block ends (and flushes) the run."""
    with opsloop.start_run("bench", "metrics", client=client) as run:
        for i in range(n):
            run.log_metric("loss", 1.0 / (i + 1), step=i)


def many_runs(n_runs: int, client: Client | None = None) -> None:
    """``n_runs`` runs, each with 10 params and 10 metrics: start, log_params, log_metrics, end."""
    params = {f"p{k}": k for k in range(10)}
    for r in range(n_runs):
        run = opsloop.start_run("bench", f"r{r}", client=client)
        run.log_params(params)
        run.log_metrics({f"m{k}": r + k / 10 for k in range(10)})
        run.end()


def embedded(home: Path, metrics: int, runs: int, reps: int) -> dict[str, list[float]]:
    """The default (embedded) client on a fresh store in ``home``."""
    opsloop.connect(home=str(home))
    return {
        "metrics_s": repeat(lambda: log_metrics_one_run(metrics), reps),
        "runs_s": repeat(lambda: many_runs(runs), reps),
    }


def over_http(home: Path, metrics: int, reps: int) -> dict[str, float | list[float]]:
    """A real ``opsloop server`` on 127.0.0.1, the SDK in remote mode; the server always stops."""
    port = free_port()
    home.mkdir(parents=True, exist_ok=True)
    cmd = [sys.executable, "-m", "opsloop.cli.main", "--home", str(home), "server"]
    cmd += ["--port", str(port)]
    with running(
        "opsloop server",
        cmd,
        port=port,
        ready_path="/healthz",
        log_path=home.parent / "opsloop-server.log",
        timeout=60,
    ) as server:
        client = Client(Settings.load(environ={}, url=server.url))
        try:
            times = repeat(lambda: log_metrics_one_run(metrics, client), reps)
        finally:
            client.close()
        return {"metrics_s": times, "server_start_s": server.start_s}


def fill_for_search(client: Client, project: str, n_runs: int, seed: int = 7) -> float:
    """Create ``n_runs`` ended runs, each with param ``C`` and metric ``f1``; returns seconds."""
    rng = random.Random(seed)
    t0 = time.perf_counter()
    step = max(1, n_runs // 5)
    for i in range(n_runs):
        run = opsloop.start_run(project, f"s{i}", params={"C": C_VALUES[i % 4]}, client=client)
        run.log_metric("f1", rng.random())
        run.end()
        if (i + 1) % step == 0:
            rate = (i + 1) / (time.perf_counter() - t0)
            print(f"  [search] {i + 1:,}/{n_runs:,} runs created ({rate:,.0f}/s)", flush=True)
    return time.perf_counter() - t0


def search(home: Path, n_runs: int, searches: int) -> dict[str, float | int | list[float]]:
    """Fill a project with ``n_runs`` runs, then time searches via the SDK and the service."""
    client = opsloop.connect(home=str(home))
    project = "search"
    fill_s = fill_for_search(client, project, n_runs)
    found: list[int] = []

    def sdk_search() -> None:
        runs, total = client.search_runs(
            project, filter=SEARCH_FILTER, order_by=SEARCH_ORDER, limit=100
        )
        found[:] = [len(runs), total]

    sdk_times = repeat(sdk_search, searches, warmup=2)
    platform = Platform.open(Settings.load(environ={}, home=str(home)))
    try:

        def service_search() -> None:
            platform.tracking.search_runs(
                project, filter=SEARCH_FILTER, order_by=SEARCH_ORDER, limit=100
            )

        service_times = repeat(service_search, searches, warmup=2)
    finally:
        platform.close()
    return {
        "fill_s": fill_s,
        "sdk_s": sdk_times,
        "service_s": service_times,
        "returned": found[0],
        "matched": found[1],
    }


def help_times(times: int = 5) -> list[float]:
    """Wall seconds of ``opsloop --help`` (the console script next to this Python)."""
    cli = Path(sys.executable).parent / "opsloop"
    out = []
    for _ in range(times):
        t0 = time.perf_counter()
        subprocess.run([str(cli), "--help"], stdout=subprocess.DEVNULL, check=True)
        out.append(time.perf_counter() - t0)
    return out


def median(values: list[float]) -> float:
    return statistics.median(values)
