"""The Runs pages without a browser: the table (project picker, sorting, the search language as
a filter, pages of 50), one run, and runs compared; bad input is a 4xx page saying what was
wrong. ``seed_runs`` fills a project in bulk, for the 10,000-run test and for measuring."""

from __future__ import annotations

import io
import json
import re
import time
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime
from html import unescape
from pathlib import Path
from typing import Any

import httpx
import pandas as pd
import pytest
from sqlalchemy import event

from opsloop.domain.entities import Actor, MetricSeries, RunStatus
from opsloop.domain.settings import Settings
from opsloop.server.app import create_app
from opsloop.services.platform import Platform
from opsloop.store import tables
from opsloop.store.repos import runs as run_rows

from ._asgi import SyncASGITransport

SEEDER = Actor(name="seeder")
TRIALS = 120
RUNNING, FAILED = 5, 7  # the trials that are not FINISHED


@dataclass
class Trial:
    id: str
    name: str
    params: dict[str, str]
    acc: float
    steps: list[int]


@dataclass
class World:
    http: httpx.Client
    trials: list[Trial]  # oldest first
    app: Any

    def by_id(self, run_id: str) -> Trial:
        return next(trial for trial in self.trials if trial.id == run_id)

    def named(self, name: str) -> Trial:
        return next(trial for trial in self.trials if trial.name == name)


def trial_params(i: int) -> dict[str, str]:
    return {
        "lr": ["0.1", "0.01", "0.001"][i % 3],
        "optimizer": "adam" if i % 2 == 0 else "sgd",
        "depth": str(i % 5 + 1),
        "data": "v1",
    }


def build_world(platform: Platform) -> list[Trial]:
    """Project ``tuning``: 120 trials a minute apart (every 4th in experiment ``sweep``), each
    with four params and ``acc``/``loss`` histories (even trials log steps 0-4, odd ones 0, 2,
    ... 8), and every 10th a ``val loss`` of its number; the newest has tags, an artifact, a
    dataset input and a model version. Project ``alpha`` has one run, and sorts first."""
    tracking = platform.tracking
    platform.tracking.start_run(
        project="alpha", actor=SEEDER, name="lonely", end=RunStatus.FINISHED
    )
    base = time.time() - 3 * 3600
    trials = []
    for i in range(TRIALS):
        acc = (i * 37 % TRIALS) / TRIALS  # each value once, in no order of i
        steps = list(range(5)) if i % 2 == 0 else list(range(0, 10, 2))
        curve = [acc * (k + 1) / len(steps) for k in range(len(steps))]
        stamps = [int((base + i * 60 + k) * 1000) for k in range(len(steps))]
        end = None if i in (RUNNING, TRIALS - 1) else RunStatus.FINISHED
        run = tracking.start_run(
            project="tuning",
            experiment="sweep" if i % 4 == 0 else "default",
            actor=SEEDER,
            name=f"trial-{i:03d}",
            start_time=datetime.fromtimestamp(base + i * 60, UTC),
            params=trial_params(i),
            metrics={
                "acc": MetricSeries(values=curve, steps=steps, timestamps=stamps),
                "loss": MetricSeries(values=[1 - v for v in curve], steps=steps, timestamps=stamps),
                **(
                    {"val loss": MetricSeries(values=[i], steps=[0], timestamps=stamps[:1])}
                    if i % 10 == 0
                    else {}
                ),
            },
            end=RunStatus.FAILED if i == FAILED else end,
            error="ValueError: diverged" if i == FAILED else None,
        )
        trials.append(Trial(run.id, run.name, trial_params(i), acc, steps))
    newest = trials[-1].id
    tracking.log(newest, tags={"team": "moderation"})
    sha, _ = platform.artifacts.put(b"weights")
    tracking.log_artifact(newest, "model/weights.bin", sha)
    frame = pd.DataFrame({"text": ["a", "b"], "label": [0, 1]})
    buffer = io.BytesIO()
    frame.to_parquet(buffer)
    parquet, _ = platform.artifacts.put(buffer.getvalue())
    platform.datasets.create_version("tuning", "posts", parquet, actor=SEEDER)
    tracking.use_dataset(newest, "tuning", "posts", 1)
    model, _ = platform.artifacts.put(b"model bytes")
    platform.registry.register_version(
        "tuning", "violation", flavor="sklearn", sha256=model, actor=SEEDER, run_id=newest
    )
    tracking.end_run(newest, actor=SEEDER)
    return trials


