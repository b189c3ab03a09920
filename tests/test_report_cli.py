"""``opsloop report`` and ``GET /api/v1/report[.svg]``: one JSON shape for both, the map in
the terminal and as SVG, 4xx naming the field for bad input, roles with auth on."""

from __future__ import annotations

import json
import xml.etree.ElementTree as ET
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import httpx
import pytest
from typer.testing import CliRunner

from opsloop.cli.main import app
from opsloop.domain.entities import Actor
from opsloop.domain.report import Report, Stage
from opsloop.domain.settings import Settings
from opsloop.server.app import create_app
from opsloop.services.platform import Platform
from opsloop.store.repos import _time

from ._asgi import SyncASGITransport
from .test_cli import CLEAN_ENV, console, header_cells, table_rows
from .test_report import DAY, FakeTime, T, tell

SINCE, UNTIL = "2025-06-15T15:06:40", "2025-06-25T15:06:40"  # T and T + 10 days
PERIOD = f"since={SINCE}&until={UNTIL}"


@dataclass
class Store:
    home: Path
    secrets: dict[str, str]  # role -> token


@pytest.fixture(scope="module")
def store(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Store]:
    """test_report's story in a store, with a token per role and one for an endpoint."""
    home = tmp_path_factory.mktemp("report") / "home"
    patch = pytest.MonkeyPatch()
    clock = FakeTime(T)
    patch.setattr(_time, "time", clock)
    platform = Platform.open(Settings.load(environ={}, home=home, actor="seeder"))
    try:
        tell(platform, clock)
        root = Actor(name="root")
        secrets = {
            role: platform.auth.create(role, root, name=f"{role}-1").secret
            for role in ("viewer", "deployer")
        }
        secrets["scoped"] = platform.auth.create("viewer", root, name="ep", endpoint="ep").secret
    finally:
        patch.undo()
        platform.close()
    yield Store(home, secrets)


@pytest.fixture
def http(store: Store) -> Iterator[httpx.Client]:
    application = create_app(Settings.load(environ={}, home=store.home, auth=True))
    with httpx.Client(
        transport=SyncASGITransport(application),
        base_url="http://testserver",
        headers={"Authorization": f"Bearer {store.secrets['viewer']}"},
    ) as client:
        yield client
    application.state.platform.close()


def cli(store: Store, *args: str) -> str:
    result = CliRunner().invoke(app, ["--home", str(store.home), *args], env=CLEAN_ENV)
    assert result.exit_code == 0, (result.output, result.exception)
    return result.stdout


def test_the_api_answers_the_report_a_viewer_may_read(http: httpx.Client) -> None:
    answer = http.get(f"/api/v1/report?project=mod&{PERIOD}")
    assert answer.status_code == 200, answer.text
    found = Report.model_validate(answer.json())
    assert found.since.timestamp() == T and found.until.timestamp() == T + 10 * DAY
    assert [row.stage.value for row in found.stages] == [stage.value for stage in Stage]
    assert found.stage(Stage.ROLLBACK).level.value == "automated"
    assert found.delivery.change_failure_rate == pytest.approx(1 / 3)
    body = answer.json()
    assert set(body) >= {"stages", "lead_times", "lead_time", "delivery", "recovery", "labels"}
    assert set(body["stages"][0]) >= {
        "stage",
        "label",
        "level",
        "by_people",
        "by_machines",
        "hours",
    }


def test_the_map_as_svg(http: httpx.Client) -> None:
    answer = http.get(f"/api/v1/report.svg?project=mod&endpoint=ep&{PERIOD}")
    assert answer.status_code == 200
    assert answer.headers["content-type"].startswith("image/svg+xml")
    root = ET.fromstring(answer.text)
    assert "endpoint ep" in (root.get("aria-label") or "")
    assert "rollback: automated" in (root.get("aria-label") or "")


@pytest.mark.parametrize(
    ("query", "status", "field"),
    [
        ("since=yesterday", 422, "since"),
        ("until=2025-13-40", 422, "until"),
        (f"since={UNTIL}&until={SINCE}", 422, "since"),
        ("project=ghost", 404, "project"),
        ("endpoint=ghost", 404, "endpoint"),
        ("project=Bad Name", 422, "project"),
    ],
)
def test_bad_input_is_a_4xx_naming_the_field(
    http: httpx.Client, query: str, status: int, field: str
) -> None:
    for path in ("/api/v1/report", "/api/v1/report.svg"):
        answer = http.get(f"{path}?{query}")
        assert answer.status_code == status, (path, answer.text)
        assert answer.json()["error"]["field"] == field


def test_a_token_for_one_endpoint_may_not_read_the_report(store: Store, http: httpx.Client) -> None:
    refused = http.get(
        "/api/v1/report", headers={"Authorization": f"Bearer {store.secrets['scoped']}"}
    )
    assert refused.status_code == 403


def test_the_cli_draws_the_map_and_the_tables(store: Store) -> None:
    text = cli(store, "report", "--project", "mod", "--since", SINCE, "--until", UNTIL)
    assert text.startswith("Report: project mod · 2025-06-15 15:06 → 2025-06-25 15:06 UTC")
    levels = {row[0]: row[1] for row in table_rows(text) if len(row) == 5}
    assert levels["rollback"] == "● automated"
    assert levels["training"] == "◐ manual"
    assert levels["review"] == "○ not handled"
    headers = header_cells(text)
    assert ["stage", "level", "who did it", "counted", "note"] in headers
    assert "next to automate: training (0.3 h of people's time per month)" in text
    assert "33% (1 of 3 undone by a rollback)" in text
    assert "violation@2" in text  # a lead-time row


def test_the_cli_json_is_the_api_json(store: Store, http: httpx.Client) -> None:
    text = cli(store, "report", "--project", "mod", "--since", SINCE, "--until", UNTIL, "--json")
    printed = json.loads(text)
    served = http.get(f"/api/v1/report?project=mod&{PERIOD}").json()
    for body in (printed, served):
        body.pop("made_at")
    assert printed == served


def test_the_cli_writes_the_svg(store: Store, tmp_path: Path) -> None:
    target = tmp_path / "map.svg"
    text = cli(
        store,
        "report",
        "--endpoint",
        "ep",
        "--since",
        SINCE,
        "--until",
        UNTIL,
        "--svg",
        str(target),
    )
    assert f"maturity map written to {target}" in text
    root = ET.fromstring(target.read_text())
    assert root.tag.endswith("svg")


@pytest.mark.parametrize(
    ("args", "code", "message"),
    [
        (["--since", "yesterday"], 2, "since"),
        (["--project", "ghost"], 1, "project 'ghost' not found"),
        (["--since", UNTIL, "--until", SINCE], 2, "since must be before until"),
    ],
)
def test_bad_input_is_one_red_line(store: Store, args: list[str], code: int, message: str) -> None:
    done = console(store.home, "report", *args)
    assert done.returncode == code, (done.stdout, done.stderr)
    assert done.stderr.startswith("error:") and message in done.stderr
    assert len(done.stderr.strip().splitlines()) == 1
    assert done.stdout == ""


def test_a_missing_svg_folder_is_refused(store: Store, tmp_path: Path) -> None:
    done = console(store.home, "report", "--svg", str(tmp_path / "nowhere" / "map.svg"))
    assert done.returncode == 1 and "no such folder" in done.stderr
