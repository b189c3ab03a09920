"""The Pipelines pages without a browser: the runs (newest first, filtered, paginated), the
triggers with their next run, one run's timeline and steps, and who sees "Run again"."""

from __future__ import annotations

import re
import threading
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import httpx
import pytest
from sqlalchemy import event

import opsloop
from opsloop.domain.entities import Actor, ActorKind
from opsloop.domain.pipelines import PipelineRun, next_cron_time
from opsloop.domain.settings import Settings
from opsloop.server.app import create_app
from opsloop.server.ui.render import when
from opsloop.services.platform import Platform
from opsloop.store.repos import pipelines as repo

from ._asgi import SyncASGITransport
from .conftest import wait_for

PEOPLE = Actor(name="dana")
TICKS = 53  # runs of uipl_tick: more than a page of 50
LONG_ERROR = "x" * 6_000
RELEASE = threading.Event()


@opsloop.step
def load(n: int) -> list[int]:
    print(f"loading {n}")
    return list(range(n))


@opsloop.step
def total(xs: list[int]) -> int:
    return sum(xs)


@opsloop.step(retries=2, backoff_s=0.001)
def explode(xs: list[int]) -> int:
    raise ValueError(f"{LONG_ERROR} <b>broken</b> after {len(xs)} rows")


@opsloop.step(cache=False)
def tick() -> str:
    return "tock"


@opsloop.step(cache=False)
def wait_here() -> None:
    RELEASE.wait(30)


@opsloop.pipeline(name="uipl_ok", project="uitest")
def ok_pipeline(n: int = 4) -> None:
    total(load(n))


@opsloop.pipeline(name="uipl_fail", project="uitest")
def fail_pipeline(n: int = 4) -> None:
    explode(load(n))


@opsloop.pipeline(name="uipl_tick", project="uiother")
def tick_pipeline() -> None:
    tick()


@opsloop.pipeline(name="uipl_wait", project="uitest")
def wait_pipeline() -> None:
    load(2)
    wait_here()


@dataclass
class World:
    http: httpx.Client
    platform: Platform
    secrets: dict[str, str]
    first_ok: PipelineRun
    cached_ok: PipelineRun
    failed: PipelineRun
    alerted: PipelineRun
    ghost: str  # a run of a pipeline this server does not know

    def log_in(self, role: str) -> None:
        self.http.cookies.clear()
        logged = self.http.post("/login", data={"token": self.secrets[role], "next": "/"})
        assert logged.status_code == 303


@pytest.fixture(scope="module")
def world(tmp_path_factory: pytest.TempPathFactory) -> Iterator[World]:
    home = tmp_path_factory.mktemp("ui-pipelines") / "home"
    app = create_app(Settings.load(environ={}, home=home, auth=True))
    platform = app.state.platform
    secrets = {
        role: platform.auth.create(role, Actor(name="root"), name=f"{role}-1").secret
        for role in ("viewer", "deployer")
    }
    runs = platform.pipelines
    first_ok = runs.run("uipl_ok", actor=PEOPLE)
    cached_ok = runs.run("uipl_ok", actor=PEOPLE)
    failed = runs.run("uipl_fail", params={"n": 3}, actor=PEOPLE)
    for _ in range(TICKS):
        runs.run("uipl_tick", actor=PEOPLE)
    alerted = runs.run(
        "uipl_ok",
        trigger="alert",
        detail={"alert": 7, "rule": "accuracy_drop", "endpoint": "moderation"},
        params={"n": 5},
        actor=Actor(name="monitor:moderation", kind=ActorKind.MONITOR),
    )
    platform.triggers.create("uipl_ok", "schedule", {"cron": "0 6 * * *"}, {"n": 9}, PEOPLE)
    with platform.db.begin() as conn:  # recorded by a process that knew this pipeline
        repo.insert_run(
            conn,
            id="0" * 31 + "9",
            pipeline="uipl_ghost",
            project="uitest",
            status="succeeded",
            trigger="manual",
            trigger_detail={},
            params={},
            executor="inline",
            actor="someone",
            created_at=1.0,
            started_at=1.0,
            ended_at=2.0,
        )
    with httpx.Client(transport=SyncASGITransport(app), base_url="http://testserver") as http:
        yield World(http, platform, secrets, first_ok, cached_ok, failed, alerted, "0" * 31 + "9")
    platform.close()