def logged_in(app: Any, role: str = "viewer") -> httpx.Client:
    secret = app.state.platform.auth.create(role, Actor(name="root"), name=f"{role}-1").secret
    http = httpx.Client(transport=SyncASGITransport(app), base_url="http://testserver")
    assert http.post("/login", data={"token": secret, "next": "/"}).status_code == 303
    return http


@pytest.fixture(scope="module")
def world(tmp_path_factory: pytest.TempPathFactory) -> Iterator[World]:
    home = tmp_path_factory.mktemp("ui-runs") / "home"
    app = create_app(Settings.load(environ={}, home=home, auth=True))
    platform = app.state.platform
    trials = build_world(platform)
    http = logged_in(app)
    yield World(http, trials, app)
    http.close()
    platform.close()


def page_ids(html: str) -> list[str]:
    """The run ids in the table, top to bottom (each row's compare checkbox)."""
    return re.findall(r'name="run" value="([0-9a-f]{32})" form="compare"', html)


def cells(html: str, kind: str, key: str) -> list[str]:
    return [unescape(text) for text in re.findall(rf'data-{kind}="{key}">([^<]*)</td>', html)]


def headers(html: str) -> list[str]:
    return re.findall(r'<th class="[^"]*"(?: aria-sort="\w+")? data-field="([^"]+)"', html)


def figures(html: str, script_id: str) -> Any:
    found = re.search(rf'<script type="application/json" id="{script_id}">(.*?)</script>', html)
    assert found is not None, script_id
    return json.loads(found.group(1))


def test_the_table_shows_the_newest_runs_of_the_first_project_by_default(world: World) -> None:
    first = world.http.get("/ui/runs")
    assert first.status_code == 200
    assert first.headers["server-timing"].startswith("render;dur=")
    assert "lonely" in first.text and "trial-" not in first.text  # alpha sorts before tuning
    page = world.http.get("/ui/runs", params={"project": "tuning"})
    ids = page_ids(page.text)
    assert ids == [trial.id for trial in reversed(world.trials)][:50]
    assert "120 runs" in page.text and "page 1 of 3" in page.text
    # The columns the runs use most: both metrics and all four params.
    assert set(headers(page.text)) == {
        "name", "status", "start_time", "duration", "metrics.acc", "metrics.loss",
        "metrics.`val loss`", "params.lr", "params.optimizer", "params.depth", "params.data",
    }  # fmt: skip
    newest = world.trials[-1]
    assert cells(page.text, "param", "lr")[0] == newest.params["lr"]
    assert cells(page.text, "metric", "acc")[0] == f"{newest.acc:.4g}"
    assert f'href="/ui/runs/{newest.id}"' in page.text and newest.id[:8] in page.text


def test_an_experiment_narrows_the_table(world: World) -> None:
    page = world.http.get("/ui/runs", params={"project": "tuning", "experiment": "sweep"})
    ids = page_ids(page.text)
    assert "30 runs" in page.text and len(ids) == 30
    assert {world.trials.index(world.by_id(i)) % 4 for i in ids} == {0}


@pytest.mark.parametrize(
    ("order_by", "expected"),
    [
        ("metrics.acc desc", lambda t: sorted(t, key=lambda x: -x.acc)),
        ("metrics.acc asc", lambda t: sorted(t, key=lambda x: x.acc)),
        ("name asc", lambda t: sorted(t, key=lambda x: x.name)),
        ("params.lr asc, name desc", lambda t: sorted(sorted(t, key=lambda x: x.name)[::-1],
                                                       key=lambda x: x.params["lr"])),
    ],
)  # fmt: skip
def test_sorting_orders_the_whole_project_not_just_the_page(
    world: World, order_by: str, expected: Any
) -> None:
    page = world.http.get("/ui/runs", params={"project": "tuning", "order_by": order_by})
    assert page.status_code == 200
    assert page_ids(page.text) == [trial.id for trial in expected(world.trials)][:50]


