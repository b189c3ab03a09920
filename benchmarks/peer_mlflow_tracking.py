"""MLflow tracking timings, run INSIDE the MLflow peer venv (see ``_peers.peer_python``).

Measures, against a SQLite backend in ``--workdir``:
  log_metric_loop_s  single ``mlflow.log_metric`` calls (``log_metric_loop_n`` of them)
  log_batch_s        ``MlflowClient.log_batch`` of ``--metrics`` metrics, ``--batch`` per call
  runs_s             ``--runs`` runs: start_run, log_params(10), log_metrics(10), end_run
  http_log_batch_s   (with ``--http``) the same log_batch through ``mlflow server`` (1 worker)
  help_s / help_cli_s  median of 3 ``python -m mlflow --help`` / ``<venv>/bin/mlflow --help``
Prints one JSON object as the last line of stdout.
"""

from __future__ import annotations

import os

# Keep MLflow off the network and quiet; must be set before mlflow is imported.
_QUIET_ENV = {
    "MLFLOW_DISABLE_TELEMETRY": "true",
    # MLflow only honours DO_NOT_TRACK == "true" (case-insensitive), not "1".
    "DO_NOT_TRACK": "true",
    "MLFLOW_DISABLE_AGENT_HINT": "1",
    "GIT_PYTHON_REFRESH": "quiet",
    "MLFLOW_ENABLE_ASYNC_LOGGING": "false",
    "MLFLOW_SUPPRESS_PRINTING_URL_TO_STDOUT": "true",
    "PYTHONWARNINGS": "ignore",
    "NO_PROXY": "127.0.0.1,localhost",
    "no_proxy": "127.0.0.1,localhost",
}
os.environ.update(_QUIET_ENV)
os.environ.pop("MLFLOW_TRACKING_URI", None)
os.environ.pop("MLFLOW_REGISTRY_URI", None)
os.environ.pop("MLFLOW_EXPERIMENT_NAME", None)
os.environ.pop("MLFLOW_EXPERIMENT_ID", None)

import argparse  # noqa: E402
import json  # noqa: E402
import logging  # noqa: E402
import statistics  # noqa: E402
import subprocess  # noqa: E402
import sys  # noqa: E402
import time  # noqa: E402
import warnings  # noqa: E402
from pathlib import Path  # noqa: E402
from typing import Any  # noqa: E402

from _peers import free_port  # noqa: E402
from _servers import group_usage, running  # noqa: E402

warnings.filterwarnings("ignore")

import mlflow  # type: ignore[import-not-found, unused-ignore]  # noqa: E402
from mlflow.entities import Metric  # type: ignore[import-not-found, unused-ignore]  # noqa: E402
from mlflow.tracking import MlflowClient  # type: ignore[import-not-found, unused-ignore]  # noqa: E402

logging.getLogger("mlflow").setLevel(logging.ERROR)
logging.getLogger("alembic").setLevel(logging.ERROR)


def _group_cpu_s(pgid: int) -> float:
    """Summed user+system CPU seconds of the live processes in process group ``pgid`` (Linux)."""
    ticks = 0
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            if os.getpgid(int(entry.name)) != pgid:
                continue
            fields = (entry / "stat").read_text().rsplit(")", 1)[1].split()
        except (OSError, ProcessLookupError, IndexError):
            continue
        ticks += int(fields[11]) + int(fields[12])  # utime, stime
    return ticks / os.sysconf("SC_CLK_TCK")


def _wait_quiet(pgid: int, timeout: float, window: float = 2.0, max_load: float = 0.1) -> float:
    """Wait until the server's processes use < ``max_load`` of a core over ``window`` seconds.

    ``mlflow server`` answers /health long before its job-runner processes (huey consumers,
    several each importing mlflow) finish starting; timing against it then measures CPU
    contention with that start-up. Returns the seconds waited.
    """
    t0 = time.monotonic()
    last = _group_cpu_s(pgid)
    while time.monotonic() - t0 < timeout:
        time.sleep(window)
        now = _group_cpu_s(pgid)
        if now - last < max_load * window:
            break
        last = now
    return time.monotonic() - t0


def _metrics(n: int, start: int, ts: int) -> list[Metric]:
    return [Metric("loss", 1.0 / (i + 1), ts, i) for i in range(start, start + n)]


def _time_log_batch(client: MlflowClient, run_id: str, total: int, batch: int) -> float:
    ts = int(time.time() * 1000)
    chunks = [_metrics(min(batch, total - s), s, ts) for s in range(0, total, batch)]
    t0 = time.perf_counter()
    for chunk in chunks:
        client.log_batch(run_id, metrics=chunk)
    return time.perf_counter() - t0


def _median_wall(cmd: list[str], repeats: int = 3) -> float:
    times = []
    for _ in range(repeats):
        t0 = time.perf_counter()
        subprocess.run(cmd, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, check=True)
        times.append(time.perf_counter() - t0)
    return statistics.median(times)


def _experiment(name: str, artifacts: Path) -> str:
    client = MlflowClient()
    exp = client.get_experiment_by_name(name)
    if exp is not None:
        return str(exp.experiment_id)
    artifacts.mkdir(parents=True, exist_ok=True)
    return str(client.create_experiment(name, artifact_location=artifacts.as_uri()))


