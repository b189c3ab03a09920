"""Alerts through the REST API, the SDK functions and ``opsloop alerts``."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from typer.testing import CliRunner, Result

from opsloop.cli.main import app as cli_app
from opsloop.domain.alerts import AlertState, parse_notifiers, parse_rules
from opsloop.domain.errors import Conflict, InvalidInput, NotFound
from opsloop.domain.settings import Settings
from opsloop.sdk.alerts import get_alert, list_alerts, resolve_alert
from opsloop.sdk.client import Client
from opsloop.sdk.models import register_model
from opsloop.store.repos import endpoints
from opsloop.store.tables import monitor_values

from ._models import spam_classifier
from .test_cli import CLEAN_ENV, console

RULES = parse_rules(
    [
        {"name": "drift", "when": "drift.share_drifted > 0.3"},
        {"name": "accuracy", "when": "performance.accuracy < 0.8", "severity": "critical"},
    ]
)


def seed(client: Client) -> None:
    """moderation serves mod/violation@1; drift fired (then resolved), accuracy is firing."""
    model, frame = spam_classifier()
    register_model(client, model, "mod/violation", input_example=frame.head())
    client.deploy("moderation", "mod/violation@1", force=True, reason="test")
    platform = client._transport.app.state.platform  # type: ignore[attr-defined]
    values = [
        (1, "drift.share_drifted", 0.5),
        (1, "performance.accuracy", 0.9),
        (2, "drift.share_drifted", 0.1),
        (2, "performance.accuracy", 0.6),
    ]
    for window, metric, value in values:
        end = window * 3600.0
        with platform.db.begin() as conn:
            conn.execute(
                monitor_values.insert().values(
                    endpoint_id=endpoints.get_id(conn, "moderation"),
                    metric=metric,
                    window_start=end - 3600.0,
                    window_end=end,
                    value=value,
                    detail=None,
                    computed_at=end,
                )
            )
        platform.alerts.evaluate("moderation", RULES, parse_notifiers(["log"]), end + 60)


@pytest.fixture
def seeded(sqlite_settings: Settings) -> Iterator[Client]:
    made = Client(sqlite_settings)
    seed(made)
    yield made
    made.close()


def test_list_get_and_resolve_through_the_api(seeded: Client) -> None:
    accuracy, drift = list_alerts(seeded)
    assert (accuracy.rule, accuracy.state, drift.rule, drift.state) == (
        "accuracy",
        AlertState.FIRING,
        "drift",
        AlertState.RESOLVED,
    )
    assert [a.rule for a in list_alerts(seeded, "moderation", "firing")] == ["accuracy"]
    assert [a.rule for a in list_alerts(seeded, state="resolved", limit=5)] == ["drift"]
    shown = get_alert(seeded, accuracy.id)
    assert shown == accuracy
    assert [(r.action, r.ok) for r in shown.actions] == [("notify log", True)]
    done = resolve_alert(seeded, accuracy.id, "retrained by hand")
    assert (done.state, done.resolved_by, done.resolution) == (
        AlertState.RESOLVED,
        "tester",
        "retrained by hand",
    )
    (event,) = seeded.events(kind="alert.resolved", subject="endpoint:moderation")[-1:]
    assert (event.actor, event.data["alert"]) == ("tester", accuracy.id)


def test_api_errors_name_the_field(seeded: Client) -> None:
    with pytest.raises(NotFound) as missing:
        get_alert(seeded, 999)
    assert missing.value.field == "alert"
    with pytest.raises(InvalidInput) as state:
        list_alerts(seeded, state="open")
    assert state.value.field == "state"
    with pytest.raises(InvalidInput):
        seeded.request("GET", f"/alerts/{2**40}")  # out of range: refused, not a 500
    with pytest.raises(NotFound):
        list_alerts(seeded, "no-such-endpoint")
    drift = list_alerts(seeded, state="resolved")[0]
    with pytest.raises(Conflict):
        resolve_alert(seeded, drift.id, "twice")


@pytest.fixture
def home(tmp_path: Path) -> Path:
    client = Client(Settings.load(environ={}, home=tmp_path / "home", actor="seeder"))
    try:
        seed(client)
    finally:
        client.close()
    return tmp_path / "home"


def cli(home: Path, *args: str) -> Result:
    return CliRunner().invoke(cli_app, ["--home", str(home), *args], env=CLEAN_ENV)


def test_the_alerts_commands(home: Path) -> None:
    listed = cli(home, "alerts", "list", "--state", "firing")
    assert listed.exit_code == 0, listed.output
    assert "1 alerts" in listed.stdout and "accuracy" in listed.stdout
    assert "drift" not in listed.stdout
    as_json: list[dict[str, Any]] = json.loads(cli(home, "alerts", "list", "--json").stdout)
    assert [(a["rule"], a["state"]) for a in as_json] == [
        ("accuracy", "firing"),
        ("drift", "resolved"),
    ]
    accuracy = as_json[0]["id"]
    shown = cli(home, "alerts", "show", str(accuracy))
    assert shown.exit_code == 0, shown.output
    assert "performance.accuracy < 0.8" in shown.stdout and "notify log" in shown.stdout
    done = cli(home, "alerts", "resolve", str(accuracy), "--reason", "false alarm")
    assert done.exit_code == 0, done.output
    assert f"alert {accuracy} (accuracy on moderation) resolved" in done.stdout
    after = json.loads(cli(home, "alerts", "show", str(accuracy), "--json").stdout)
    assert (after["state"], after["resolution"], after["resolved_by"]) == (
        "resolved",
        "false alarm",
        "cli-user",
    )
    again = console(home, "alerts", "resolve", str(accuracy))
    assert again.returncode == 1
    assert f"alert {accuracy} is already resolved" in again.stderr
    bad = console(home, "alerts", "list", "--state", "open")
    assert bad.returncode == 2
    assert "(field: state)" in bad.stderr
