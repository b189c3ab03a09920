"""Drift benchmark: opsloop and Evidently's data-drift report side by side in one run.

    .venv/bin/python benchmarks/drift.py [--rows N] [--reps R] [--no-evidently] [--json PATH]
                                                                  (or: make bench-drift)

A reference and a current table of ``--rows`` rows each (default 1,000,000) and 20 columns —
15 numeric (normal, log-normal, whole numbers), 5 categorical (8 to 45 values) — are made
from a fixed NumPy seed; 5 columns of the current table are shifted (3 numeric, 2
categorical, one of those with values the reference never saw). Both tables are written once
to Parquet and both tools read those files. Evidently 0.7 runs in its own cached virtualenv
(``.bench-venvs/evidently``) through ``peer_evidently_drift.py``; its figure is
``Report([DataDriftPreset()]).run`` alone. opsloop prepares the reference once (timed apart)
and its figure is ``compare(prepared, current)``, the median of ``--reps`` runs. SciPy then
checks opsloop's KS and chi-square values on the same data. The exit code is 0 even when a
bar fails; failures print as FAIL lines.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import statistics
import sys
import tempfile
import time
from dataclasses import asdict, dataclass
from datetime import datetime
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
from _peers import fmt_s, peer_python, run_peer
from scipy import stats

from opsloop.services.drift import DriftReference, DriftReport, compare

HERE = Path(__file__).resolve().parent
EVIDENTLY_REQUIREMENTS = ["evidently==0.7.23", "pandas<3"]
SEED = 20261122
NUMERIC = [f"num_{i:02d}" for i in range(15)]
CATEGORICAL = [f"cat_{i}" for i in range(5)]
SHIFTED = ["num_00", "num_04", "num_08", "cat_0", "cat_3"]
SPEED_BAR = 50.0  # Evidently's time / opsloop's, at least
KS_BAR = 0.0  # largest |KS - SciPy|: equal
CHI2_BAR = 1e-9  # largest |chi2 - SciPy| / chi2


# --- data ----------------------------------------------------------------------------------


def make_tables(rows: int, seed: int = SEED) -> tuple[pd.DataFrame, pd.DataFrame]:
    """The reference and the current table; the same ``rows`` and ``seed`` give the same
    tables. Only the columns in ``SHIFTED`` differ in distribution."""
    rng = np.random.default_rng(seed)
    return _table(rng, rows, shifted=False), _table(rng, rows, shifted=True)


def _table(rng: np.random.Generator, rows: int, *, shifted: bool) -> pd.DataFrame:
    columns: dict[str, Any] = {}
    for i, name in enumerate(NUMERIC):
        shift = shifted and name in SHIFTED
        if i % 3 == 0:
            columns[name] = rng.normal(0.5 if shift else 0.0, 1.0 + i / 10, rows)
        elif i % 3 == 1:
            columns[name] = rng.lognormal(0.0, 0.8 if shift else 0.5, rows)
        else:  # whole numbers: many ties within and across the tables
            columns[name] = rng.integers(0, 130 if shift else 100, rows)
    for i, name in enumerate(CATEGORICAL):
        values = np.array([f"{name}_v{k:02d}" for k in range(8 + 9 * i)])
        weights = 1.0 / np.arange(1, len(values) + 1)
        if shifted and name == "cat_0":
            weights = weights[::-1]
        if shifted and name == "cat_3":  # a fifth of the rows take values never seen before
            values = np.concatenate([values, [f"{name}_new{k}" for k in range(5)]])
            weights = np.concatenate([weights * 0.8 / weights.sum(), np.full(5, 0.2 / 5)])
        columns[name] = values[rng.choice(len(values), rows, p=weights / weights.sum())]
    return pd.DataFrame(columns)


# --- the two sides ---------------------------------------------------------------------------


def run_evidently(reference: Path, current: Path) -> dict[str, Any]:
    python = peer_python("evidently", EVIDENTLY_REQUIREMENTS)
    return run_peer(
        python,
        HERE / "peer_evidently_drift.py",
        "--reference", str(reference),
        "--current", str(current),
        "--numeric", ",".join(NUMERIC),
        "--categorical", ",".join(CATEGORICAL),
    )  # fmt: skip


def run_opsloop(reference: Path, current: Path, reps: int) -> tuple[dict[str, Any], DriftReport]:
    """Prepare once, compare ``reps`` times; the reference's bytes are timed too."""
    ref, cur = pd.read_parquet(reference), pd.read_parquet(current)
    started = time.perf_counter()
    prepared = DriftReference.prepare(ref, categorical=CATEGORICAL)
    prepare_s = time.perf_counter() - started
    compare_s: list[float] = []
    report = None
    for _ in range(reps):
        started = time.perf_counter()
        report = compare(prepared, cur)
        compare_s.append(time.perf_counter() - started)
    assert report is not None
    started = time.perf_counter()
    blob = prepared.to_bytes()
    to_bytes_s = time.perf_counter() - started
    started = time.perf_counter()
    DriftReference.from_bytes(blob)
    from_bytes_s = time.perf_counter() - started
    figures = {
        "prepare_s": prepare_s,
        "compare_s": compare_s,
        "reference_bytes": len(blob),
        "to_bytes_s": to_bytes_s,
        "from_bytes_s": from_bytes_s,
        "drifted": report.drifted,
    }
    return figures, report