def test_sorting_by_duration_puts_running_runs_last(world: World) -> None:
    longest = world.http.get("/ui/runs", params={"project": "tuning", "order_by": "duration desc"})
    assert page_ids(longest.text)[0] == world.trials[0].id  # the oldest ran the longest
    shortest = world.http.get(
        "/ui/runs", params={"project": "tuning", "order_by": "duration asc", "page": "3"}
    )
    assert page_ids(shortest.text)[-1] == world.trials[RUNNING].id  # no duration yet: last


def test_a_key_with_a_space_sorts_quoted(world: World) -> None:
    page = world.http.get("/ui/runs", params={"project": "tuning"})
    link = re.search(r'<a href="([^"]+)" title="sort by metrics.`val loss`">', page.text)
    assert link is not None
    ascending = world.http.get(unescape(link.group(1)))
    assert ascending.status_code == 200
    shown = cells(ascending.text, "metric", "val loss")
    assert shown[:12] == [str(n) for n in range(0, TRIALS, 10)] and shown[12] == "—"


def test_duration_mixes_with_the_other_orders(world: World) -> None:
    page = world.http.get(
        "/ui/runs", params={"project": "tuning", "order_by": "status asc, duration desc"}
    )
    ids = page_ids(page.text)  # FAILED, then FINISHED from the longest (the oldest)
    assert ids[:3] == [world.trials[FAILED].id, world.trials[0].id, world.trials[1].id]


def test_a_long_history_is_thinned_for_its_chart_keeping_the_ends(tmp_path: Path) -> None:
    app = create_app(Settings.load(environ={}, home=tmp_path / "home"))
    points = 4_321
    long = MetricSeries(
        values=[float(k) for k in range(points)],
        steps=list(range(points)),
        timestamps=[1_700_000_000_000 + k for k in range(points)],
    )
    run = app.state.platform.tracking.start_run(project="p", actor=SEEDER, metrics={"x": long})
    with httpx.Client(transport=SyncASGITransport(app), base_url="http://testserver") as http:
        drawn = figures(http.get(f"/ui/runs/{run.id}").text, "curve-1")
    assert len(drawn["x"]) <= 1_000 and drawn["x"][0] == 0 and drawn["x"][-1] == points - 1
    assert drawn["series"][0]["values"] == [float(step) for step in drawn["x"]]
    app.state.platform.close()


def test_a_column_title_sorts_by_it_and_a_second_click_reverses(world: World) -> None:
    page = world.http.get("/ui/runs", params={"project": "tuning"})
    link = re.search(r'<a href="([^"]+)" title="sort by metrics.acc">', page.text)
    assert link is not None
    ascending = world.http.get(unescape(link.group(1)))
    assert 'aria-sort="ascending" data-field="metrics.acc"' in ascending.text
    assert page_ids(ascending.text)[0] == min(world.trials, key=lambda t: t.acc).id
    again = re.search(r'<a href="([^"]+)" title="sort by metrics.acc">', ascending.text)
    assert again is not None
    descending = world.http.get(unescape(again.group(1)))
    assert page_ids(descending.text)[0] == max(world.trials, key=lambda t: t.acc).id
    # The started column is the default sort, newest first: shown as such.
    assert 'aria-sort="descending" data-field="start_time"' in page.text


def test_the_filter_takes_the_search_language(world: World) -> None:
    text = "params.optimizer = 'adam' and metrics.acc > 0.5 and status = 'FINISHED'"
    page = world.http.get("/ui/runs", params={"project": "tuning", "filter": text})
    wanted = {
        t.id
        for i, t in enumerate(world.trials)
        if t.params["optimizer"] == "adam" and t.acc > 0.5 and i not in (RUNNING, FAILED)
    }
    ids = page_ids(page.text)
    assert set(ids) == wanted and len(wanted) > 10
    assert f"{len(wanted)} runs match the filter" in page.text
    assert cells(page.text, "param", "optimizer") == ["adam"] * len(wanted)
    assert 'value="params.optimizer = &#39;adam&#39;' in page.text  # kept in the box
    none = world.http.get("/ui/runs", params={"project": "tuning", "filter": "metrics.acc > 5"})
    assert page_ids(none.text) == [] and "No run of tuning matches this filter" in none.text


