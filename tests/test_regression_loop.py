"""A regressor through the whole loop, in process: gated on MAE, served, given the actual
values as feedback, monitored (MAE/RMSE/MAPE per window, label drift), alerted on
``performance.mae``, then retrained by the retrain pipeline with ``metric="mae"``: gated
``mae <= champion`` on held-out traffic, canaried on live MAE and promoted."""

from __future__ import annotations

import math
import re
import threading
import time

import numpy as np
import pandas as pd
import pytest
from sklearn.tree import DecisionTreeRegressor

import opsloop
from opsloop.domain.pipelines import PipelineStatus
from opsloop.pipelines.retrain import retrain_pipeline
from opsloop.sdk.alerts import list_alerts
from opsloop.sdk.client import Client
from opsloop.sdk.monitoring import monitor_values, run_monitor, set_monitor
from opsloop.services.evaluation import metrics
from opsloop.services.pipelines.definitions import REGISTRY

ENDPOINT = "ridership"
MONITOR = """
window: 1s
target: riders
min_labels: 5
alerts:
  - {name: error, when: "performance.mae > 5", severity: critical}
notify: [log]
"""


def days(count: int, seed: int, later: bool) -> pd.DataFrame:
    """Riders by temperature: later days are warmer and busier (a trend the first model never
    saw: a tree predicts its last leaf beyond the range it was trained on)."""
    rng = np.random.default_rng(seed)
    temp = rng.uniform(20.0, 30.0, count) if later else rng.uniform(0.0, 10.0, count)
    riders = 2.0 * temp + (15.0 if later else 0.0) + rng.normal(0.0, 0.3, count)
    return pd.DataFrame({"temp": temp, "riders": riders})


def fit(frame: pd.DataFrame, target: str) -> DecisionTreeRegressor:
    return DecisionTreeRegressor(max_depth=6, random_state=0).fit(frame[["temp"]], frame[target])


def send(rows: pd.DataFrame) -> list[float]:
    """Ask the endpoint about ``rows``, then tell it what really happened."""
    answer = opsloop.predict(ENDPOINT, rows[["temp"]].to_dict("records"))["predictions"]
    actual = [
        {"id": p["id"], "label": float(y)} for p, y in zip(answer, rows["riders"], strict=True)
    ]
    assert opsloop.send_feedback(ENDPOINT, actual).accepted == len(rows)
    return [p["prediction"] for p in answer]


def test_a_regressor_is_gated_served_monitored_alerted_and_retrained(sdk: Client) -> None:
    train = days(300, seed=1, later=False)
    data = opsloop.log_dataset(train, "days", project="transit")
    with opsloop.start_run(project="transit", name="first") as run:
        run.use_dataset(data)
        version = run.log_model(
            fit(train, "riders"), "riders", input_example=train[["temp"]].head()
        )
    gated = opsloop.evaluate(
        version.ref, data.ref, gate="target: riders\nrules:\n  - mae <= 1\n", endpoint=ENDPOINT
    )
    assert (gated.verdict, gated.task) == ("go", "regression")
    opsloop.deploy(version.ref, endpoint=ENDPOINT, reason="first model")
    set_monitor(sdk, ENDPOINT, MONITOR)

    live = days(60, seed=2, later=True)
    started = time.time()
    guessed = send(live)
    assert all(isinstance(value, float) for value in guessed)
    time.sleep(max(0.0, math.floor(started) + 1.05 - time.time()))  # the window closes
    window = next(w for w in run_monitor(sdk, ENDPOINT) if w.requests)
    expected = metrics.regression(live["riders"], guessed)
    for name in ("mae", "rmse", "mape"):
        assert window.values[f"performance.{name}"] == pytest.approx(expected[name]), name
    assert (window.values["performance.mae"] or 0) > 5  # the trend: the first model lags
    label = monitor_values(sdk, ENDPOINT, metric="drift.label")[-1]
    assert label.detail is not None and label.detail["drifted"]
    assert label.detail["compared"] == "labels" and "'riders'" in label.detail["reference"]
    fired = list_alerts(sdk, ENDPOINT)
    assert [(a.metric, a.state.value) for a in fired] == [("performance.mae", "firing")]

    retrain_pipeline(
        name="retrain-ridership",
        endpoint=ENDPOINT,
        train=fit,
        target="riders",
        gate="target: riders\nrules:\n  - mae <= champion\n",
        canary=50,
        canary_predictions=20,
        canary_timeout_s=120,
        metric="mae",
    )
    stop = threading.Event()
    failures: list[str] = []

    def traffic() -> None:
        seed = 100
        while not stop.is_set():
            seed += 1
            try:
                send(days(20, seed=seed, later=True))
            except Exception as exc:  # reported below: a thread's failure is not raised
                failures.append(repr(exc))
            stop.wait(0.2)

    sender = threading.Thread(target=traffic, daemon=True)
    sender.start()
    try:
        done = opsloop.run_pipeline("retrain-ridership")
    finally:
        stop.set()
        sender.join(timeout=30)
        REGISTRY.remove("retrain-ridership")
    assert failures == []
    assert done.status is PipelineStatus.SUCCEEDED, done.error
    steps = {step.name: step for step in done.steps}
    assert steps["judge"].output is not None and steps["judge"].output.summary == "'go'"
    history = sdk.deployment_history(ENDPOINT)  # newest first
    assert [(d.action.value, d.version, d.actor_kind.value) for d in history[:2]] == [
        ("promote", 2, "pipeline"),
        ("canary", 2, "pipeline"),
    ]
    found = re.fullmatch(r"retrain: canary mae (\S+) vs primary (\S+)", history[0].reason)
    assert found is not None, history[0].reason
    assert float(found[1]) < float(found[2])  # the retrained model's live error is smaller
    plan = sdk.get_endpoint(ENDPOINT).plan
    assert plan.primary is not None and (plan.primary.version, plan.canary) == (2, None)
