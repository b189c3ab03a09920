"""Serving benchmark: opsloop, `mlflow models serve` and a minimal FastAPI app side by side.

    .venv/bin/python benchmarks/serving.py [--duration S] [--only opsloop,mlflow,fastapi]
                                           [--json PATH]           (or: make bench-serving)

One model — scikit-learn ``LogisticRegression(max_iter=5000)`` fitted on
``load_breast_cancer()`` — served by (1) ``opsloop serve`` with prediction logging on, (2)
``mlflow models serve --env-manager local`` from its cached venv (``.bench-venvs/mlflow``,
see ``_peers.py``), (3) ``_minimal_fastapi.py`` under the project venv's uvicorn. One worker
process each, all on 127.0.0.1, measured one after another with Debian's ``wrk`` (closed
loop, one row of 30 floats per POST): median latency at 1 connection, throughput and p99 at
64, each after a short warm-up. The exit code is 0 even when a bar fails; failures print as
FAIL lines, and a figure with any socket error or non-2xx answer is INVALID.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import platform
import re
import signal
import sys
import tempfile
import time
import urllib.request
from dataclasses import asdict, dataclass
from datetime import datetime
from pathlib import Path
from typing import Any

from _peers import fmt_s
from _servers import Server, group_usage, stop_tree
from _serving_sides import (
    Target,
    fastapi_server,
    fit_model,
    mlflow_server,
    opsloop_server,
    sanity_rows,
)
from _wrk import WrkResult, run_wrk, wrk_path, wrk_version

SERVERS = ("opsloop", "mlflow", "fastapi")
LABELS = {"opsloop": "opsloop", "mlflow": "MLflow", "fastapi": "minimal FastAPI"}


# --- checks and load ---------------------------------------------------------------------


def request_body(rows: list[list[float]]) -> str:
    """The JSON body all three servers take: ``{"inputs": [[30 floats], ...]}``."""
    return json.dumps({"inputs": rows})


def predictions_of(answer: Any) -> list[Any]:
    """Class predictions from any of the three answers (opsloop's items are objects)."""
    if not isinstance(answer, dict) or not isinstance(answer.get("predictions"), list):
        raise ValueError(f"no 'predictions' list in the answer: {str(answer)[:300]}")
    return [p["prediction"] if isinstance(p, dict) else p for p in answer["predictions"]]


def post_json(url: str, body: str, timeout: float = 30.0) -> Any:
    opener = urllib.request.build_opener(urllib.request.ProxyHandler({}))
    req = urllib.request.Request(
        url, data=body.encode(), headers={"Content-Type": "application/json"}, method="POST"
    )
    with opener.open(req, timeout=timeout) as resp:
        return json.loads(resp.read())


def check_predictions(target: Target, rows: list[list[float]], expected: list[Any]) -> str | None:
    """None when ``target`` predicts ``expected`` for ``rows``; otherwise what went wrong."""
    try:
        got = predictions_of(post_json(target.predict_url, request_body(rows)))
    except Exception as exc:
        detail = exc.read().decode("utf-8", "replace")[:500] if hasattr(exc, "read") else ""
        return f"{type(exc).__name__}: {exc} {detail}".strip()
    if [str(g) for g in got] != [str(e) for e in expected]:
        return f"predicted {got}, expected {expected}"
    return None


def log_access_lines(server: Server) -> int:
    """Access-log lines in a server's log (uvicorn prints `"POST /path HTTP/1.1" 200`)."""
    return len(re.findall(r'"POST [^"]+ HTTP/1\.[01]"', server.log_tail(1 << 20)))


def load(target: Target, body: str, args: argparse.Namespace) -> dict[str, Any]:
    """Warm-up then measurement at 1 connection, then the same at 64."""
    out: dict[str, Any] = {}
    for key, threads, conns in (("at1", 1, 1), ("at64", 2, 64)):
        print(f"[bench]   {LABELS[target.name]}: -t{threads} -c{conns}, "
              f"{args.warmup} s warm-up + {args.duration} s", flush=True)  # fmt: skip
        warm, _ = run_wrk(target.predict_url, body, threads=threads, connections=conns,
                          duration_s=args.warmup)  # fmt: skip
        result, output = run_wrk(target.predict_url, body, threads=threads, connections=conns,
                                 duration_s=args.duration)  # fmt: skip
        out[f"{key}_warmup"] = warm.as_dict()
        out[key] = result
        out[f"{key}_wrk_output"] = output
    if Path("/proc").is_dir():
        out["procs"], out["rss_mb"] = group_usage(target.server.proc.pid)
    out["access_log_lines"] = log_access_lines(target.server)
    return out


# --- figures and bars --------------------------------------------------------------------


def fmt_time(seconds: float | None) -> str:
    return fmt_s(seconds, ms_places=2)


def fmt_rate(rate: float | None) -> str:
    return "-" if rate is None else f"{rate:,.0f}/s"


@dataclass
class Bar:
    name: str
    opsloop: str
    peer: str
    ratio: float | None
    bar: str
    passed: bool | None  # None: a figure is missing or invalid
    why_missing: str = ""


def figure(runs: dict[str, Any], server: str, key: str, attr: str) -> tuple[float | None, str]:
    """One figure of one server and, when it cannot be used, why."""
    entry = runs.get(server)
    if entry is None:
        return None, f"{LABELS[server]} not measured"
    if "error" in entry:
        return None, f"{LABELS[server]} failed"
    if entry.get("sanity"):
        return None, f"{LABELS[server]} predicted wrong"
    result: WrkResult = entry[key]
    if not result.valid:
        return None, f"{LABELS[server]} @{key[2:]} INVALID"
    return float(getattr(result, attr)), ""


def compare(
    runs: dict[str, Any], name: str, peer: str, key: str, attr: str, *, higher_is_better: bool,
    at_least: float | None = None, at_most: float | None = None,
) -> Bar:  # fmt: skip
    """A bar on opsloop's figure against ``peer``'s; the ratio is "how many times better"
    when ``at_least`` is given, opsloop's figure over the peer's when ``at_most`` is."""
    fmt = fmt_rate if attr == "requests_per_s" else fmt_time
    ours, why_ours = figure(runs, "opsloop", key, attr)
    theirs, why_theirs = figure(runs, peer, key, attr)
    ratio = passed = None
    if ours and theirs:
        ratio = ours / theirs if higher_is_better or at_most is not None else theirs / ours
        passed = ratio >= at_least if at_least is not None else ratio <= (at_most or 0)
    text = f"≥ {at_least:g}×" if at_least is not None else f"≤ {at_most:g}×"
    return Bar(name, fmt(ours), fmt(theirs), ratio, text, passed, why_ours or why_theirs)


def build_bars(runs: dict[str, Any]) -> list[Bar]:
    """The issue's three bars."""
    return [
        compare(runs, "throughput @64 vs MLflow", "mlflow", "at64", "requests_per_s",
                higher_is_better=True, at_least=3),
        compare(runs, "median @1 vs minimal FastAPI", "fastapi", "at1", "median_s",
                higher_is_better=False, at_most=1),
        compare(runs, "p99 @64 vs MLflow (MLflow's / ours)", "mlflow", "at64", "p99_s",
                higher_is_better=False, at_least=3),
    ]  # fmt: skip


def print_servers(runs: dict[str, Any]) -> None:
    head = (f"{'server (1 worker)':<22} {'req/s @64':>11} {'median @1':>10} {'p99 @64':>10} "
            f"{'req/s @1':>10} {'procs':>5} {'RSS':>7}  status")  # fmt: skip
    print(head)
    print("-" * len(head))
    for name, entry in runs.items():
        if "error" in entry:
            print(f"{LABELS[name]:<22} {'FAILED: ' + entry['error'].splitlines()[0][:70]}")
            continue
        at1, at64 = entry["at1"], entry["at64"]
        problems = [f"@1 {p}" for p in at1.problems] + [f"@64 {p}" for p in at64.problems]
        if entry.get("sanity"):
            problems.insert(0, "wrong predictions")
        status = "INVALID: " + "; ".join(problems) if problems else "ok"
        rss = f"{entry['rss_mb']:.0f} MB" if "rss_mb" in entry else "-"
        print(f"{LABELS[name]:<22} {fmt_rate(at64.requests_per_s):>11} "
              f"{fmt_time(at1.median_s):>10} "
              f"{fmt_time(at64.p99_s):>10} {fmt_rate(at1.requests_per_s):>10} "
              f"{entry.get('procs', '-'):>5} {rss:>7}  {status}")  # fmt: skip


def print_bars(bars: list[Bar]) -> None:
    head = f"{'bar':<36} {'opsloop':>10} {'peer':>10} {'ratio':>7}  {'bar':<5} result"
    print(head)
    print("-" * len(head))
    for b in bars:
        ratio = "-" if b.ratio is None else f"{b.ratio:.2f}×"
        result = {True: "PASS", False: "FAIL", None: f"n/a ({b.why_missing})"}[b.passed]
        print(f"{b.name:<36} {b.opsloop:>10} {b.peer:>10} {ratio:>7}  {b.bar:<5} {result}")


def print_notes(runs: dict[str, Any]) -> None:
    for name, entry in runs.items():
        if "error" in entry:
            print(f"* {LABELS[name]} FAILED:\n{entry['error']}")
            continue
        info = ", ".join(f"{k} {v}" for k, v in entry["info"].items())
        print(f"* {LABELS[name]}: up in {entry['start_s']:.1f} s; {info}")
        if entry.get("sanity"):
            print(f"  SANITY FAIL: {entry['sanity']}")
        if entry.get("access_log_lines"):
            print(f"  WARNING: {entry['access_log_lines']:,} access-log lines in its log")
        for key in ("at1", "at64"):
            result: WrkResult = entry[key]
            if not result.valid:
                print(f"  INVALID @{key[2:]}: {'; '.join(result.problems)}")


# --- main --------------------------------------------------------------------------------


def machine_info() -> dict[str, Any]:
    cpu = platform.processor() or ""
    with contextlib.suppress(OSError):
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    return {
        "machine": f"{platform.machine()}, {os.cpu_count()} CPUs (nproc), {platform.platform()}",
        "cpu": cpu,
        "nproc": os.cpu_count(),
        "python": platform.python_version(),
        "wrk": wrk_version(),
    }


def measure(args: argparse.Namespace, tmp: Path) -> tuple[dict[str, Any], dict[str, Any]]:
    """Start the servers, check their predictions, load them one after another.

    Returns (per-server figures or {"error": ...}, the sanity check's rows and predictions).
    """
    print("[bench] fitting LogisticRegression(max_iter=5000) on load_breast_cancer()", flush=True)
    model, X, model_path, example_path = fit_model(tmp)
    rows = sanity_rows(model, X)
    expected = model.predict(X[rows]).tolist()
    body = request_body([X[0].tolist()])
    starters = {
        "opsloop": lambda: opsloop_server(tmp, model, X, args.start_timeout),
        "mlflow": lambda: mlflow_server(tmp, model_path, example_path, args.start_timeout),
        "fastapi": lambda: fastapi_server(tmp, model_path, args.start_timeout),
    }
    runs: dict[str, Any] = {}
    with contextlib.ExitStack() as stack:
        targets: list[Target] = []
        for name in args.only:
            print(f"[bench] starting {LABELS[name]} ...", flush=True)
            try:
                targets.append(stack.enter_context(starters[name]()))
            except Exception as exc:  # a server that does not start costs its figures only
                print(f"[bench] {LABELS[name]} FAILED to start:\n{exc}", flush=True)
                runs[name] = {"error": f"{type(exc).__name__}: {exc}"}
        print(f"[bench] sanity check: rows {rows} should predict {expected}", flush=True)
        for target in targets:
            problem = check_predictions(target, X[rows].tolist(), expected)
            runs[target.name] = {"info": target.info, "start_s": target.server.start_s,
                                 "sanity": problem}  # fmt: skip
            print(f"[bench]   {LABELS[target.name]}: {problem or 'ok'}", flush=True)
        for target in targets:
            print(f"[bench] loading {LABELS[target.name]} at {target.predict_url}", flush=True)
            try:
                runs[target.name].update(load(target, body, args))
            except Exception as exc:
                print(f"[bench] load on {LABELS[target.name]} FAILED:\n{exc}", flush=True)
                runs[target.name] = {"error": f"{type(exc).__name__}: {exc}"}
            stop_tree(target.server.proc)  # nothing of a measured server lingers
    order = {name: i for i, name in enumerate(SERVERS)}
    runs = dict(sorted(runs.items(), key=lambda kv: order[kv[0]]))
    return runs, {"rows": rows, "expected": expected, "load_body": body}


def parse_only(text: str) -> list[str]:
    names = [n.strip() for n in text.split(",") if n.strip()]
    unknown = sorted(set(names) - set(SERVERS))
    if unknown or not names:
        raise argparse.ArgumentTypeError(f"choose from {','.join(SERVERS)}; got {text!r}")
    return [n for n in SERVERS if n in names]


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    ap = argparse.ArgumentParser(description=(__doc__ or "").splitlines()[0])
    ap.add_argument("--duration", type=int, default=10, help="seconds of each measurement")
    ap.add_argument("--warmup", type=int, default=3, help="seconds of the warm-up before each")
    ap.add_argument("--only", type=parse_only, default=list(SERVERS),
                    help="comma-separated subset of opsloop,mlflow,fastapi")  # fmt: skip
    ap.add_argument("--start-timeout", type=float, default=120.0, help="seconds for a server")
    ap.add_argument("--json", type=Path, default=None, help="also write all figures here")
    args = ap.parse_args(argv)
    if min(args.duration, args.warmup) < 1:
        ap.error("--duration and --warmup are whole seconds, at least 1")
    return args


def _exit_on_signal(signum: int, _frame: Any) -> None:
    raise SystemExit(128 + signum)  # unwinds the `with` blocks, which stop every server


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    for sig in (signal.SIGTERM, signal.SIGHUP):
        signal.signal(sig, _exit_on_signal)
    wrk_path()  # fail before minutes of set-up when wrk is missing
    started = time.perf_counter()
    when = datetime.now().astimezone().isoformat(timespec="seconds")
    info = machine_info()
    load_at_start = os.getloadavg()[0]
    print(f"[bench] serving: {', '.join(LABELS[n] for n in args.only)}; {when}; "
          f"{info['machine']}", flush=True)  # fmt: skip
    with tempfile.TemporaryDirectory(prefix="opsloop-bench-serving-") as tmp:
        runs, sanity = measure(args, Path(tmp))
    bars = build_bars(runs)
    total_s = time.perf_counter() - started
    # Other work on the machine moves these figures more than anything here does: say how busy.
    info["loadavg_1min"] = {"start": load_at_start, "end": os.getloadavg()[0]}

    mlflow_version = runs.get("mlflow", {}).get("info", {}).get("mlflow_version", "(missing)")
    print()
    print(f"opsloop vs MLflow {mlflow_version} vs minimal FastAPI — serving one sklearn model")
    print(f"date {when}; machine {info['machine']}; CPU {info['cpu']}; Python {info['python']}")
    print(f"load: {info['wrk']}, one row of 30 floats per POST; @1 = -t1 -c1, @64 = -t2 -c64; "
          f"{args.duration} s each after {args.warmup} s warm-up; all on 127.0.0.1")  # fmt: skip
    busy = info["loadavg_1min"]
    print(f"load average (1 min) {busy['start']:.2f} before, {busy['end']:.2f} after "
          f"(on {info['nproc']} CPUs; anything else running skews the figures)")  # fmt: skip
    print()
    print_servers(runs)
    print()
    print_bars(bars)
    print()
    print_notes(runs)
    failed = [b for b in bars if b.passed is False]
    for b in failed:
        print(f"FAIL: {b.name}: {b.ratio:.2f}×, bar {b.bar}")
    missing = [b for b in bars if b.passed is None]
    verdict = "all bars PASS" if not failed and not missing else (
        f"{len(failed)} bar(s) FAIL, {len(missing)} n/a")  # fmt: skip
    print(f"\n{verdict}; total wall time {total_s:.0f} s")
    if args.json is not None:
        doc = {
            "date": when,
            **info,
            "args": {k: str(v) if isinstance(v, Path) else v for k, v in vars(args).items()},
            "sanity": sanity,
            "servers": {
                name: {k: v.as_dict() if isinstance(v, WrkResult) else v for k, v in e.items()}
                for name, e in runs.items()
            },
            "bars": [asdict(b) for b in bars],
            "total_s": total_s,
        }
        args.json.parent.mkdir(parents=True, exist_ok=True)
        args.json.write_text(json.dumps(doc, indent=1, ensure_ascii=False), encoding="utf-8")
        print(f"figures written to {args.json}")
    return 0


if __name__ == "__main__":
    try:
        sys.exit(main())
    except KeyboardInterrupt:
        print("\n[bench] interrupted; every server was stopped", file=sys.stderr)
        sys.exit(130)