def main(argv: list[str] | None = None) -> int:
    """Run the measurements and print one JSON object."""
    ap = argparse.ArgumentParser(description=(__doc__ or "").splitlines()[0])
    ap.add_argument("--workdir", required=True, type=Path)
    ap.add_argument("--metrics", type=int, default=10_000)
    ap.add_argument("--batch", type=int, default=1000)
    ap.add_argument("--runs", type=int, default=200)
    ap.add_argument("--loop-metrics", type=int, default=None)
    ap.add_argument("--http", action="store_true")
    ap.add_argument("--server-timeout", type=float, default=120.0)
    args = ap.parse_args(argv)
    loop_n = args.metrics if args.loop_metrics is None else args.loop_metrics
    if min(args.metrics, args.batch, args.runs, loop_n) < 0 or args.batch == 0:
        ap.error("counts must be >= 0 and --batch > 0")

    workdir: Path = args.workdir.resolve()
    workdir.mkdir(parents=True, exist_ok=True)
    os.chdir(workdir)  # anything MLflow writes by default lands in the scratch dir
    out: dict[str, Any] = {
        "tool": "mlflow",
        "mlflow_version": mlflow.__version__,
        "python": sys.version.split()[0],
        "backend": "sqlite",
        "metrics_n": args.metrics,
        "batch": args.batch,
        "runs_n": args.runs,
    }

    # --- local SQLite store ------------------------------------------------------
    mlflow.set_tracking_uri(f"sqlite:///{workdir / 'mlflow.db'}")
    t0 = time.perf_counter()
    exp_id = _experiment("bench", workdir / "artifacts")  # creates + migrates the DB
    out["db_init_s"] = time.perf_counter() - t0
    mlflow.set_experiment(experiment_id=exp_id)
    client = MlflowClient()

    # a. single log_metric calls
    with mlflow.start_run(run_name="log_metric_loop"):
        t0 = time.perf_counter()
        for i in range(loop_n):
            mlflow.log_metric("loss", 1.0 / (i + 1), step=i)
        out["log_metric_loop_s"] = time.perf_counter() - t0
    out["log_metric_loop_n"] = loop_n
    if loop_n:
        out["log_metric_per_call_ms"] = out["log_metric_loop_s"] / loop_n * 1000

    # b. log_batch
    with mlflow.start_run(run_name="log_batch") as run:
        out["log_batch_s"] = _time_log_batch(client, run.info.run_id, args.metrics, args.batch)

    # c. many small runs
    params = {f"p{k}": k for k in range(10)}
    t0 = time.perf_counter()
    for r in range(args.runs):
        mlflow.start_run(run_name=f"r{r}")
        mlflow.log_params(params)
        mlflow.log_metrics({f"m{k}": r + k / 10 for k in range(10)})
        mlflow.end_run()
    out["runs_s"] = time.perf_counter() - t0
    out[f"runs_{args.runs}_s"] = out["runs_s"]

    # --- d. over HTTP (mlflow server, 1 uvicorn worker) ----------------------------
    if args.http:
        port = free_port()
        url = f"http://127.0.0.1:{port}"
        log_path = workdir / "http-server.log"
        cmd = [
            sys.executable, "-m", "mlflow", "server",
            "--backend-store-uri", f"sqlite:///{workdir / 'http.db'}",
            "--default-artifact-root", str(workdir / "http-artifacts"),
            "--host", "127.0.0.1",
            "--port", str(port),
            "--workers", "1",
        ]  # fmt: skip
        env = dict(os.environ)
        env["PATH"] = str(Path(sys.executable).parent) + os.pathsep + env.get("PATH", "")
        server = running(
            "mlflow server",
            cmd,
            port=port,
            ready_path="/health",
            log_path=log_path,
            env=env,
            cwd=workdir,
            timeout=args.server_timeout,
        )
        try:
            with server as started:
                out["http_server_start_s"] = started.start_s
                if Path("/proc").is_dir():
                    out["http_server_settle_s"] = _wait_quiet(started.proc.pid, args.server_timeout)
                mlflow.set_tracking_uri(url)
                http_client = MlflowClient(tracking_uri=url)
                http_exp = _experiment("bench-http", workdir / "http-artifacts")
                http_run = http_client.create_run(http_exp, run_name="http_log_batch")
                http_client.log_batch(
                    http_run.info.run_id,
                    metrics=[Metric("warmup", 0.0, int(time.time() * 1000), 0)],
                )  # warm the connection and the server's code paths
                out["http_log_batch_s"] = _time_log_batch(
                    http_client, http_run.info.run_id, args.metrics, args.batch
                )
                http_client.set_terminated(http_run.info.run_id)
                out["http_workers"] = 1
                if Path("/proc").is_dir():
                    out["http_server_procs"], out["http_server_rss_mb"] = group_usage(
                        started.proc.pid
                    )
        finally:
            mlflow.set_tracking_uri(f"sqlite:///{workdir / 'mlflow.db'}")

    # --- e. CLI start-up ---------------------------------------------------------
    out["help_s"] = _median_wall([sys.executable, "-m", "mlflow", "--help"])
    cli = Path(sys.executable).parent / "mlflow"
    if cli.exists():
        out["help_cli_s"] = _median_wall([str(cli), "--help"])

    print(json.dumps(out, sort_keys=True), flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