def test_pages_of_fifty_cover_every_run_once(world: World) -> None:
    seen: list[str] = []
    for number in (1, 2, 3):
        page = world.http.get("/ui/runs", params={"project": "tuning", "page": str(number)})
        seen += page_ids(page.text)
        assert f"page {number} of 3" in page.text
    assert len(seen) == TRIALS and set(seen) == {t.id for t in world.trials}
    last = world.http.get("/ui/runs", params={"project": "tuning", "page": "3"})
    assert "101–120 shown" in last.text and 'rel="next"' not in last.text
    assert 'rel="prev"' in last.text
    past = world.http.get("/ui/runs", params={"project": "tuning", "page": "9"})
    assert past.status_code == 422 and "page 9 is past the last page (3)" in past.text
    assert 'name="filter"' in past.text  # the form is still there


def test_the_prev_and_next_links_keep_the_filter_order_and_columns(world: World) -> None:
    asked = {"project": "tuning", "filter": "status = 'FINISHED'", "order_by": "name asc"}
    first = world.http.get("/ui/runs", params={**asked, "metric": "loss", "columns": "chosen"})
    link = re.search(r'rel="next" id="next" href="([^"]+)"', first.text)
    assert link is not None
    second = world.http.get(unescape(link.group(1)))
    finished = sorted(t.name for i, t in enumerate(world.trials) if i not in (RUNNING, FAILED))
    assert [world.by_id(i).name for i in page_ids(second.text)] == finished[50:100]
    assert headers(second.text)[4:] == ["metrics.loss"]


def test_chosen_columns_replace_the_most_used(world: World) -> None:
    page = world.http.get(
        "/ui/runs", params={"project": "tuning", "metric": "loss", "param": "depth"}
    )
    assert headers(page.text) == [
        "name", "status", "start_time", "duration", "metrics.loss", "params.depth",
    ]  # fmt: skip
    assert cells(page.text, "param", "depth")[0] == world.trials[-1].params["depth"]
    bare = world.http.get("/ui/runs", params={"project": "tuning", "columns": "chosen"})
    assert headers(bare.text) == ["name", "status", "start_time", "duration"]


@pytest.mark.parametrize(
    ("asked", "status", "says"),
    [
        ({"filter": "metrics.acc > 'high'"}, 422, "metrics compare with numbers, not &#39;hi"),
        ({"filter": "metrics.acc >"}, 422, "must be FIELD OP VALUE"),
        ({"filter": "colour = 'red'"}, 422, "unknown search field &#39;colour&#39;"),
        ({"order_by": "metrics.acc sideways"}, 422, "order direction &#39;sideways&#39;"),
        ({"order_by": "name,"}, 422, "order &#39;&#39; must be FIELD [asc|desc]"),
        ({"page": "two"}, 422, "page must be a whole number from 1 to 1,000,000, not &#39;tw"),
        ({"page": "²"}, 422, "page must be a whole number from 1 to 1,000,000, not &#39;²&#39;"),
        ({"page": "0"}, 422, "page must be a whole number"),
        ({"experiment": "nope"}, 404, "experiment tuning/nope not found"),
        ({"metric": "bad\nkey"}, 422, "metric &#39;bad\\nkey&#39; must hold only"),
        ({"project": "ghost"}, 404, "project &#39;ghost&#39; not found"),
    ],
)  # fmt: skip
def test_bad_input_is_a_page_naming_the_mistake_with_the_form_still_there(
    world: World, asked: dict[str, str], status: int, says: str
) -> None:
    page = world.http.get("/ui/runs", params={"project": "tuning", **asked})
    assert page.status_code == status
    assert page.headers["content-type"].startswith("text/html")
    assert 'id="search-error"' in page.text and says in page.text
    assert '<form class="run-search" id="search"' in page.text  # to correct it in place
    assert page_ids(page.text) == []
    if "filter" in asked:
        assert 'name="filter" id="filter"' in page.text and 'aria-invalid="true"' in page.text


