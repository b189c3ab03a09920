"""``opsloop monitor run`` from cron: a pipeline its alert starts runs to its end in that
short-lived process, instead of being cut off (and marked failed) when the command exits."""

from __future__ import annotations

import os
import subprocess
import sys
import textwrap
from datetime import UTC, datetime
from pathlib import Path

from opsloop.domain.settings import Settings
from opsloop.sdk.alerts import list_alerts
from opsloop.sdk.client import Client
from opsloop.sdk.monitoring import set_monitor

from .test_monitoring_service import HOUR, T0, make_world, posts

OPSLOOP = [sys.executable, "-m", "opsloop.cli.main"]
PIPELINES = """
import time

import opsloop


@opsloop.step(cache=False)
def take_a_while(seconds: float) -> float:
    time.sleep(seconds)
    return seconds


@opsloop.pipeline(name="after-alert")
def after_alert(endpoint: str, seconds: float = 1.5) -> None:
    take_a_while(seconds)
"""
MONITOR = """
window: 1h
alerts:
  - {name: traffic, when: "service.requests > 0", action: "pipeline after-alert"}
"""


def test_a_pipeline_started_by_an_alert_ends_before_the_command_does(
    sqlite_settings: Settings, tmp_path: Path
) -> None:
    module = tmp_path / "cron_pipelines.py"
    module.write_text(textwrap.dedent(PIPELINES))
    for world in make_world(sqlite_settings):
        set_monitor(world.client, "moderation", MONITOR)
        world.log(posts(5, 3)[0], T0 + 10)
    env = {k: v for k, v in os.environ.items() if not k.startswith("OPSLOOP_")}
    env["OPSLOOP_PIPELINES"] = str(module)
    until = datetime.fromtimestamp(T0 + HOUR, UTC).isoformat()
    command = ["--home", str(sqlite_settings.home), "monitor", "run", "moderation"]
    done = subprocess.run(
        [*OPSLOOP, *command, "--until", until],
        capture_output=True,
        text=True,
        env=env,
        timeout=120,
        check=False,
    )
    assert done.returncode == 0, done.stderr
    assert "waiting for pipeline run" in done.stderr

    client = Client(sqlite_settings)
    try:
        (alert,) = list_alerts(client, "moderation")
        (action,) = alert.actions
        assert action.ok, action.detail
        run = client.get_pipeline_run(action.data["run"])
        assert run.status.value == "succeeded", run.error
        assert [step.status.value for step in run.steps] == ["succeeded"]
        assert run.trigger.value == "alert"
    finally:
        client.close()
