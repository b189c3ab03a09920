"""Under 64 clients of real HTTP load on a real uvicorn server (127.0.0.1): deploys and
rollbacks fail no request, and a ``kill -9`` loses no answered prediction."""

from __future__ import annotations

import os
import signal
from pathlib import Path
from typing import Any

import httpx
import pytest

from opsloop.sdk.client import Client
from opsloop.sdk.models import register_model
from opsloop.store.prediction_log import PredictionLog

from ._load import Load
from ._models import spam_classifier
from .conftest import free_port, running_server, server_process, wait_for

pytestmark = pytest.mark.slow
CYCLES = 20


def row(number: int) -> dict[str, Any]:
    return {
        "inputs": [{"num_char": float(number % 50), "exclaim": number % 10, "links": 0.5}],
        "ids": [f"r{number}"],
    }


def test_deploy_and_rollback_under_load_fail_no_request(tmp_path: Path) -> None:
    with running_server(tmp_path / "home", free_port(), tmp_path / "server.log") as url:
        client = Client(url=url, actor="deployer")
        first, frame = spam_classifier()
        second, _ = spam_classifier(seed=1, c=0.01)
        v1 = register_model(client, first, "mod/violation", input_example=frame.head())
        v2 = register_model(client, second, "mod/violation", input_example=frame.head())
        client.deploy("moderation", v1.ref, force=True, reason="launch")
        with Load(f"{url}/endpoints/moderation/predict", row) as load:
            wait_for(lambda: load.count() > 200)
            for _ in range(CYCLES):
                client.deploy("moderation", v2.ref, force=True, reason="cycle")
                before = load.count()
                wait_for(lambda before=before: load.count() > before + 20)
                client.rollback("moderation", reason="cycle")
                before = load.count()
                wait_for(lambda before=before: load.count() > before + 20)
            report = load.stop()
        client.close()
    assert report.failures == []
    assert report.models == {v1.ref, v2.ref}
    assert len(set(report.answered)) == len(report.answered)  # no answer given twice


def test_kill_9_loses_no_answered_prediction(tmp_path: Path) -> None:
    home = tmp_path / "home"
    port = free_port()
    with running_server(home, port, tmp_path / "setup.log") as url:
        client = Client(url=url, actor="deployer")
        model, frame = spam_classifier()
        version = register_model(client, model, "mod/violation", input_example=frame.head())
        client.deploy("moderation", version.ref, force=True, reason="launch")
        client.close()
    with (
        server_process(home, port, tmp_path / "server.log") as (url, server),
        Load(f"{url}/endpoints/moderation/predict", row) as load,
    ):
        wait_for(lambda: load.count() > 500)
        os.kill(server.pid, signal.SIGKILL)
        server.wait(timeout=30)
        report = load.stop()
    answered = report.answered
    assert len(set(answered)) == len(answered)  # each answer came once
    log = PredictionLog(home / "predictions", background=False)
    found = log.find_prediction_ids("moderation", answered)
    assert set(answered) - found == set()
    # and a restarted server serves again over the same log
    with running_server(home, free_port(), tmp_path / "restart.log") as url:
        answer = httpx.post(f"{url}/endpoints/moderation/predict", json=row(7)).json()
        assert answer["predictions"][0]["id"] == "r7"