def test_one_run_shows_all_it_holds(world: World) -> None:
    newest = world.trials[-1]
    page = world.http.get(f"/ui/runs/{newest.id[:10]}")  # a unique prefix will do
    assert page.status_code == 200 and page.headers["server-timing"].startswith("render;dur=")
    text = page.text
    for key, value in newest.params.items():
        assert f"<td>{key}</td><td><code>{value}</code></td>" in text
    assert "<td>team</td><td>moderation</td>" in text
    assert "model/weights.bin" in text and "tuning/posts@1" in text
    assert "tuning/violation@1" in text
    acc = figures(text, "curve-1")
    assert acc["x"] == newest.steps and acc["time"] is False and acc["y"] == "acc"
    assert acc["series"][0]["values"][-1] == pytest.approx(newest.acc)
    assert figures(text, "curve-2")["y"] == "loss"
    assert 'data-chart="curve-1"' in text


def test_a_failed_run_shows_its_error(world: World) -> None:
    page = world.http.get(f"/ui/runs/{world.trials[FAILED].id}")
    assert "ValueError: diverged" in page.text and "FAILED" in page.text


@pytest.mark.parametrize(
    ("run_id", "status", "says"),
    [("0" * 32, 404, "not found"), ("abc", 404, "not found")],
)
def test_an_unknown_run_is_a_404_page(world: World, run_id: str, status: int, says: str) -> None:
    page = world.http.get(f"/ui/runs/{run_id}")
    assert page.status_code == status and says in page.text
    assert page.headers["content-type"].startswith("text/html")


def marked_rows(html: str, table: str) -> dict[str, bool]:
    """Each row of a compare table: key -> whether it is marked as differing."""
    part = html.split(f'id="{table}"')[1].split("</table>")[0]
    return {
        key: bool(flag)
        for flag, key in re.findall(r'<tr( class="differs")? data-key="([^"]+)">', part)
    }


def test_compare_marks_the_params_that_differ(world: World) -> None:
    even, odd = world.named("trial-010"), world.named("trial-011")
    page = world.http.get("/ui/runs/compare", params={"run": [even.id, odd.id]})
    assert page.status_code == 200
    assert marked_rows(page.text, "param-table") == {
        "data": False, "depth": True, "lr": True, "optimizer": True,
    }  # fmt: skip
    assert "(3 of 4)" in page.text and 'id="only-differences"' in page.text
    assert marked_rows(page.text, "metric-table") == {
        "acc": True, "loss": True, "val loss": True,  # only trial-010 has one
    }  # fmt: skip
    assert f"<code>{even.params['lr']}</code>" in page.text
    assert f"<code>{odd.params['lr']}</code>" in page.text


def test_compare_draws_every_run_on_one_chart_per_metric(world: World) -> None:
    even, odd = world.named("trial-010"), world.named("trial-011")
    page = world.http.get("/ui/runs/compare", params={"run": [even.id, odd.id]})
    drawn = figures(page.text, "compare-curves")
    assert drawn["y"] == "acc"  # the first shared key, until another is chosen
    assert drawn["x"] == [0, 1, 2, 3, 4, 6, 8]  # every step either run logged
    labels = [line["label"] for line in drawn["series"]]
    assert labels == [f"trial-010 ({even.id[:8]})", f"trial-011 ({odd.id[:8]})"]
    even_line, odd_line = (line["values"] for line in drawn["series"])
    assert even_line[-2:] == [None, None] and even_line[4] == pytest.approx(even.acc)
    assert odd_line[1] is None and odd_line[-1] == pytest.approx(odd.acc)
    loss = world.http.get("/ui/runs/compare", params={"run": [even.id, odd.id], "metric": "loss"})
    assert figures(loss.text, "compare-curves")["y"] == "loss"
    assert '<option value="loss" selected>' in loss.text


