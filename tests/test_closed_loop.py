"""The loop closes itself: drift in live traffic → alert → retrain pipeline → gate → canary →
promoted, with no call from a person — and the Events tell that story in order.

A real `opsloop server` on 127.0.0.1 runs the scheduler; this test only sends traffic and the
labels that come back for it, as the world would.
"""

from __future__ import annotations

import threading
from pathlib import Path
from typing import Any

import httpx
import pytest

import opsloop
from opsloop.sdk import api as sdk_api
from opsloop.sdk.monitoring import set_monitor

from . import _retrain_loop as loop
from .conftest import free_port, server_process, wait_for

MONITOR = f"""
window: 2s
target: {loop.TARGET}
min_labels: 5
alerts:
  - name: drift
    when: "drift.share_drifted >= 0.5"
    for: 3   # three windows of traffic: enough labelled rows to retrain on, even when the
             # machine is busy and traffic slow (one window once held too few: no-go)
    severity: warning
    action: "pipeline {loop.PIPELINE}"
notify: [log]
"""
SHIFT = 3.0


def first_model(home: Path) -> None:
    """Train on the first regime, gate it, deploy it, and set the endpoint's monitor."""
    sdk_api.connect(home=home, actor="ana")
    try:
        train = loop.rows(600, shift=0.0, seed=1)
        data = opsloop.log_dataset(train, "train", project=loop.ENDPOINT)
        with opsloop.start_run(project=loop.ENDPOINT, name="first") as run:
            run.use_dataset(data)
            model = loop.train(train, loop.TARGET)
            version = run.log_model(model, "clf", input_example=train[loop.FEATURES].head())
        verdict = opsloop.evaluate(
            version.ref,
            data.ref,
            gate="target: y\nrules:\n  - accuracy >= 0.8\n",
            endpoint=loop.ENDPOINT,
        )
        assert verdict.verdict == "go"
        opsloop.deploy(version.ref, endpoint=loop.ENDPOINT, reason="first model")
        set_monitor(sdk_api.get_client(), loop.ENDPOINT, MONITOR)
    finally:
        sdk_api.get_client().close()
        sdk_api._default = None


def send_traffic(url: str, stop: threading.Event, failures: list[str]) -> None:
    """Drifted rows, each labelled with the truth right after its answer."""
    seed = 100
    with httpx.Client(base_url=url, timeout=30) as http:
        while not stop.is_set():
            seed += 1
            batch = loop.rows(40, shift=SHIFT, seed=seed)
            rows = batch[loop.FEATURES].to_dict(orient="records")
            answer = http.post(f"/endpoints/{loop.ENDPOINT}/predict", json={"inputs": rows})
            if answer.status_code != 200:
                failures.append(answer.text)
                continue
            labels = [
                {"id": p["id"], "label": int(truth)}
                for p, truth in zip(answer.json()["predictions"], batch[loop.TARGET], strict=True)
            ]
            sent = http.post(f"/endpoints/{loop.ENDPOINT}/feedback", json={"feedback": labels})
            if sent.status_code != 200:
                failures.append(sent.text)
            stop.wait(0.05)


def every_event(url: str) -> list[dict[str, Any]]:
    found: list[dict[str, Any]] = []
    while True:
        params = {"limit": 1000, "after_id": found[-1]["id"] if found else 0}
        page = httpx.get(f"{url}/api/v1/events", params=params).json()
        if not page:
            return found
        found.extend(page)


def serving(url: str) -> dict[str, Any]:
    plan: dict[str, Any] = httpx.get(f"{url}/api/v1/endpoints/{loop.ENDPOINT}").json()["plan"]
    return plan


@pytest.mark.slow
def test_drift_retrains_gates_canaries_and_promotes_on_its_own(tmp_path: Path) -> None:
    home = tmp_path / "home"
    first_model(home)
    environment = {
        "OPSLOOP_PIPELINES": str(Path(loop.__file__)),
        "OPSLOOP_SCHEDULER_TICK_S": "0.2",
    }
    stop, failures = threading.Event(), []
    with server_process(home, free_port(), tmp_path / "server.log", environment) as (url, _):
        traffic = threading.Thread(target=send_traffic, args=(url, stop, failures), daemon=True)
        traffic.start()
        try:
            wait_for(
                lambda: (p := serving(url))["primary"]["version"] == 2 and p["canary"] is None,
                timeout=300,
            )
        finally:
            stop.set()
            traffic.join(timeout=60)
        events = every_event(url)
        runs = httpx.get(f"{url}/api/v1/pipeline-runs").json()
    assert failures == []
    assert [(r["pipeline"], r["trigger"], r["status"]) for r in runs] == [
        (loop.PIPELINE, "alert", "succeeded")
    ]
    story = [
        ("alert.fired", "monitor"),
        ("pipeline_run.started", None),
        ("dataset_version.created", "pipeline"),
        ("model_version.created", "pipeline"),
        ("model_version.evaluated", "pipeline"),
        ("endpoint.canary_started", "pipeline"),
        ("endpoint.promoted", "pipeline"),
        ("pipeline_run.succeeded", "pipeline"),
    ]
    told = [(e["kind"], e["actor_kind"]) for e in events]
    position = 0
    for kind, actor_kind in story:
        found = next(
            (
                i
                for i in range(position, len(told))
                if told[i][0] == kind and (actor_kind is None or told[i][1] == actor_kind)
            ),
            None,
        )
        assert found is not None, f"no {kind} by {actor_kind} after event {position}: {told}"
        position = found + 1
    evaluated = [e for e in events if e["kind"] == "model_version.evaluated"][-1]
    assert evaluated["data"]["verdict"] == "go"
    assert evaluated["data"]["version"] == 2