def listed(text: str) -> list[str]:
    return re.findall(r'<tr data-run="([0-9a-f]{32})">', text)


def row_of(text: str, run_id: str) -> str:
    found = re.search(rf'<tr data-run="{run_id}">(.*?)</tr>', text, re.S)
    assert found is not None, run_id
    return found[1]


def section(text: str, name: str) -> str:
    found = re.search(rf'<section id="{name}"[^>]*>(.*?)</section>', text, re.S)
    assert found is not None, name
    return found[1]


def page(world: World, path: str, status: int = 200) -> str:
    answer = world.http.get(path)
    assert answer.status_code == status, answer.text[-600:]
    assert answer.headers["content-type"].startswith("text/html")
    if status == 200:
        assert answer.headers["server-timing"].startswith("render;dur=")
    return answer.text


# -- the runs ------------------------------------------------------------------------------


def test_runs_are_listed_newest_first_with_what_started_them(world: World) -> None:
    world.log_in("viewer")
    text = page(world, "/ui/pipelines")
    newest = [run.id for run in world.platform.pipelines.list(limit=50)]
    assert listed(text) == newest
    alerted = row_of(text, world.alerted.id)
    assert ">alert</span> accuracy_drop on moderation (alert #7)" in alerted
    assert "by monitor:moderation" in alerted
    assert ">succeeded<" in alerted and ">2/2<" in alerted  # both steps done
    assert alerted.count('class="bar ') == 2  # its small timeline: a bar per step
    total = world.platform.pipelines.page().total
    assert f"{total}" in section(text, "runs").split("</h2>")[0]


def test_a_failed_run_shows_its_done_steps_and_a_failed_bar(world: World) -> None:
    world.log_in("viewer")
    text = page(world, "/ui/pipelines?pipeline=uipl_fail")
    row = row_of(text, world.failed.id)
    assert ">failed<" in row and ">1/2<" in row  # load done, explode failed
    assert re.findall(r'class="bar (\w+)"', row) == ["succeeded", "failed"]
    assert ">manual<" in row and "by dana" in row


@pytest.mark.parametrize(
    ("query", "pipelines", "statuses"),
    [
        ("pipeline=uipl_ok", {"uipl_ok"}, {"succeeded"}),
        ("status=failed", {"uipl_fail"}, {"failed"}),
        ("project=uiother", {"uipl_tick"}, {"succeeded"}),
        ("project=uitest&status=succeeded", {"uipl_ok", "uipl_ghost"}, {"succeeded"}),
    ],
)
def test_filters_change_the_rows(
    world: World, query: str, pipelines: set[str], statuses: set[str]
) -> None:
    world.log_in("viewer")
    text = page(world, f"/ui/pipelines?{query}")
    shown = listed(text)
    assert shown
    found = {run.id: run for run in world.platform.pipelines.list(limit=1000)}
    assert {found[run_id].pipeline for run_id in shown} == pipelines
    assert {found[run_id].status.value for run_id in shown} == statuses
    expected = [
        run.id
        for run in found.values()
        if run.pipeline in pipelines and run.status.value in statuses
    ]
    assert sorted(shown) == sorted(expected[:50])


def test_a_filter_that_matches_nothing_says_so(world: World) -> None:
    world.log_in("viewer")
    text = page(world, "/ui/pipelines?pipeline=uipl_ok&status=failed")
    assert listed(text) == []
    assert "No runs match these filters" in text