# --- SciPy's values --------------------------------------------------------------------------


def scipy_differences(ref: pd.DataFrame, cur: pd.DataFrame, report: DriftReport) -> dict[str, Any]:
    """The largest differences between opsloop's KS / chi-square values and SciPy's own
    (``ks_2samp`` on the non-missing values; ``chi2_contingency(correction=False)`` on the
    2 x k table of counts, values the reference never held in one column), with the column."""
    out: dict[str, Any] = {
        "ks": (0.0, ""),
        "ks_p": (0.0, ""),
        "chi2": (0.0, ""),
        "chi2_p": (0.0, ""),
    }

    def keep(key: str, difference: float, column: str) -> None:
        if difference > out[key][0] or not out[key][1]:
            out[key] = (difference, column)

    for column in report.columns:
        found = column.statistics
        if column.kind == "numeric":
            expected = stats.ks_2samp(ref[column.column].dropna(), cur[column.column].dropna())
            keep("ks", abs(_number(found["ks"]) - float(expected.statistic)), column.column)
            keep("ks_p", abs(_number(found["ks_p_value"]) - float(expected.pvalue)), column.column)
        else:
            table = contingency(ref[column.column], cur[column.column])
            chi2 = stats.chi2_contingency(table, correction=False)
            relative = abs(_number(found["chi2"]) - float(chi2.statistic)) / max(
                float(chi2.statistic), 1e-300
            )
            keep("chi2", relative, column.column)
            keep("chi2_p", abs(_number(found["chi2_p_value"]) - float(chi2.pvalue)), column.column)
    return out


def contingency(reference: pd.Series, current: pd.Series) -> np.ndarray:
    """Counts per reference value (sorted), then one column for every value it never held."""
    ref_counts = reference.dropna().astype(str).value_counts()
    cur_counts = current.dropna().astype(str).value_counts()
    known = sorted(ref_counts.index)
    unseen = int(cur_counts[~cur_counts.index.isin(known)].sum())
    ref_row = [int(ref_counts[k]) for k in known]
    cur_row = [int(cur_counts.get(k, 0)) for k in known]
    if unseen:
        ref_row.append(0)
        cur_row.append(unseen)
    return np.array([ref_row, cur_row])


# Evidently's methods whose values are defined as opsloop's are (its numeric Jensen-Shannon
# uses other bins, and its chi-square compares with the reference's shares, not a 2 x k table).
SAME_DEFINITION = {
    ("Wasserstein distance (normed)", "numeric"): "wasserstein",
    ("Jensen-Shannon distance", "categorical"): "jensen_shannon",
}


def evidently_agreement(theirs: dict[str, Any], report: DriftReport) -> tuple[float, str] | None:
    """The largest |opsloop - Evidently| over columns where both computed the same statistic."""
    largest: tuple[float, str] | None = None
    for column in report.columns:
        entry = theirs.get("columns", {}).get(column.column)
        name = SAME_DEFINITION.get((entry["method"], column.kind)) if entry else None
        if entry is None or name is None:
            continue
        difference = abs(_number(column.statistics[name]) - float(entry["value"]))
        if largest is None or difference > largest[0]:
            largest = (difference, column.column)
    return largest


def _number(value: float | None) -> float:
    return float("nan") if value is None else float(value)


