"""Monitor benchmark: one monitor pass over 1,000,000 logged predictions with 100,000 labels.

    .venv/bin/python benchmarks/monitor.py [--rows N] [--labels N] [--json PATH]

Builds a fresh store in a temporary folder: a training dataset (50,000 rows, 10 numeric and
2 categorical features, a label), a logistic regression trained on it and logged as its run's
model, an endpoint serving it, and a day of traffic in the prediction log (written in bulk with
``PredictionLog``, then compacted to Parquet), half of the features shifted in the second half
of the day, and feedback for a random tenth of the predictions. Then one pass of a 1h monitor
(24 windows: feature and prediction drift against the training data, live performance, the
label-free estimate, data quality, service levels) is timed, cold (the reference is prepared:
read, scored, calibrated) and again warm (``since``: the same 24 windows recomputed with the
prepared reference), with the time of each part.
"""

from __future__ import annotations

import argparse
import json
import platform as host
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import pyarrow as pa

from opsloop.domain.entities import Actor
from opsloop.domain.names import ModelRef
from opsloop.domain.settings import Settings
from opsloop.services import flavors
from opsloop.services.datasets import table_to_parquet
from opsloop.services.monitoring import MonitorService
from opsloop.services.platform import Platform
from opsloop.services.signature import infer_signature
from opsloop.store.prediction_log import PredictionLog

HOUR = 3600.0
DAY_START = 1_780_012_800.0  # 2026-05-29 00:00 UTC
NUMERIC = [f"x{i}" for i in range(10)]
CATEGORICAL = ["lang", "format"]
SHIFTED = ["x0", "x1", "x2", "x3", "lang"]
BATCH = 50_000
ACTOR = Actor(name="bench")
MONITOR = """\
window: 1h
target: spam
"""
PARTS = ("read", "reference", "drift", "performance", "estimate", "quality", "service", "store")


def features(
    rows: int, rng: np.random.Generator, shifted: np.ndarray | None = None
) -> pd.DataFrame:
    """Posts; the ``shifted`` rows have four features moved by half a standard deviation and
    a language the training data never had."""
    frame = pd.DataFrame({name: rng.normal(0.0, 1.0, rows) for name in NUMERIC})
    moved = np.zeros(rows, dtype=bool) if shifted is None else shifted
    for name in SHIFTED:
        if name in NUMERIC:
            frame.loc[moved, name] += 0.5
    langs = np.where(
        moved, rng.choice(["en", "fr", "de", "es"], rows), rng.choice(["en", "fr", "de"], rows)
    )
    frame["lang"] = np.array(langs, dtype=object)
    frame["format"] = np.array(rng.choice(["html", "text"], rows), dtype=object)
    return frame.astype(dict.fromkeys(CATEGORICAL, object))  # pandas 3 would make them str


def truth(frame: pd.DataFrame, rng: np.random.Generator) -> np.ndarray:
    logit = frame["x0"] - 0.8 * frame["x1"] + 0.5 * frame["x4"] + (frame["lang"] == "fr") * 0.7
    return (rng.uniform(0, 1, len(frame)) < 1 / (1 + np.exp(-logit))).astype(int).to_numpy()


def train(platform: Platform, rng: np.random.Generator) -> Any:
    """Dataset, run, model version with the run as its source, endpoint: what a team has."""
    from sklearn.compose import make_column_transformer
    from sklearn.linear_model import LogisticRegression
    from sklearn.pipeline import make_pipeline
    from sklearn.preprocessing import OneHotEncoder

    frame = features(50_000, rng)
    spam = truth(frame, rng)
    model = make_pipeline(
        make_column_transformer(
            (OneHotEncoder(handle_unknown="ignore"), CATEGORICAL), remainder="passthrough"
        ),
        LogisticRegression(max_iter=1000),
    ).fit(frame, spam)
    sha256, _ = platform.artifacts.put(
        table_to_parquet(pa.Table.from_pandas(frame.assign(spam=spam)))
    )
    data = platform.datasets.create_version("bench", "posts", sha256, actor=ACTOR)
    run = platform.tracking.start_run(project="bench", actor=ACTOR, name="train")
    platform.tracking.use_dataset(run.id, "bench", "posts", data.version)
    flavor = flavors.detect(model)
    model_sha, _ = platform.artifacts.put(flavor.save(model))
    version = platform.registry.register_version(
        "bench",
        "spam",
        flavor=flavor.name,
        sha256=model_sha,
        actor=ACTOR,
        signature=infer_signature(model, frame.head()),
        run_id=run.id,
    )
    platform.deployments.deploy(
        ModelRef("bench", "spam", version=version.version),
        "bench",
        ACTOR,
        force=True,
        reason="benchmark",
    )
    return model