def test_runs_come_fifty_a_page_and_pages_do_not_overlap(world: World) -> None:
    world.log_in("viewer")
    first = page(world, "/ui/pipelines?project=uiother")
    assert 'href="/ui/pipelines?project=uiother&amp;page=2"' in first  # filters kept
    second = page(world, "/ui/pipelines?project=uiother&page=2")
    one, two = listed(first), listed(second)
    assert (len(one), len(two)) == (50, TICKS - 50)
    ticks = [r.id for r in world.platform.pipelines.list("uipl_tick", limit=1000)]
    assert one + two == ticks  # newest first across pages, each run once
    assert "page 2 of 2" in second


@pytest.mark.parametrize(
    ("query", "status", "named"),
    [
        ("status=exploded", 422, "status &#39;exploded&#39; must be one of"),
        ("pipeline=no%20spaces", 422, "pipeline &#39;no spaces&#39;"),
        ("pipeline=nope", 404, "pipeline &#39;nope&#39; has no runs"),
        ("project=nowhere", 404, "project &#39;nowhere&#39; has no pipelines"),
        ("page=abc", 422, "page must be a whole number from 1 to 1,000,000, not &#39;abc&#39;"),
        ("page=0", 422, "page must be a whole number from 1 to 1,000,000, not &#39;0&#39;"),
        ("page=%C2%B2", 422, "page must be a whole number from 1 to 1,000,000, not &#39;²&#39;"),
        ("page=99", 422, "page 99 is past the last page (2)"),
    ],
)
def test_bad_filters_get_a_page_naming_them(
    world: World, query: str, status: int, named: str
) -> None:
    world.log_in("viewer")
    assert named in page(world, f"/ui/pipelines?{query}", status)


def test_the_stored_triggers_show_their_next_run(world: World) -> None:
    world.log_in("viewer")
    (trigger,) = world.platform.triggers.list("uipl_ok")
    text = section(page(world, "/ui/pipelines"), "triggers")
    assert "cron 0 6 * * * (UTC)" in text
    assert when(trigger.state["next"]) in text
    assert trigger.state["next"] == next_cron_time("0 6 * * *", trigger.created_at.timestamp())
    assert '<code>{"n": 9}</code>' in text and "by dana" in text
    assert "cron 0 6" not in section(page(world, "/ui/pipelines?project=uiother"), "triggers")


def test_the_list_costs_the_same_queries_for_two_rows_or_fifty(world: World) -> None:
    world.log_in("viewer")
    page(world, "/ui/pipelines")  # the token is checked once, then cached
    statements: list[str] = []

    def count(*args: object) -> None:
        statements.append(str(args[2]))

    engine = world.platform.db.engine
    event.listen(engine, "before_cursor_execute", count)
    try:
        assert len(listed(page(world, "/ui/pipelines"))) == 50
        many = len(statements)
        statements.clear()
        assert len(listed(page(world, "/ui/pipelines?pipeline=uipl_fail"))) == 1
        few = len(statements)
    finally:
        event.remove(engine, "before_cursor_execute", count)
    assert many == few <= 6, statements


# -- one run -------------------------------------------------------------------------------


def bars(text: str) -> list[tuple[str, float, float]]:
    timeline = section(text, "timeline")
    found = re.findall(
        r'<span class="bar (\w+)[^"]*" style="left: ([\d.]+)%; width: ([\d.]+)%"', timeline
    )
    return [(status, float(left), float(width)) for status, left, width in found]


def test_a_failed_run_has_a_bar_per_step_and_its_error_escaped_and_trimmed(world: World) -> None:
    world.log_in("viewer")
    text = page(world, f"/ui/pipelines/runs/{world.failed.id}")
    assert [status for status, _, _ in bars(text)] == ["succeeded", "failed"]
    (_, left, width) = bars(text)[1]
    assert 0 <= left < 100 and left + width <= 100.001
    assert re.search(r'<div class="gantt-row" data-step="2" data-status="failed">', text)
    assert "×3" in section(text, "timeline")  # three attempts: retries=2
    steps = section(text, "steps")
    assert '3 <span class="muted">(2 retries)</span>' in steps
    assert "&lt;b&gt;broken&lt;/b&gt;" in steps and "<b>broken" not in text
    assert "after 3 rows" in steps  # the end is kept, where the exception is
    assert "characters of the error left out" in steps
    assert "Traceback (most recent call last)" in steps  # and its start
    assert "step explode failed (3 attempts)" in section(text, "run")
    assert "&#34;n&#34;: 3" in section(text, "run")  # its parameters


