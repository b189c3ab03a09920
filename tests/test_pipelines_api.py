"""Pipelines from outside: the REST API, the ``opsloop pipeline`` commands, the SDK, and a real
server that loads its pipelines from the ``pipelines`` setting and runs them under auth."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import textwrap
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from typer.testing import CliRunner, Result

import opsloop
from opsloop.cli.main import app as cli
from opsloop.domain.entities import Actor, ActorKind
from opsloop.domain.pipelines import PipelineRun, PipelineStatus
from opsloop.domain.settings import Settings
from opsloop.sdk.client import Client
from opsloop.server.app import create_app
from opsloop.services.pipelines import definitions
from opsloop.services.platform import Platform

from ._asgi import SyncASGITransport
from .conftest import free_port, wait_for

V1 = "/api/v1"
CLEAN_ENV: dict[str, str | None] = {
    key: None for key in os.environ if key.startswith("OPSLOOP_")
} | {"OPSLOOP_ACTOR": "cli-user"}


@opsloop.step
def square(x: int) -> int:
    print(f"squaring {x}")
    return x * x


@opsloop.step(cache=False)
def check(value: int) -> int:
    if value > 100:
        raise OverflowError(f"{value} is too big")
    return value


@opsloop.pipeline(name="t_api", project="tests")
def api_pipeline(x: int = 3) -> None:
    """Square a number, then check it."""
    check(square(x))


def ok(response: httpx.Response, status: int = 200) -> Any:
    assert response.status_code == status, response.text
    return response.json()


def error(response: httpx.Response, status: int) -> dict[str, Any]:
    assert response.status_code == status, response.text
    found: dict[str, Any] = response.json()["error"]
    return found


# -- REST API --------------------------------------------------------------------------------


def test_registered_pipelines_are_listed_with_their_params(api: httpx.Client) -> None:
    found = {p["name"]: p for p in ok(api.get(f"{V1}/pipelines"))}
    assert found["t_api"] == {
        "name": "t_api",
        "project": "tests",
        "description": "Square a number, then check it.",
        "module": __name__,
        "params": [{"name": "x", "required": False, "default": 3}],
    }


def test_a_run_is_started_waited_for_and_read_back(api: httpx.Client) -> None:
    headers = {"X-Opsloop-Actor": "ana"}
    body = {"params": {"x": 4}, "wait": True}
    done = ok(api.post(f"{V1}/pipelines/t_api/runs", json=body, headers=headers), 201)
    assert (done["status"], done["actor"], done["params"]) == ("succeeded", "ana", {"x": 4})
    assert [(s["name"], s["status"]) for s in done["steps"]] == [
        ("square", "succeeded"),
        ("check", "succeeded"),
    ]
    read = ok(api.get(f"{V1}/pipeline-runs/{done['id'][:10]}"))
    assert read["steps"][0]["log"] == "squaring 4\n"
    listed = ok(api.get(f"{V1}/pipeline-runs", params={"pipeline": "t_api", "limit": 5}))
    assert [r["id"] for r in listed] == [done["id"]]
    assert listed[0]["steps"][0]["log"] is None


def test_a_run_started_without_waiting_ends_in_the_background(api: httpx.Client) -> None:
    started = ok(api.post(f"{V1}/pipelines/t_api/runs", json={"params": {"x": 11}}), 201)
    assert started["status"] == "queued"
    path = f"{V1}/pipeline-runs/{started['id']}"
    wait_for(lambda: ok(api.get(path))["status"] == "failed")
    failed = ok(api.get(path))
    assert failed["error"] == "step check failed (1 attempt): OverflowError: 121 is too big"
    assert failed["steps"][1]["error"].rstrip().endswith("OverflowError: 121 is too big")


@pytest.mark.parametrize(
    ("method", "path", "body", "status", "field"),
    [
        ("POST", "/pipelines/t_nope/runs", {}, 404, "pipeline"),
        ("POST", "/pipelines/t_api/runs", {"params": {"y": 1}}, 422, "params"),
        ("POST", "/pipelines/t_api/runs", {"params": [1]}, 422, "params"),
        ("POST", "/pipelines/t_api/runs", {"executor": "warp"}, 422, "executor"),
        ("GET", "/pipeline-runs?limit=0", None, 422, "limit"),
        ("GET", "/pipeline-runs?status=done", None, 422, "status"),
        ("GET", "/pipeline-runs/0123456789abcdef", None, 404, "run_id"),
        ("POST", "/pipelines/t_api/triggers", {"kind": "hourly", "spec": {}}, 422, "kind"),
        ("DELETE", "/pipelines/t_api/triggers/99", None, 404, "trigger_id"),
        ("DELETE", "/pipelines/t_api/triggers/0", None, 422, "trigger_id"),
    ],
)
def test_bad_requests_get_the_error_shape_naming_the_field(
    api: httpx.Client, method: str, path: str, body: Any, status: int, field: str
) -> None:
    answer = api.request(method, V1 + path, json=body)
    assert error(answer, status)["field"] == field


def test_triggers_are_created_listed_and_deleted(api: httpx.Client) -> None:
    made = ok(
        api.post(
            f"{V1}/pipelines/t_api/triggers",
            json={"kind": "schedule", "spec": {"cron": "0 6 * * 1"}, "params": {"x": 2}},
        ),
        201,
    )
    assert (made["kind"], made["params"], made["created_by"]) == ("schedule", {"x": 2}, "tester")
    assert [t["id"] for t in ok(api.get(f"{V1}/pipelines/t_api/triggers"))] == [made["id"]]
    assert [t["id"] for t in ok(api.get(f"{V1}/pipeline-triggers"))] == [made["id"]]
    assert ok(api.delete(f"{V1}/pipelines/t_api/triggers/{made['id']}"))["id"] == made["id"]
    assert ok(api.get(f"{V1}/pipeline-triggers")) == []


def test_reading_needs_a_viewer_and_running_a_deployer(tmp_path: Path) -> None:
    application = create_app(Settings.load(environ={}, home=tmp_path, auth=True))
    auth = application.state.platform.auth
    viewer = auth.create("viewer", Actor(name="root"), name="watcher").secret
    deployer = auth.create("deployer", Actor(name="root"), name="ci").secret
    transport = SyncASGITransport(application)
    try:
        with httpx.Client(transport=transport, base_url="http://testserver") as http:

            def call(method: str, path: str, secret: str, body: Any = None) -> httpx.Response:
                headers = {"Authorization": f"Bearer {secret}"}
                return http.request(method, V1 + path, json=body, headers=headers)

            assert call("GET", "/pipeline-runs", viewer).status_code == 200
            assert call("GET", "/pipelines", viewer).status_code == 200
            refused = call("POST", "/pipelines/t_api/runs", viewer, {"wait": True})
            assert "has role viewer; this needs deployer" in error(refused, 403)["message"]
            trigger = {"kind": "schedule", "spec": {"cron": "* * * * *"}}
            assert error(call("POST", "/pipelines/t_api/triggers", viewer, trigger), 403)
            done = call("POST", "/pipelines/t_api/runs", deployer, {"wait": True})
            assert ok(done, 201)["actor"] == "ci"
    finally:
        application.state.platform.close()


# -- SDK ----------------------------------------------------------------------------------


def test_run_pipeline_waits_for_the_run_and_returns_it(sdk: Client) -> None:
    assert opsloop.step is definitions.step and opsloop.pipeline is definitions.pipeline
    done = opsloop.run_pipeline("t_api", x=5)
    assert isinstance(done, PipelineRun)
    assert done.status is PipelineStatus.SUCCEEDED
    assert done.steps[0].output is not None and done.steps[0].output.summary == "25"
    again = opsloop.run_pipeline("t_api", x=5)
    assert [s.status.value for s in again.steps] == ["cached", "succeeded"]
    assert [r.id for r in sdk.list_pipeline_runs("t_api")] == [again.id, done.id]


# -- CLI ----------------------------------------------------------------------------------


def opsloop_cli(home: Path, *args: str, code: int = 0) -> Result:
    result = CliRunner().invoke(cli, ["--home", str(home), *args], env=CLEAN_ENV)
    assert result.exit_code == code, (result.output, result.exception)
    assert "Traceback" not in result.output
    return result


def rows_of(text: str) -> list[list[str]]:
    return [
        [cell.strip() for cell in line.strip().strip("│").split("│")]
        for line in text.splitlines()
        if line.strip().startswith("│")
    ]


def test_pipeline_run_prints_each_step_and_the_timeline(tmp_path: Path) -> None:
    printed = opsloop_cli(tmp_path, "pipeline", "run", "t_api", "--param", "x=6").output
    assert "1 square succeeded" in printed and "2 check succeeded" in printed
    timeline = [row for row in rows_of(printed) if len(row) == 8]
    assert [(r[0], r[1], r[3], r[4], r[5]) for r in timeline] == [
        ("1", "square", "succeeded", "", "1"),
        ("2", "check", "succeeded", "", "1"),
    ]
    assert all("█" in row[2] for row in timeline)
    cached = opsloop_cli(tmp_path, "pipeline", "run", "t_api", "-p", "x=6").output
    assert "1 square cached" in cached
    assert [r[4] for r in rows_of(cached) if len(r) == 8] == ["yes", ""]


def test_a_failed_run_exits_1_with_the_step_error(tmp_path: Path) -> None:
    printed = opsloop_cli(tmp_path, "pipeline", "run", "t_api", "-p", "x=20", code=1).output
    assert "OverflowError: 400 is too big" in printed
    (failed,) = [r for r in rows_of(printed) if len(r) == 8 and r[1] == "check"]
    assert (failed[3], failed[7]) == ("failed", "OverflowError: 400 is too big")


def test_pipeline_list_and_show(tmp_path: Path) -> None:
    run = json.loads(opsloop_cli(tmp_path, "pipeline", "run", "t_api", "--json").output)
    listed = rows_of(opsloop_cli(tmp_path, "pipeline", "list").output)
    (row,) = [r for r in listed if r[0] == "t_api"]
    assert row[1:5] == ["tests", "x=3", run["id"][:12], "succeeded"]
    runs = rows_of(opsloop_cli(tmp_path, "pipeline", "list", "--runs").output)
    assert [(r[0], r[1], r[2], r[3], r[4]) for r in runs] == [
        (run["id"][:12], "t_api", "succeeded", "manual", "2")
    ]
    shown = opsloop_cli(tmp_path, "pipeline", "show", run["id"][:8], "--logs").output
    assert f"pipeline run {run['id']}" in shown and "squaring 3" in shown
    assert [r[1] for r in rows_of(shown) if len(r) == 8] == ["square", "check"]
    as_json = json.loads(opsloop_cli(tmp_path, "pipeline", "show", run["id"], "--json").output)
    assert as_json["steps"][0]["log"] == "squaring 3\n"


def test_pipeline_triggers_from_the_command_line(tmp_path: Path) -> None:
    added = opsloop_cli(
        tmp_path, "pipeline", "trigger", "add", "t_api", "--cron", "*/10 * * * *", "-p", "x=2"
    ).output
    assert "run t_api cron */10 * * * * (UTC)" in added
    opsloop_cli(tmp_path, "pipeline", "trigger", "add", "t_api", "--dataset", "tests/posts")
    listed = rows_of(opsloop_cli(tmp_path, "pipeline", "trigger", "list").output)
    assert [(r[1], r[2], r[4]) for r in listed] == [
        ("t_api", "schedule", "x=2"),
        ("t_api", "dataset", ""),
    ]
    trigger_id = listed[0][0]
    opsloop_cli(tmp_path, "pipeline", "trigger", "remove", "t_api", trigger_id)
    remaining = rows_of(opsloop_cli(tmp_path, "pipeline", "trigger", "list", "t_api").output)
    assert [r[2] for r in remaining] == ["dataset"]


@pytest.mark.parametrize(
    ("args", "code", "words"),
    [
        (["run", "t_api", "--detach"], 1, "--detach needs a server"),
        (["run", "t_api", "-p", "x"], 2, "--param 'x' must be KEY=VALUE"),
        (["run", "t_none"], 1, "pipeline 't_none' is not registered"),
        (["trigger", "add", "t_api"], 2, "give one of --cron"),
        (["trigger", "add", "t_api", "--cron", "* * * * *", "--dataset", "a/b"], 2, "one of"),
        (["trigger", "add", "t_api", "--labels", "5"], 2, "--labels and --endpoint go together"),
        (["trigger", "add", "t_api", "--cron", "often"], 2, "must be five fields"),
    ],
)
def test_command_line_mistakes_are_one_red_line(
    tmp_path: Path, args: list[str], code: int, words: str
) -> None:
    env = {k: v for k, v in os.environ.items() if not k.startswith("OPSLOOP_")}
    done = subprocess.run(
        [sys.executable, "-m", "opsloop.cli.main", "--home", str(tmp_path), "pipeline", *args],
        capture_output=True,
        text=True,
        env=env,
        timeout=120,
    )
    assert done.returncode == code, done.stderr
    assert done.stderr.startswith("error:") and words in done.stderr
    assert len(done.stderr.strip().splitlines()) == 1, done.stderr


# -- a real server ---------------------------------------------------------------------------

SERVER_PIPELINES = """
import pyarrow as pa
import opsloop