@pytest.mark.parametrize(
    ("picked", "extra", "status", "says"),
    [
        (1, {}, 422, "choose at least 2 different runs to compare (got 1)"),
        (0, {}, 422, "(got 0)"),
        (11, {}, 422, "compare at most 10 runs at once (got 11)"),
        (2, {"metric": "f1"}, 422, "none of these runs has a metric &#39;f1&#39;"),
    ],
)
def test_compare_refuses_what_it_cannot_show(
    world: World, picked: int, extra: dict[str, str], status: int, says: str
) -> None:
    ids = [trial.id for trial in world.trials[:picked]]
    page = world.http.get("/ui/runs/compare", params={"run": ids, **extra})
    assert (page.status_code, page.headers["content-type"][:9]) == (status, "text/html")
    assert says in page.text


def test_compare_says_which_run_is_unknown(world: World) -> None:
    page = world.http.get("/ui/runs/compare", params={"run": [world.trials[0].id, "f" * 32]})
    assert page.status_code == 404 and f"run &#39;{'f' * 32}&#39; not found" in page.text


def test_the_pages_ask_who_is_not_logged_in_to_log_in(world: World) -> None:
    transport = SyncASGITransport(world.app)
    with httpx.Client(transport=transport, base_url="http://testserver") as anon:
        for path in ("/ui/runs", f"/ui/runs/{world.trials[0].id}", "/ui/runs/compare"):
            assert anon.get(path).status_code == 303


def test_with_no_project_the_page_says_how_to_make_one(tmp_path: Path) -> None:
    app = create_app(Settings.load(environ={}, home=tmp_path / "home", actor="local"))
    with httpx.Client(transport=SyncASGITransport(app), base_url="http://testserver") as http:
        page = http.get("/ui/runs")
        assert page.status_code == 200 and "No project yet" in page.text
        app.state.platform.tracking.start_run(project="empty", actor=SEEDER, name="x")
        one = http.get("/ui/runs")
        assert "1 run ·" in one.text and "admin (auth off)" in one.text
    app.state.platform.close()


def test_the_pages_read_alike_on_sqlite_and_postgresql(settings: Settings) -> None:
    """The queries the pages add (duration order, used keys, runs whole, histories, model
    versions from a run) on each database."""
    app = create_app(settings)
    trials = build_world(app.state.platform)
    with httpx.Client(transport=SyncASGITransport(app), base_url="http://testserver") as http:
        table = http.get("/ui/runs", params={"project": "tuning", "order_by": "duration desc"})
        assert page_ids(table.text)[0] == trials[0].id
        assert "metrics.`val loss`" in headers(table.text)
        newest = http.get(f"/ui/runs/{trials[-1].id}").text
        assert "tuning/violation@1" in newest and figures(newest, "curve-1")["y"] == "acc"
        assert 'href="/ui/models/tuning/violation/1"' in newest  # the version's own page
        compared = http.get("/ui/runs/compare", params={"run": [trials[10].id, trials[11].id]})
        assert figures(compared.text, "compare-curves")["x"] == [0, 1, 2, 3, 4, 6, 8]
    app.state.platform.close()


# --- 10,000 runs -------------------------------------------------------------------------