def write_log(root: Path, model: Any, rows: int, labels: int, rng: np.random.Generator) -> float:
    """A day of traffic and its feedback, appended in batches, then compacted; seconds taken."""
    started = time.perf_counter()
    times = np.sort(rng.uniform(DAY_START, DAY_START + 24 * HOUR, rows))
    labelled = np.zeros(rows, dtype=bool)
    labelled[rng.choice(rows, labels, replace=False)] = True
    with PredictionLog(root, background=False) as log:
        for start in range(0, rows, BATCH):
            count = min(BATCH, rows - start)
            stamp = times[start : start + count]
            frame = features(count, rng, shifted=stamp >= DAY_START + 12 * HOUR)
            proba = model.predict_proba(frame)[:, 1]
            actual = truth(frame, rng)
            inputs = frame.to_dict("records")
            ids = [f"{start + i:032x}" for i in range(count)]
            latency = rng.gamma(2.0, 1.5, count)
            log.append_predictions(
                [
                    {
                        "request_id": ids[i],
                        "time": float(stamp[i]),
                        "endpoint": "bench",
                        "project": "bench",
                        "model": "spam",
                        "version": 1,
                        "role": "primary",
                        "deployment": 1,
                        "inputs": inputs[i],
                        "prediction": int(proba[i] >= 0.5),
                        "score": float(proba[i]),
                        "latency_ms": float(latency[i]),
                    }
                    for i in range(count)
                ]
            )
            chosen = np.flatnonzero(labelled[start : start + count])
            delay = rng.exponential(1800.0, len(chosen))
            log.append_feedback(
                [
                    {
                        "request_id": ids[i],
                        "time": float(stamp[i] + delay[n]),
                        "endpoint": "bench",
                        "label": int(actual[i]),
                        "source": "reviewer",
                        "actor": "bench",
                    }
                    for n, i in enumerate(chosen.tolist())
                ]
            )
        log.compact()
    return time.perf_counter() - started


def timed_pass(monitors: MonitorService, **options: Any) -> tuple[float, dict[str, float], int]:
    timings: dict[str, float] = {}
    started = time.perf_counter()
    windows = monitors.run(
        "bench", actor=ACTOR, until=DAY_START + 24 * HOUR, timings=timings, **options
    )
    return time.perf_counter() - started, timings, len(windows)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows", type=int, default=1_000_000)
    parser.add_argument("--labels", type=int, default=100_000)
    parser.add_argument("--json", type=Path, help="also write the figures here")
    args = parser.parse_args()
    rng = np.random.default_rng(0)
    with tempfile.TemporaryDirectory(prefix="opsloop-monitor-bench-") as folder:
        settings = Settings.load(environ={}, home=Path(folder), actor="bench")
        platform = Platform.open(settings)
        try:
            model = train(platform, rng)
            print(f"writing {args.rows:,} predictions and {args.labels:,} labels ...", flush=True)
            built = write_log(settings.predictions, model, args.rows, args.labels, rng)
            print(f"  log written and compacted in {built:.1f} s", flush=True)
            monitors = MonitorService(
                platform.db,
                platform.deployments,
                platform.registry,
                platform.datasets,
                platform.predictions,
            )
            monitors.configure("bench", MONITOR, ACTOR)
            cold = timed_pass(monitors)
            warm = timed_pass(monitors, since=DAY_START)
            drifted = monitors.values("bench", metric="drift.share_drifted")
        finally:
            platform.close()
    report(args, cold, warm, [v.value for v in drifted])


def report(
    args: argparse.Namespace,
    cold: tuple[float, dict[str, float], int],
    warm: tuple[float, dict[str, float], int],
    drifted: list[float | None],
) -> None:
    print()
    print(f"monitor pass over {args.rows:,} predictions, {args.labels:,} labels, {cold[2]} windows")
    print(f"  {'part':<12}{'cold':>10}{'warm':>10}")
    for part in PARTS:
        print(f"  {part:<12}{cold[1].get(part, 0.0):>9.2f}s{warm[1].get(part, 0.0):>9.2f}s")
    print(f"  {'total':<12}{cold[0]:>9.2f}s{warm[0]:>9.2f}s")
    shares = ", ".join("-" if d is None else f"{d:.2f}" for d in drifted)
    print(f"  drift.share_drifted per window: {shares}")
    print(f"  ({host.processor() or host.machine()}, Python {sys.version.split()[0]})")
    if args.json:
        args.json.write_text(
            json.dumps(
                {
                    "rows": args.rows,
                    "labels": args.labels,
                    "windows": cold[2],
                    "cold_s": cold[0],
                    "warm_s": warm[0],
                    "cold_parts_s": cold[1],
                    "warm_parts_s": warm[1],
                },
                indent=2,
            )
        )


if __name__ == "__main__":
    main()
