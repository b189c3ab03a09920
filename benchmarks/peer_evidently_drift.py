"""Evidently's data-drift report, run INSIDE the Evidently peer venv (see ``_peers.peer_python``).

Reads the two Parquet files ``drift.py`` wrote, declares the column types (numeric and
categorical, as opsloop is told), then times ``Report([DataDriftPreset()]).run(current,
reference)`` — the report alone; reading the files and wrapping them in ``Dataset`` objects
are timed apart. Evidently picks each column's method itself (its defaults). Prints one JSON
object as the last line of stdout: ``evidently_version``, ``read_s``, ``dataset_s``, ``run_s``
and per column the method, value, threshold and whether it counts as drifted.
"""

from __future__ import annotations

import os

os.environ["DO_NOT_TRACK"] = "1"  # Evidently's telemetry switch; must precede the import

import argparse
import json
import time
import warnings
from typing import Any

import pandas as pd

warnings.filterwarnings("ignore")

import evidently  # type: ignore[import-not-found, unused-ignore]  # noqa: E402
from evidently import DataDefinition, Dataset, Report  # type: ignore[import-not-found, unused-ignore]  # noqa: E402
from evidently.presets import DataDriftPreset  # type: ignore[import-not-found, unused-ignore]  # noqa: E402


def drifted(method: str, value: float, threshold: float) -> bool:
    """Evidently's verdict: p-value methods drift below the threshold (K-S at or below it),
    distances at or above it."""
    if "p_value" in method:
        return value <= threshold if method.startswith("K-S") else value < threshold
    return value >= threshold


def per_column(snapshot: Any) -> tuple[dict[str, dict[str, Any]], float | None]:
    """Each ValueDrift metric's column, method, value and verdict; and Evidently's own count
    of drifted columns (DriftedColumnsCount), to check the verdicts against."""
    columns: dict[str, dict[str, Any]] = {}
    count = None
    for metric in snapshot.dict()["metrics"]:
        config = metric.get("config", {})
        if config.get("type", "").endswith("DriftedColumnsCount"):
            count = float(metric["value"]["count"])
        elif config.get("type", "").endswith("ValueDrift"):
            value = float(metric["value"])
            method, threshold = str(config["method"]), float(config["threshold"])
            columns[str(config["column"])] = {
                "method": method,
                "value": value,
                "threshold": threshold,
                "drifted": drifted(method, value, threshold),
            }
    return columns, count


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--reference", required=True)
    ap.add_argument("--current", required=True)
    ap.add_argument("--numeric", required=True, help="comma-separated column names")
    ap.add_argument("--categorical", required=True, help="comma-separated column names")
    args = ap.parse_args()

    started = time.perf_counter()
    reference = pd.read_parquet(args.reference)
    current = pd.read_parquet(args.current)
    read_s = time.perf_counter() - started

    definition = DataDefinition(
        numerical_columns=args.numeric.split(","),
        categorical_columns=args.categorical.split(","),
    )
    started = time.perf_counter()
    reference_ds = Dataset.from_pandas(reference, data_definition=definition)
    current_ds = Dataset.from_pandas(current, data_definition=definition)
    dataset_s = time.perf_counter() - started

    started = time.perf_counter()
    snapshot = Report([DataDriftPreset()]).run(current_ds, reference_ds)
    run_s = time.perf_counter() - started

    columns, count = per_column(snapshot)
    print(
        json.dumps(
            {
                "evidently_version": evidently.__version__,
                "pandas_version": pd.__version__,
                "rows": len(current),
                "read_s": read_s,
                "dataset_s": dataset_s,
                "run_s": run_s,
                "columns": columns,
                "drifted_count": count,
            }
        )
    )


if __name__ == "__main__":
    main()
