"""Tracking benchmark: opsloop and MLflow side by side in one run, against DESIGN.md's bars.

    .venv/bin/python benchmarks/tracking.py [--full] [--json PATH]     (or: make bench-tracking)

MLflow runs in its own cached virtualenv (``.bench-venvs/mlflow``, see ``_peers.py``) through
``peer_mlflow_tracking.py``; opsloop runs here (``_opsloop_side.py``). SQLite on both sides,
fresh stores in a temporary folder. opsloop figures are the median of ``--reps`` repeats after
one untimed warm-up. The exit code is 0 even when a bar fails; failures print as FAIL lines.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import sys
import tempfile
import time
from dataclasses import asdict, dataclass
from datetime import datetime
from pathlib import Path
from typing import Any

import _opsloop_side as side
from _peers import fmt_s, peer_python, run_peer

HERE = Path(__file__).resolve().parent
MLFLOW_REQUIREMENTS = ["mlflow==3.17.*"]


@dataclass
class Row:
    name: str
    opsloop_s: float | None
    mlflow_s: float | None
    bar: str
    passed: bool | None  # None: no bar, or the figure is missing

    @property
    def ratio(self) -> float | None:
        if self.opsloop_s is None or self.mlflow_s is None or self.opsloop_s <= 0:
            return None
        return self.mlflow_s / self.opsloop_s


def ratio_row(name: str, ours: float | None, theirs: float | None, at_least: float) -> Row:
    row = Row(name, ours, theirs, f"≥ {at_least:g}×", None)
    if row.ratio is not None:
        row.passed = row.ratio >= at_least
    return row


def limit_row(name: str, ours: float | None, theirs: float | None, limit: float, op: str) -> Row:
    passed = None if ours is None else (ours < limit if op == "<" else ours <= limit)
    return Row(name, ours, theirs, f"{op} {fmt_s(limit)}", passed)


def run_mlflow(workdir: Path, args: argparse.Namespace) -> dict[str, Any]:
    python = peer_python("mlflow", MLFLOW_REQUIREMENTS)
    return run_peer(
        python,
        HERE / "peer_mlflow_tracking.py",
        "--workdir", str(workdir),
        "--metrics", str(args.metrics),
        "--batch", "1000",
        "--runs", str(args.runs),
        "--loop-metrics", str(args.loop_metrics),
        "--http",
    )  # fmt: skip


def step(label: str) -> float:
    print(f"[bench] {label} ...", flush=True)
    return time.perf_counter()


def measure(args: argparse.Namespace, tmp: Path) -> tuple[dict[str, Any], dict[str, Any]]:
    """Run both sides; returns (MLflow's figures or {"error": ...}, opsloop's figures)."""
    ours: dict[str, Any] = {}
    t0 = step(f"MLflow: log_metric x{args.loop_metrics:,}, log_batch, {args.runs} runs, HTTP, help")
    try:
        theirs = run_mlflow(tmp / "mlflow", args)
    except RuntimeError as exc:
        print(f"[bench] MLflow side FAILED, its figures are missing:\n{exc}", flush=True)
        theirs = {"error": str(exc)}
    print(f"[bench]   done in {time.perf_counter() - t0:.0f} s", flush=True)
    step(f"opsloop embedded: {args.metrics:,} metrics, {args.runs} runs")
    ours["embedded"] = side.embedded(tmp / "embedded", args.metrics, args.runs, args.reps)
    step(f"opsloop over HTTP: {args.metrics:,} metrics through `opsloop server`")
    ours["http"] = side.over_http(tmp / "http" / "home", args.metrics, args.reps)
    step(f"opsloop search: creating {args.search_runs:,} runs, then {args.searches} searches")
    ours["search"] = side.search(tmp / "search", args.search_runs, args.searches)
    step("opsloop --help x5")
    ours["help_s"] = side.help_times(5)
    return theirs, ours


def build_rows(theirs: dict[str, Any], ours: dict[str, Any], args: argparse.Namespace) -> list[Row]:
    med = side.median
    loop_n = theirs.get("log_metric_loop_n") or 0
    loop_est = theirs["log_metric_loop_s"] / loop_n * args.metrics if loop_n else None
    metrics_s = med(ours["embedded"]["metrics_s"])
    n = f"{args.metrics:,}"
    return [
        ratio_row(f"{n} metrics, 1 run vs log_metric loop", metrics_s, loop_est, 1000),
        ratio_row(
            f"{n} metrics, 1 run vs log_batch(1000)", metrics_s, theirs.get("log_batch_s"), 30
        ),
        ratio_row(
            f"{n} metrics over HTTP vs log_batch(1000)",
            med(ours["http"]["metrics_s"]),
            theirs.get("http_log_batch_s"),
            30,
        ),
        ratio_row(
            f"{args.runs} runs x (10 params + 10 metrics)",
            med(ours["embedded"]["runs_s"]),
            theirs.get(f"runs_{args.runs}_s", theirs.get("runs_s")),
            10,
        ),
        limit_row(
            f"search {args.search_runs:,} runs (SDK, median)",
            med(ours["search"]["sdk_s"]),
            None,
            0.050,
            "<",
        ),
        Row(
            "  same search, service level (ref.)", med(ours["search"]["service_s"]), None, "", None
        ),
        limit_row(
            "--help (console script, median)", med(ours["help_s"]), theirs.get("help_s"), 0.3, "≤"
        ),
    ]


def print_table(rows: list[Row]) -> None:
    head = f"{'measure':<42} {'opsloop':>10} {'MLflow':>10} {'ratio':>9}  {'bar':<9} result"
    print(head)
    print("-" * len(head))
    for r in rows:
        ratio = f"{r.ratio:,.0f}×" if r.ratio is not None and r.ratio >= 10 else "-"
        if r.ratio is not None and r.ratio < 10:
            ratio = f"{r.ratio:.1f}×"
        result = {True: "PASS", False: "FAIL", None: "n/a" if r.bar else ""}[r.passed]
        line = f"{r.name:<42} {fmt_s(r.opsloop_s):>10} {fmt_s(r.mlflow_s):>10} {ratio:>9}  "
        print(f"{line}{r.bar:<9} {result}".rstrip())


def reps(values: list[float]) -> str:
    return ", ".join(fmt_s(x) for x in values)


def print_notes(theirs: dict[str, Any], ours: dict[str, Any], args: argparse.Namespace) -> None:
    loop_n = theirs.get("log_metric_loop_n") or 0
    if loop_n:
        per_call = theirs["log_metric_loop_s"] / loop_n
        how = "measured" if loop_n == args.metrics else f"EXTRAPOLATED linearly from {loop_n:,}"
        print(
            f"* MLflow log_metric loop: {loop_n:,} calls took {theirs['log_metric_loop_s']:.2f} s "
            f"({per_call * 1e3:.2f} ms/call); the {args.metrics:,} figure is {how} calls"
            + ("" if loop_n == args.metrics else " (--full runs them all)")
        )
    emb, http, srch = ours["embedded"], ours["http"], ours["search"]
    per_point = side.median(emb["metrics_s"]) / args.metrics
    print(f"* opsloop {args.metrics:,} metrics (whole `with` block, incl. end/flush): "
          f"{reps(emb['metrics_s'])}; {per_point * 1e6:.2f} µs/point")  # fmt: skip
    print(f"* opsloop {args.runs} runs: {reps(emb['runs_s'])}")
    print(
        f"* opsloop over HTTP: {reps(http['metrics_s'])} (server up in "
        f"{http['server_start_s']:.1f} s); MLflow server: 1 uvicorn worker"
    )
    print(
        f"* search: filter {side.SEARCH_FILTER!r}, order {side.SEARCH_ORDER!r}, limit 100 -> "
        f"{srch['returned']} returned of {srch['matched']:,} matching; SDK min/max "
        f"{fmt_s(min(srch['sdk_s']))}/{fmt_s(max(srch['sdk_s']))}; "
        f"{args.search_runs:,} runs created in {srch['fill_s']:.1f} s"
    )
    print(f"* opsloop --help x5: {reps(ours['help_s'])}")
    if "help_cli_s" in theirs:
        print(f"* MLflow: python -m mlflow --help {fmt_s(theirs.get('help_s'))}, "
              f"bin/mlflow --help {fmt_s(theirs['help_cli_s'])}")  # fmt: skip


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    ap = argparse.ArgumentParser(description=(__doc__ or "").splitlines()[0])
    ap.add_argument("--metrics", type=int, default=10_000, help="points in one run")
    ap.add_argument("--runs", type=int, default=200, help="small runs to create")
    ap.add_argument("--loop-metrics", type=int, default=1000,
                    help="MLflow log_metric calls to time (scaled to --metrics)")  # fmt: skip
    ap.add_argument("--full", action="store_true", help="time all of MLflow's log_metric calls")
    ap.add_argument("--reps", type=int, default=3, help="opsloop repeats (median)")
    ap.add_argument("--search-runs", type=int, default=10_000)
    ap.add_argument("--searches", type=int, default=30)
    ap.add_argument("--json", type=Path, default=None, help="also write all figures here")
    args = ap.parse_args(argv)
    if args.full:
        args.loop_metrics = args.metrics
    if min(args.metrics, args.runs, args.loop_metrics, args.reps, args.searches) < 1:
        ap.error("counts must be >= 1")
    return args


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    started = time.perf_counter()
    when = datetime.now().astimezone().isoformat(timespec="seconds")
    machine = f"{platform.machine()}, {os.cpu_count()} CPUs (nproc), {platform.platform()}"
    print(f"[bench] opsloop vs MLflow tracking; {when}; {machine}", flush=True)
    with tempfile.TemporaryDirectory(prefix="opsloop-bench-") as tmp:
        theirs, ours = measure(args, Path(tmp))
    rows = build_rows(theirs, ours, args)
    total_s = time.perf_counter() - started

    print()
    print(f"opsloop vs MLflow {theirs.get('mlflow_version', '(missing)')} — tracking, SQLite")
    print(f"date {when}; machine {machine}; Python {platform.python_version()}")
    print()
    print_table(rows)
    print()
    print_notes(theirs, ours, args)
    failed = [r for r in rows if r.passed is False]
    for r in failed:
        got = (
            f"{r.ratio:.1f}×"
            if r.ratio is not None and r.bar.startswith("≥")
            else fmt_s(r.opsloop_s)
        )
        print(f"FAIL: {r.name.strip()}: {got}, bar {r.bar}")
    missing = [r for r in rows if r.bar and r.passed is None]
    verdict = "all bars PASS" if not failed and not missing else f"{len(failed)} bar(s) FAIL"
    print(f"\n{verdict}; total wall time {total_s:.0f} s")
    if args.json is not None:
        doc = {
            "date": when,
            "machine": machine,
            "nproc": os.cpu_count(),
            "python": platform.python_version(),
            "args": {k: str(v) if isinstance(v, Path) else v for k, v in vars(args).items()},
            "mlflow": theirs,
            "opsloop": ours,
            "bars": [{**asdict(r), "ratio": r.ratio} for r in rows],
            "total_s": total_s,
        }
        args.json.parent.mkdir(parents=True, exist_ok=True)
        args.json.write_text(json.dumps(doc, indent=1, ensure_ascii=False), encoding="utf-8")
        print(f"figures written to {args.json}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