# --- bars and table --------------------------------------------------------------------------


@dataclass
class Bar:
    name: str
    figure: str
    bar: str
    passed: bool | None  # None: a figure is missing


def build_bars(
    ours: dict[str, Any], theirs: dict[str, Any], differences: dict[str, Any]
) -> list[Bar]:
    compare_s = statistics.median(ours["compare_s"])
    evidently_s = theirs.get("run_s")
    ratio = evidently_s / compare_s if evidently_s and compare_s > 0 else None
    ks, chi2 = differences["ks"][0], differences["chi2"][0]
    their_flags = sorted(c for c, v in theirs.get("columns", {}).items() if v["drifted"])
    flagged_ok = sorted(ours["drifted"]) == sorted(SHIFTED)
    evidently_ok = their_flags == sorted(SHIFTED) if "columns" in theirs else None
    return [
        Bar(
            "compare vs Evidently's report (time ratio)",
            "-" if ratio is None else f"{ratio:,.0f}×",
            f"≥ {SPEED_BAR:g}×",
            None if ratio is None else ratio >= SPEED_BAR,
        ),
        Bar("largest |KS - SciPy|", f"{ks:.3g}", "= 0", ks <= KS_BAR),
        Bar("largest |chi2 - SciPy| / chi2", f"{chi2:.3g}", f"≤ {CHI2_BAR:g}", chi2 <= CHI2_BAR),
        Bar(
            "opsloop flags the 5 shifted columns", "yes" if flagged_ok else "no", "yes", flagged_ok
        ),
        Bar(
            "Evidently flags the 5 shifted columns",
            "-" if evidently_ok is None else ("yes" if evidently_ok else "no"),
            "(check)",
            evidently_ok,
        ),
    ]


def print_report(
    args: argparse.Namespace,
    report: DriftReport,
    ours: dict[str, Any],
    theirs: dict[str, Any],
    differences: dict[str, Any],
    bars: list[Bar],
) -> None:
    compare_s = statistics.median(ours["compare_s"])
    evidently_s = theirs.get("run_s")
    version = theirs.get("evidently_version", "(missing)")
    print(
        f"opsloop vs Evidently {version} — data drift, {args.rows:,} rows × 20 columns "
        f"(15 numeric, 5 categorical, 5 shifted), both tables {args.rows:,} rows"
    )
    print()
    head = f"{'measure':<46} {'opsloop':>10} {'Evidently':>10} {'ratio':>8}"
    print(head)
    print("-" * len(head))
    rows = [
        ("compare (prepared reference)", compare_s, evidently_s),
        ("prepare + compare", ours["prepare_s"] + compare_s, evidently_s),
        ("prepare the reference (once)", ours["prepare_s"], None),
        ("prepared reference to bytes", ours["to_bytes_s"], None),
        ("prepared reference from bytes", ours["from_bytes_s"], None),
        ("Evidently: Dataset.from_pandas x2 (not counted)", None, theirs.get("dataset_s")),
    ]
    for name, mine, peer in rows:
        ratio = f"{peer / mine:,.0f}×" if mine and peer else ""
        print(f"{name:<46} {fmt_s(mine):>10} {fmt_s(peer):>10} {ratio:>8}")
    print()
    head = f"{'bar':<46} {'figure':>10}  {'bar':<9} result"
    print(head)
    print("-" * len(head))
    for b in bars:
        result = {True: "PASS", False: "FAIL", None: "n/a"}[b.passed]
        print(f"{b.name:<46} {b.figure:>10}  {b.bar:<9} {result}")
    print()
    reps = ", ".join(fmt_s(x) for x in ours["compare_s"])
    print(f"* opsloop compare, {len(ours['compare_s'])} runs: {reps} (median used)")
    print(f"* prepared reference: {ours['reference_bytes'] / 1e6:.1f} MB as bytes")
    labels = {
        "ks": "|KS - SciPy|",
        "ks_p": "|KS p-value - SciPy|",
        "chi2": "|chi2 - SciPy| / chi2",
        "chi2_p": "|chi2 p-value - SciPy|",
    }
    for key, label in labels.items():
        value, column = differences[key]
        print(f"* largest {label}: {value:.3g} ({column})")
    agreement = evidently_agreement(theirs, report)
    if agreement is not None:
        print(
            f"* largest |opsloop - Evidently| where both compute the same statistic "
            f"(Wasserstein; categorical Jensen-Shannon): {agreement[0]:.3g} ({agreement[1]})"
        )
    print(f"* shifted: {', '.join(SHIFTED)}")
    print(f"* opsloop flagged: {', '.join(ours['drifted']) or '(none)'}")
    if "columns" in theirs:
        flagged = [c for c, v in theirs["columns"].items() if v["drifted"]]
        methods = sorted({v["method"] for v in theirs["columns"].values()})
        print(
            f"* Evidently flagged: {', '.join(flagged) or '(none)'} "
            f"(its own count: {theirs.get('drifted_count')}); methods: {', '.join(methods)}"
        )
    if "error" in theirs:
        print(f"* Evidently: {theirs['error'].splitlines()[0]}")