def test_a_cached_step_names_the_run_its_output_came_from(world: World) -> None:
    world.log_in("viewer")
    text = page(world, f"/ui/pipelines/runs/{world.cached_ok.id}")
    steps = section(text, "steps")
    assert steps.count(">hit <") == 2
    assert f'href="/ui/pipelines/runs/{world.first_ok.id}"' in steps
    assert "[0, 1, 2, 3]" in steps  # load's output, summarised
    first = page(world, f"/ui/pipelines/runs/{world.first_ok.id}")
    assert [status for status, _, _ in bars(first)] == ["succeeded", "succeeded"]
    assert section(first, "steps").count(">miss<") == 2


def test_an_unknown_run_is_a_404_page(world: World) -> None:
    world.log_in("viewer")
    assert "pipeline run &#39;feedfeedfeed&#39; not found" in page(
        world, "/ui/pipelines/runs/feedfeedfeed", 404
    )


def test_run_again_is_for_deployers_and_pipelines_this_server_knows(world: World) -> None:
    path = f"/ui/pipelines/runs/{world.failed.id}"
    world.log_in("viewer")
    assert 'id="run-again"' not in page(world, path)
    world.log_in("deployer")
    text = page(world, path)
    assert 'id="run-again" data-pipeline="uipl_fail"' in text
    assert '<script type="application/json" id="run-again-params">{"n": 3}</script>' in text
    assert 'id="run-again"' not in page(world, f"/ui/pipelines/runs/{world.ghost}")


def test_a_running_run_shows_its_running_step_up_to_now(tmp_path: Path) -> None:
    app = create_app(Settings.load(environ={}, home=tmp_path / "home", actor="local"))
    platform = app.state.platform
    RELEASE.clear()
    try:
        queued = platform.pipelines.start("uipl_wait", actor=PEOPLE)

        def waiting() -> bool:
            steps = platform.pipelines.get(queued.id).steps
            return len(steps) == 2 and steps[1].status.value == "running"

        wait_for(waiting)
        with httpx.Client(transport=SyncASGITransport(app), base_url="http://t") as http:
            text = http.get(f"/ui/pipelines/runs/{queued.id}").text
            listing = http.get("/ui/pipelines").text
        assert 'data-active="true"' in text and "up to now" in text
        assert re.search(r'class="bar running ongoing" style="left: [\d.]+%; width: [\d.]+%"', text)
        assert "so far" in section(text, "steps")
        assert 'id="run-again"' in text  # auth off: the local user may do everything
        assert ">running<" in row_of(listing, queued.id) and ">1/2<" in row_of(listing, queued.id)
    finally:
        RELEASE.set()
        platform.pipelines.wait()
        platform.close()


def test_a_run_a_schedule_started_says_which_trigger_and_the_scheduler(tmp_path: Path) -> None:
    app = create_app(Settings.load(environ={}, home=tmp_path / "home", actor="local"))
    platform = app.state.platform
    try:
        made = platform.triggers.create(
            "uipl_tick", "schedule", {"cron": "*/5 * * * *"}, {}, PEOPLE
        )
        (fired,) = platform.triggers.run_due(now=made.state["next"] + 1)
        platform.pipelines.wait()
        with httpx.Client(transport=SyncASGITransport(app), base_url="http://t") as http:
            row = row_of(http.get("/ui/pipelines").text, fired.id)
            run = http.get(f"/ui/pipelines/runs/{fired.id}").text
        assert f">schedule</span> cron */5 * * * *, trigger #{made.id}" in row
        assert "by scheduler" in row and ">1/1<" in row
        assert "<tr><th>started by</th><td>scheduler</td></tr>" in run
    finally:
        platform.close()