def seed_runs(platform: Platform, project: str, count: int, start: float) -> list[str]:
    """``count`` finished runs in ``project``, a second apart from ``start``, in one
    transaction: four params each, and ``acc``/``loss`` histories of ten steps."""
    tracking = platform.tracking
    ids = [f"{n:032x}" for n in range(1, count + 1)]
    with platform.db.begin() as conn:
        project_id = tracking.project_service.ensure(conn, project, SEEDER)
        experiment_id = tracking.project_service.ensure_experiment(
            conn, project_id, project, "default", SEEDER
        )
        conn.execute(
            tables.runs.insert(),
            [
                {
                    "id": run_id,
                    "project_id": project_id,
                    "experiment_id": experiment_id,
                    "name": f"run-{n}",
                    "status": "FINISHED",
                    "user": SEEDER.name,
                    "start_time": start + n,
                    "end_time": start + n + (n * 7 % 600),
                }
                for n, run_id in enumerate(ids)
            ],
        )
        conn.execute(
            tables.params.insert(),
            [
                {"run_id": run_id, "key": key, "value": value}
                for n, run_id in enumerate(ids)
                for key, value in trial_params(n).items()
            ],
        )
        steps = list(range(10))
        for n, run_id in enumerate(ids):
            acc = (n * 7919 % count) / count
            run_rows.write_metrics(
                conn,
                run_id,
                {
                    key: MetricSeries(
                        values=[value * (k + 1) / 10 for k in steps],
                        steps=steps,
                        timestamps=[int((start + n) * 1000) + k for k in steps],
                    )
                    for key, value in (("acc", acc), ("loss", 1 - acc))
                },
            )
    return ids


@pytest.fixture(scope="module")
def crowded(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[httpx.Client, Platform]]:
    """10,000 runs in project ``big``, seeded before the server opens (as after a restart)."""
    home = tmp_path_factory.mktemp("ui-runs-big") / "home"
    seeding = Platform.open(Settings.load(environ={}, home=home))
    seed_runs(seeding, "big", 10_000, time.time() - 20_000)
    seeding.close()
    app = create_app(Settings.load(environ={}, home=home, auth=True))
    http = logged_in(app)
    yield http, app.state.platform
    http.close()
    app.state.platform.close()


@pytest.mark.slow
@pytest.mark.parametrize(
    "asked",
    [
        {},
        {"order_by": "metrics.acc desc"},
        {"order_by": "duration desc", "page": "7"},
        {"filter": "params.optimizer = 'adam' and metrics.acc > 0.5"},
    ],
)
def test_ten_thousand_runs_take_a_bounded_number_of_queries(
    crowded: tuple[httpx.Client, Platform], asked: dict[str, str]
) -> None:
    http, platform = crowded
    statements: list[str] = []

    def count(*args: Any) -> None:
        if args[2] != "BEGIN":
            statements.append(str(args[2]))

    event.listen(platform.db.engine, "before_cursor_execute", count)
    try:
        page = http.get("/ui/runs", params={"project": "big", **asked})
    finally:
        event.remove(platform.db.engine, "before_cursor_execute", count)
    assert page.status_code == 200
    assert len(page_ids(page.text)) == 50
    # Projects, experiments, keys, the page, its count, its values: never one per run.
    assert len(statements) <= 10, statements
    if "order_by" in asked and "acc" in asked["order_by"]:
        assert cells(page.text, "metric", "acc")[0] == f"{(9_999 / 10_000):.4g}"
    if not asked:
        assert "10,000 runs" in page.text and "page 1 of 200" in page.text


def test_a_run_with_more_keys_than_charts_draws_the_first_and_names_the_rest(
    tmp_path: Path,
) -> None:
    app = create_app(Settings.load(environ={}, home=tmp_path / "home", actor="local"))
    tracking = app.state.platform.tracking
    run = tracking.start_run(project="wide", actor=SEEDER)
    curve = MetricSeries(values=[1.0, 0.5], steps=[0, 1], timestamps=[0, 1])
    point = MetricSeries(values=[1.0], steps=[0], timestamps=[0])
    metrics = {f"m{n:02d}": curve for n in range(33)} | {"a_single": point}
    tracking.end_run(run.id, actor=SEEDER, metrics=metrics)
    with httpx.Client(transport=SyncASGITransport(app), base_url="http://testserver") as http:
        page = http.get(f"/ui/runs/{run.id}").text
    drawn = re.findall(r'<script type="application/json" id="(curve-\d+)"', page)
    assert len(drawn) == 29  # the first 30 keys in order, less a_single (one point)
    assert figures(page, drawn[0])["y"] == "m00" and figures(page, drawn[-1])["y"] == "m28"
    assert "Not drawn (4 more keys): m29, m30, m31, m32." in unescape(page)
    app.state.platform.close()
