"""Monitors through the REST API, the SDK functions and ``opsloop monitor set|run|show``."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from typer.testing import CliRunner

from opsloop.cli._context import CliState
from opsloop.cli.monitoring import app as monitor_app
from opsloop.domain.errors import InvalidInput, NotFound
from opsloop.domain.settings import Settings
from opsloop.sdk.monitoring import get_monitor, monitor_values, run_monitor, set_monitor

from .test_monitoring_service import HOUR, T0, World, make_world, posts

CONFIG = "window: 1h\ntarget: spam\nmin_labels: 10\n"


@pytest.fixture
def world(sqlite_settings: Settings) -> Iterator[World]:
    for made in make_world(sqlite_settings):
        frame, truth = posts(40, 5)
        for hour in range(3):
            labelled = range(0, 40, 2) if hour != 1 else range(0, 40, 8)  # 20, 5, 20 labels
            made.log(frame, T0 + hour * HOUR, truth=truth, labelled=labelled, spacing=30.0)
        yield made


def test_put_get_run_and_read_values_over_http(world: World) -> None:
    client = world.client
    put = client._json("PUT", "/endpoints/moderation/monitor", json={"config": CONFIG})
    assert put["config"]["window_s"] == HOUR and put["source"] == CONFIG
    assert client._json("GET", "/endpoints/moderation/monitor")["config"]["min_labels"] == 10
    until = "2026-05-28T23:00:00Z"
    ran = client._json("POST", "/endpoints/moderation/monitor/run", json={"until": until})
    assert [(w["requests"], w["labels"], w["uncertain"]) for w in ran] == [
        (40, 20, False),
        (40, 5, True),
        (40, 20, False),
    ]
    again = client._json("POST", "/endpoints/moderation/monitor/run", json={"until": until})
    assert again == []  # nothing new has closed
    values = client._json(
        "GET",
        "/endpoints/moderation/monitor/values",
        params={"prefix": "performance.", "limit": 2},
    )
    assert {v["window_end"] for v in values} == {"2026-05-28T22:00:00Z", "2026-05-28T23:00:00Z"}
    assert {v["metric"] for v in values} >= {"performance.accuracy", "performance.uncertain"}


def test_readers_see_a_webhook_by_scheme_and_host_only(world: World) -> None:
    secret = "https://hooks.example.com:8443/services/T000/B000/XXXXSECRET"
    config = CONFIG + f"notify:\n  - webhook: {secret}\n    format: slack\n  - log\n"
    put = world.client._json("PUT", "/endpoints/moderation/monitor", json={"config": config})
    got = world.client._json("GET", "/endpoints/moderation/monitor")
    for shown in (put, got):
        assert "XXXXSECRET" not in json.dumps(shown)
        assert shown["config"]["notify"][0]["webhook"] == "https://hooks.example.com:8443/…"
        assert "webhook: https://hooks.example.com:8443/…" in shown["source"]
    stored = world.platform.monitoring.get("moderation")  # the service keeps what it needs
    assert stored.config.notify[0]["webhook"] == secret


def test_api_errors_name_the_field(world: World) -> None:
    client = world.client
    with pytest.raises(InvalidInput) as caught:
        client._json(
            "PUT", "/endpoints/moderation/monitor", json={"config": "window: 1h\nmin_labels: x"}
        )
    assert caught.value.field == "monitor"
    assert "monitor key 'min_labels' (line 2)" in caught.value.headline
    with pytest.raises(InvalidInput) as caught:
        client._json("PUT", "/endpoints/moderation/monitor", json={"yaml": CONFIG})
    assert caught.value.field in ("config", "yaml")
    with pytest.raises(NotFound):
        client._json("GET", "/endpoints/moderation/monitor")
    with pytest.raises(NotFound):
        client._json("PUT", "/endpoints/elsewhere/monitor", json={"config": CONFIG})
    with pytest.raises(InvalidInput) as caught:
        client._json("GET", "/endpoints/moderation/monitor/values", params={"limit": 0})
    assert caught.value.field == "limit"
    year_zero = "0001-01-01T00:00:00+14:00"  # year 0 once read in UTC
    with pytest.raises(InvalidInput) as caught:
        client._json("POST", "/endpoints/moderation/monitor/run", json={"since": year_zero})
    assert caught.value.field == "since"
    with pytest.raises(InvalidInput) as caught:
        client._json("GET", "/endpoints/moderation/monitor/values", params={"since": year_zero})
    assert caught.value.field == "since"


def test_the_sdk_functions(world: World, tmp_path: Path) -> None:
    path = tmp_path / "monitor.yaml"
    path.write_text(CONFIG)
    assert set_monitor(world.client, "moderation", path).config.target == "spam"
    assert set_monitor(world.client, "moderation", str(path)).source == CONFIG
    assert get_monitor(world.client, "moderation").config.min_labels == 10
    from datetime import UTC, datetime

    windows = run_monitor(
        world.client, "moderation", until=datetime.fromtimestamp(T0 + 2 * HOUR, UTC)
    )
    assert [w.requests for w in windows] == [40, 40]
    again = run_monitor(
        world.client,
        "moderation",
        until=datetime.fromtimestamp(T0 + 3 * HOUR, UTC),
        since=datetime.fromtimestamp(T0, UTC),
    )
    assert len(again) == 3
    found = monitor_values(world.client, "moderation", metric="service.requests", limit=2)
    assert [v.value for v in found] == [40.0, 40.0]
    assert found[-1].window_end == datetime.fromtimestamp(T0 + 3 * HOUR, UTC)


def cli(world: World, *args: str) -> Any:
    result = CliRunner().invoke(monitor_app, list(args), obj=CliState(_client=world.client))
    assert result.exit_code == 0, result.output
    return result.output


def test_the_cli_sets_runs_and_shows_a_monitor(world: World, tmp_path: Path) -> None:
    path = tmp_path / "monitor.yaml"
    path.write_text(CONFIG)
    assert "moderation: monitor set (window 1h, reference the training data)" in cli(
        world, "set", "moderation", str(path)
    )
    output = cli(world, "run", "moderation", "--until", "2026-05-28 23:00:00")
    assert "3 windows computed" in output
    assert "5 (uncertain)" in output and "20 (uncertain)" not in output
    assert "no window has closed" in cli(
        world, "run", "moderation", "--until", "2026-05-28 23:00:00"
    )

    shown = cli(world, "show", "moderation", "--metric", "performance.", "--last", "3")
    accuracy = next(line for line in shown.splitlines() if "performance.accuracy " in line)
    spark = next(word for word in accuracy.split() if set(word) <= set("▁▂▃▄▅▆▇█"))
    assert len(spark) == 3
    assert "1 of 3" in accuracy  # the middle window had 5 labels, fewer than min_labels
    labels_row = next(line for line in shown.splitlines() if "performance.labels " in line)
    assert "of 3" not in labels_row  # label counts are never uncertain themselves
    assert "fewer labels than min_labels" in shown
    assert "fewer labels" not in cli(world, "show", "moderation", "--metric", "drift.")

    data = json.loads(cli(world, "show", "moderation", "--metric", "service.requests", "--json"))
    assert data["monitor"]["endpoint"] == "moderation"
    assert [v["value"] for v in data["values"]] == [40.0, 40.0, 40.0]


def test_the_cli_refuses_a_missing_file(world: World, tmp_path: Path) -> None:
    result = CliRunner().invoke(
        monitor_app,
        ["set", "moderation", str(tmp_path / "none.yaml")],
        obj=CliState(_client=world.client),
    )
    assert result.exit_code == 1
    assert "no such file" in result.output