@opsloop.step
def build(rows: int):
    return pa.table({"x": list(range(rows))})

@opsloop.step(cache=False)
def publish(table):
    return opsloop.log_dataset(table, "published", project="srv").ref

@opsloop.pipeline(name="srv_publish", project="srv")
def publish_pipeline(rows: int = 3):
    publish(build(rows))
"""


@pytest.fixture
def pipeline_server(tmp_path: Path) -> Iterator[tuple[str, str]]:
    """``opsloop server --auth`` with its pipelines from a file; yields (url, deployer secret)."""
    home = tmp_path / "server-home"
    platform = Platform.open(Settings.load(environ={}, home=home, auth=True))
    secret = platform.auth.create("deployer", Actor(name="root"), name="ci").secret
    platform.close()
    module = tmp_path / "server_pipelines.py"
    module.write_text(textwrap.dedent(SERVER_PIPELINES))
    port = free_port()
    env = {k: v for k, v in os.environ.items() if not k.startswith("OPSLOOP_")}
    env["OPSLOOP_PIPELINES"] = str(module)
    log = (tmp_path / "server.log").open("wb")
    command = ["-m", "opsloop.cli.main", "--home", str(home), "server", "--port", str(port)]
    process = subprocess.Popen(
        [sys.executable, *command, "--auth"], stdout=log, stderr=subprocess.STDOUT, env=env
    )
    url = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 60
        while True:
            try:
                if httpx.get(url + "/healthz", timeout=1).status_code == 200:
                    break
            except httpx.TransportError:
                pass
            if process.poll() is not None or time.monotonic() > deadline:
                raise RuntimeError((tmp_path / "server.log").read_text(errors="replace"))
            time.sleep(0.1)
        yield url, secret
    finally:
        process.terminate()
        process.wait(timeout=30)
        log.close()


def test_a_server_runs_the_pipelines_its_setting_names_with_steps_acting_as_the_pipeline(
    pipeline_server: tuple[str, str], tmp_path: Path
) -> None:
    url, secret = pipeline_server
    env = {k: v for k, v in os.environ.items() if not k.startswith("OPSLOOP_")}
    env["OPSLOOP_TOKEN"] = secret

    def remote(*args: str) -> str:
        done = subprocess.run(
            [sys.executable, "-m", "opsloop.cli.main", "--url", url, "pipeline", *args],
            capture_output=True,
            text=True,
            env=env,
            timeout=120,
        )
        assert done.returncode == 0, done.stderr
        return done.stdout

    assert "2 publish succeeded" in remote("run", "srv_publish", "-p", "rows=4")
    detached = json.loads(remote("run", "srv_publish", "--detach", "--json"))
    client = Client(Settings.load(environ={}, home=tmp_path / "client", url=url, token=secret))
    try:
        later = client.wait_for_pipeline_run(detached["id"], poll_s=0.1)
        assert later.status is PipelineStatus.SUCCEEDED, later.error
        assert later.params == {"rows": 3}
        published = client.events(kind="dataset_version.created")
        assert [(e.actor, e.actor_kind) for e in published] == [
            ("pipeline:srv_publish", ActorKind.PIPELINE)
        ] * 2
        started = client.events(kind="pipeline_run.started")
        assert [e.actor for e in started] == ["ci", "ci"]
        assert [p.name for p in client.list_pipelines()] == ["srv_publish"]
    finally:
        client.close()