# --- main ------------------------------------------------------------------------------------


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    ap = argparse.ArgumentParser(description=(__doc__ or "").splitlines()[0])
    ap.add_argument("--rows", type=int, default=1_000_000, help="rows in each table")
    ap.add_argument("--reps", type=int, default=3, help="opsloop compare runs (median)")
    ap.add_argument("--no-evidently", action="store_true", help="skip the Evidently side")
    ap.add_argument("--json", type=Path, default=None, help="also write all figures here")
    args = ap.parse_args(argv)
    if args.rows < 10 or args.reps < 1:
        ap.error("--rows must be >= 10 and --reps >= 1")
    return args


def step(label: str) -> float:
    print(f"[bench] {label} ...", flush=True)
    return time.perf_counter()


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    started = time.perf_counter()
    when = datetime.now().astimezone().isoformat(timespec="seconds")
    machine = f"{platform.machine()}, {os.cpu_count()} CPUs (nproc), {platform.platform()}"
    print(f"[bench] opsloop vs Evidently data drift; {when}; {machine}", flush=True)
    with tempfile.TemporaryDirectory(prefix="opsloop-bench-drift-") as tmp:
        ref_path, cur_path = Path(tmp) / "reference.parquet", Path(tmp) / "current.parquet"
        t0 = step(f"making {args.rows:,} x 20 reference and current tables (seed {SEED})")
        ref, cur = make_tables(args.rows)
        ref.to_parquet(ref_path)
        cur.to_parquet(cur_path)
        print(f"[bench]   done in {time.perf_counter() - t0:.1f} s", flush=True)
        theirs: dict[str, Any] = {"error": "skipped (--no-evidently)"}
        if not args.no_evidently:
            t0 = step("Evidently: Report([DataDriftPreset()]).run in its venv")
            try:
                theirs = run_evidently(ref_path, cur_path)
            except RuntimeError as exc:
                print(f"[bench] Evidently side FAILED, its figures are missing:\n{exc}")
                theirs = {"error": str(exc)}
            print(f"[bench]   done in {time.perf_counter() - t0:.0f} s", flush=True)
        step(f"opsloop: prepare once, compare x{args.reps}")
        ours, report = run_opsloop(ref_path, cur_path, args.reps)
    step("SciPy: ks_2samp and chi2_contingency on the same data")
    differences = scipy_differences(ref, cur, report)
    bars = build_bars(ours, theirs, differences)
    print()
    print_report(args, report, ours, theirs, differences, bars)
    failed = [b for b in bars if b.passed is False]
    for b in failed:
        print(f"FAIL: {b.name}: {b.figure}, bar {b.bar}")
    verdict = "all bars PASS" if not failed else f"{len(failed)} bar(s) FAIL"
    missing = [b.name for b in bars if b.passed is None]
    if missing:
        verdict += f" ({len(missing)} without a figure)"
    print(f"\n{verdict}; total wall time {time.perf_counter() - started:.0f} s")
    if args.json is not None:
        doc = {
            "date": when,
            "machine": machine,
            "python": platform.python_version(),
            "args": {k: str(v) if isinstance(v, Path) else v for k, v in vars(args).items()},
            "opsloop": ours,
            "evidently": theirs,
            "scipy_differences": differences,
            "bars": [asdict(b) for b in bars],
            "report": report.to_dict(),
        }
        args.json.parent.mkdir(parents=True, exist_ok=True)
        args.json.write_text(json.dumps(doc, indent=1, ensure_ascii=False), encoding="utf-8")
        print(f"figures written to {args.json}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
