"""The ``opsloop`` command: tables for people, JSON for scripts, one red line for errors."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pyarrow as pa
import pytest
import typer
from sklearn.linear_model import LogisticRegression
from typer.testing import CliRunner, Result

from opsloop.cli.main import app
from opsloop.domain.settings import Settings
from opsloop.sdk.client import Client
from opsloop.sdk.datasets import log_dataset
from opsloop.sdk.models import register_model

# The CLI reads the environment; none of the caller's OPSLOOP_* settings may leak in.
CLEAN_ENV: dict[str, str | None] = {
    key: None for key in os.environ if key.startswith("OPSLOOP_")
} | {"OPSLOOP_ACTOR": "cli-user"}


def point(value: float) -> dict[str, list[float]]:
    return {"values": [value], "steps": [0], "timestamps": [0]}


@dataclass
class Seeded:
    home: Path
    runs: dict[str, str]  # name -> id


@pytest.fixture
def seeded(tmp_path: Path) -> Iterator[Seeded]:
    """Project p: runs r0..r2 (C, f1, loss), model p/m with versions 1 and 2 and champion→1,
    dataset p/d@1. Written through the SDK, closed before the CLI opens the store."""
    client = Client(Settings.load(environ={}, home=tmp_path, actor="seeder"))
    try:
        runs = {}
        for index, f1 in enumerate([0.70, 0.85, 0.80]):
            run = client.create_run(project="p", name=f"r{index}", params={"C": index})
            client.end_run(run.id, metrics={"f1": point(f1), "loss": point(1 - f1)})
            runs[run.name] = run.id
        model = LogisticRegression().fit([[0.0], [1.0], [2.0], [3.0]], [0, 0, 1, 1])
        register_model(client, model, "p/m", run_id=runs["r1"])
        register_model(client, model, "p/m", description="second")
        client.set_alias("p", "m", "champion", 1)
        table = pa.table({"score": [0.5, 1.5, 2.5], "label": ["spam", "ham", "spam"]})
        log_dataset(client, table, "d", project="p")
    finally:
        client.close()
    yield Seeded(tmp_path, runs)


def opsloop(home: Path, *args: str) -> Result:
    result = CliRunner().invoke(app, ["--home", str(home), *args], env=CLEAN_ENV)
    assert result.exit_code == 0, (result.output, result.exception)
    assert "Traceback" not in result.output
    return result


def table_rows(text: str) -> list[list[str]]:
    """The body rows of the Rich tables in ``text``, as lists of cell texts."""
    return [
        [cell.strip() for cell in line.strip().strip("│").split("│")]
        for line in text.splitlines()
        if line.strip().startswith("│")
    ]


def header_cells(text: str) -> list[list[str]]:
    return [
        [cell.strip() for cell in line.strip().strip("┃").split("┃")]
        for line in text.splitlines()
        if line.strip().startswith("┃")
    ]


# -- runs ------------------------------------------------------------------------------------


def test_runs_list_shows_names_and_metric_columns(seeded: Seeded) -> None:
    result = opsloop(seeded.home, "runs", "list", "p")
    assert "p: 3 of 3 runs" in result.stdout
    (header,) = header_cells(result.stdout)
    assert header == ["id", "name", "experiment", "status", "started", "duration", "f1", "loss"]
    rows = {row[1]: row for row in table_rows(result.stdout)}
    assert set(rows) == {"r0", "r1", "r2"}
    assert rows["r1"][0] == seeded.runs["r1"][:12]
    assert (rows["r1"][3], rows["r1"][6], rows["r1"][7]) == ("FINISHED", "0.85", "0.15")


@pytest.mark.parametrize(
    ("options", "names", "title"),
    [
        ([], ["r2", "r1", "r0"], "3 of 3"),
        (["--filter", "metrics.f1 > 0.75"], ["r2", "r1"], "2 of 2"),
        (["-f", "params.C = '0'"], ["r0"], "1 of 1"),
        (["--order-by", "metrics.f1 desc"], ["r1", "r2", "r0"], "3 of 3"),
        (["--order-by", "name asc", "--limit", "2"], ["r0", "r1"], "2 of 3"),
        (["--experiment", "default", "--limit", "1"], ["r2"], "1 of 3"),
    ],
)
def test_runs_list_filters_orders_and_limits(
    seeded: Seeded, options: list[str], names: list[str], title: str
) -> None:
    result = opsloop(seeded.home, "runs", "list", "p", *options)
    assert f"p: {title} runs" in result.stdout
    assert [row[1] for row in table_rows(result.stdout)] == names


def test_runs_list_json_parses_with_runs_and_total(seeded: Seeded) -> None:
    result = opsloop(
        seeded.home, "runs", "list", "p", "--json", "--order-by", "metrics.f1 asc", "--limit", "2"
    )
    found = json.loads(result.stdout)
    assert found["total"] == 3
    assert [r["name"] for r in found["runs"]] == ["r0", "r2"]
    assert found["runs"][0]["metrics"] == {"f1": 0.7, "loss": pytest.approx(0.3)}
    assert found["runs"][0]["params"] == {"C": "0"}


@pytest.mark.parametrize("length", [32, 8])
def test_runs_show_by_id_and_by_prefix(seeded: Seeded, length: int) -> None:
    run_id = seeded.runs["r1"]
    result = opsloop(seeded.home, "runs", "show", run_id[:length])
    assert "FINISHED" in result.stdout
    assert "p / default" in result.stdout
    assert ["C", "1"] in table_rows(result.stdout)
    assert ["f1", "0.85"] in table_rows(result.stdout)


def test_runs_show_prints_the_whole_id_on_one_line(seeded: Seeded) -> None:
    """People copy the id from this screen; it must not be folded across lines."""
    run_id = seeded.runs["r1"]
    result = opsloop(seeded.home, "runs", "show", run_id[:8])
    assert run_id in result.stdout


def test_runs_show_json(seeded: Seeded) -> None:
    run_id = seeded.runs["r2"]
    shown = json.loads(opsloop(seeded.home, "runs", "show", run_id[:8], "--json").stdout)
    assert (shown["id"], shown["name"], shown["status"]) == (run_id, "r2", "FINISHED")
    assert shown["metrics"]["f1"] == 0.8
    assert shown["user"] == "seeder"


# -- models ----------------------------------------------------------------------------------


def test_models_list_shows_latest_and_aliases(seeded: Seeded) -> None:
    result = opsloop(seeded.home, "models", "list")
    assert "1 models" in result.stdout
    (row,) = table_rows(result.stdout)
    assert row[:3] == ["p/m", "2", "champion→1"]
    listed = json.loads(opsloop(seeded.home, "models", "list", "--json").stdout)
    assert [(m["name"], m["latest_version"], m["aliases"]) for m in listed] == [
        ("m", 2, {"champion": 1})
    ]


def test_models_show_lists_versions_and_aliases(seeded: Seeded) -> None:
    result = opsloop(seeded.home, "models", "show", "p/m")
    assert "champion → 1" in result.stdout
    versions = [row for row in table_rows(result.stdout) if row[0] in ("1", "2")]
    assert [(v[0], v[1], v[2], v[3]) for v in versions] == [
        ("1", "champion", "sklearn", seeded.runs["r1"][:12]),
        ("2", "", "sklearn", ""),
    ]
    assert {v[-1] for v in versions} == {"seeder"}

    shown = json.loads(opsloop(seeded.home, "models", "show", "p/m", "--json").stdout)
    assert shown["model"]["aliases"] == {"champion": 1}
    assert [v["description"] for v in shown["versions"]] == ["", "second"]


def test_moving_an_alias_shows_in_its_history(seeded: Seeded) -> None:
    moved = opsloop(seeded.home, "models", "alias", "p/m", "champion", "2", "--reason", "x")
    assert "p/m@champion: version 1 → version 2" in moved.stdout

    history = opsloop(seeded.home, "models", "history", "p/m", "champion")
    rows = table_rows(history.stdout)
    assert [(r[1], r[2], r[3], r[4]) for r in rows] == [
        ("1", "2", "cli-user", "x"),
        ("", "1", "seeder", ""),
    ]
    shown = json.loads(opsloop(seeded.home, "models", "show", "p/m", "--json").stdout)
    assert shown["model"]["aliases"] == {"champion": 2}


def test_a_new_alias_reads_as_moved_from_nothing(seeded: Seeded) -> None:
    moved = opsloop(seeded.home, "models", "alias", "p/m", "challenger", "2", "--json")
    move = json.loads(moved.stdout)
    assert (move["alias"], move["from_version"], move["to_version"]) == ("challenger", None, 2)
    assert move["actor"] == "cli-user"


# -- datasets --------------------------------------------------------------------------------


def test_datasets_list(seeded: Seeded) -> None:
    result = opsloop(seeded.home, "datasets", "list")
    assert "1 datasets" in result.stdout
    assert table_rows(result.stdout)[0][:2] == ["p/d", "1"]
    listed = json.loads(opsloop(seeded.home, "datasets", "list", "--json").stdout)
    assert [(d["project"], d["name"], d["latest_version"]) for d in listed] == [("p", "d", 1)]


@pytest.mark.parametrize("ref", ["p/d@1", "p/d"])
def test_datasets_show_has_a_columns_table(seeded: Seeded, ref: str) -> None:
    result = opsloop(seeded.home, "datasets", "show", ref)
    assert "dataset p/d@1" in result.stdout
    assert "3 × 2" in result.stdout
    columns = {row[0]: row for row in table_rows(result.stdout)}
    assert set(columns) == {"score", "label"}
    assert columns["score"][1:5] == ["double", "3", "0", "3"]
    assert "min 0.5" in columns["score"][5] and "max 2.5" in columns["score"][5]
    assert columns["label"][5] == "spam (2), ham (1)"


def test_datasets_show_json(seeded: Seeded) -> None:
    shown = json.loads(opsloop(seeded.home, "datasets", "show", "p/d@1", "--json").stdout)
    assert (shown["version"], shown["num_rows"], shown["num_columns"]) == (1, 3, 2)
    assert [c["name"] for c in shown["profile"]["columns"]] == ["score", "label"]


# -- errors, through the real console entry point ----------------------------------------------


def console(home: Path, *args: str) -> subprocess.CompletedProcess[str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("OPSLOOP_")}
    return subprocess.run(
        [sys.executable, "-m", "opsloop.cli.main", "--home", str(home), *args],
        capture_output=True,
        text=True,
        env=env,
        timeout=120,
        check=False,
    )


@pytest.mark.parametrize(
    ("args", "code", "message"),
    [
        (["runs", "show", "deadbeef00"], 1, "run 'deadbeef00' not found"),
        (["runs", "list", "ghost"], 1, "project 'ghost' not found"),
        (["runs", "list", "p", "--filter", "metrics.f1 >"], 2, "must be FIELD OP VALUE"),
        (["runs", "list", "p", "--order-by", "name sideways"], 2, "asc or desc"),
        (["models", "show", "p/ghost"], 1, "model p/ghost not found"),
        (["models", "show", "no-slash"], 2, "project/model"),
        (["models", "alias", "p/m", "champion", "9"], 1, "has no version 9"),
        (["models", "alias", "p/m", "latest", "1"], 2, "reserved"),
        (["datasets", "show", "p/d@7"], 1, "has no version 7"),
    ],
)
def test_user_errors_are_one_red_line_and_an_exit_code(
    seeded: Seeded, args: list[str], code: int, message: str
) -> None:
    done = console(seeded.home, *args)
    assert done.returncode == code, (done.stdout, done.stderr)
    assert done.stderr.startswith("error:"), done.stderr
    assert message in done.stderr
    assert len(done.stderr.strip().splitlines()) == 1, done.stderr
    assert "Traceback" not in done.stdout + done.stderr
    assert done.stdout == ""


def test_the_console_entry_point_prints_results(seeded: Seeded) -> None:
    done = console(seeded.home, "runs", "list", "p", "--json")
    assert done.returncode == 0, done.stderr
    assert json.loads(done.stdout)["total"] == 3


# -- help ------------------------------------------------------------------------------------


def test_help_lists_every_command_group() -> None:
    result = CliRunner().invoke(app, ["--help"], env=CLEAN_ENV)
    assert result.exit_code == 0
    commands = result.stdout.split("Commands:", 1)[1]
    listed = {line.split()[0] for line in commands.splitlines() if line.strip()}
    assert listed == {
        "runs",
        "models",
        "datasets",
        "server",
        "version",
        "serve",
        "endpoints",
        "evaluate",
        "evaluations",
        "deploy",
        "promote",
        "rollback",
        "predict",
        "feedback",
        "predictions",
        "tokens",
        "pipeline",
        "monitor",
        "alerts",
        "review",
        "report",
        "demo",
    }


def walk(command: Any, path: tuple[str, ...] = ()) -> Iterator[tuple[str, Any]]:
    """Every command under ``command`` (Typer's click commands), groups included."""
    yield " ".join(path) or "opsloop", command
    for name, sub in (getattr(command, "commands", None) or {}).items():
        yield from walk(sub, (*path, name))


COMMANDS = list(walk(typer.main.get_command(app)))


def test_the_command_tree_is_the_expected_one() -> None:
    assert {name for name, _ in COMMANDS} == {
        "opsloop",
        "server",
        "version",
        "runs",
        "runs list",
        "runs show",
        "models",
        "models list",
        "models show",
        "models alias",
        "models history",
        "datasets",
        "datasets list",
        "datasets show",
        "datasets validate",
        "report",
        "demo",
        "serve",
        "endpoints",
        "endpoints list",
        "endpoints show",
        "evaluate",
        "evaluations",
        "evaluations list",
        "evaluations show",
        "deploy",
        "promote",
        "rollback",
        "predict",
        "feedback",
        "feedback import",
        "predictions",
        "predictions export",
        "tokens",
        "tokens create",
        "tokens list",
        "tokens revoke",
        "pipeline",
        "pipeline run",
        "pipeline list",
        "pipeline show",
        "pipeline trigger",
        "pipeline trigger add",
        "pipeline trigger list",
        "pipeline trigger remove",
        "monitor",
        "monitor set",
        "monitor run",
        "monitor show",
        "alerts",
        "alerts list",
        "alerts show",
        "alerts resolve",
        "review",
        "review policy",
        "review policy set",
        "review policy show",
        "review list",
        "review next",
        "review decide",
        "review skip",
        "review stats",
        "review route",
    }


@pytest.mark.parametrize(("name", "command"), COMMANDS, ids=[name for name, _ in COMMANDS])
def test_every_command_has_help(name: str, command: Any) -> None:
    assert (command.help or "").strip(), f"`{name}` has no help text"
    result = CliRunner().invoke(app, [*name.split()[int(name == "opsloop") :], "--help"])
    assert result.exit_code == 0, result.output
    assert command.help.strip().splitlines()[0] in result.stdout


@pytest.mark.parametrize(("name", "command"), COMMANDS, ids=[name for name, _ in COMMANDS])
def test_every_option_and_argument_has_help(name: str, command: Any) -> None:
    undocumented = [
        param.name
        for param in command.params
        if param.name != "help" and not (getattr(param, "help", None) or "").strip()
    ]
    assert undocumented == [], f"`{name}` has parameters without help: {undocumented}"
