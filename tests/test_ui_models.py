"""The model pages without a browser: the list by project, one model's versions, aliases with
every move and verdicts with every rule, and one version's lineage from data to deployment."""

from __future__ import annotations

import re
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from html import unescape
from pathlib import Path
from typing import Any

import httpx
import numpy as np
import pytest
from sqlalchemy import Engine, event

from opsloop.domain.entities import Actor
from opsloop.domain.names import parse_model_ref
from opsloop.domain.settings import Settings
from opsloop.sdk.client import Client
from opsloop.sdk.datasets import log_dataset
from opsloop.sdk.models import register_model
from opsloop.server.app import create_app
from opsloop.server.ui.pages import models as page

from ._asgi import SyncASGITransport
from ._models import posts, spam_classifier

GATE = """
endpoint: moderation
target: spam
task: classification
rules:
  - recall >= 0.5
  - f1 >= champion - 0.01
  - accuracy >= 0.6
"""

WHOLE = "must be a whole number from 1 to 1,000,000, not "  # then the value given


class Constant:
    """Calls every post spam: a candidate that fails the gate."""

    def predict(self, features: Any) -> Any:
        return np.ones(len(features), dtype=int)


@dataclass
class World:
    http: httpx.Client
    client: Client
    run_id: str
    evaluations: dict[str, int]  # "v1", "v2", "v3" -> evaluation id
    engine: Engine


def seed(client: Client) -> tuple[str, dict[str, int]]:
    """mod/violation: v1 (trained by a run that read posts@2) deployed, v2 as a canary then
    promoted, v3 no-go; a challenger alias set and removed. rec/ranker: one version."""
    frame, label = posts(rows=300, seed=3)
    frame["spam"] = label
    first = log_dataset(client, frame, "posts", project="mod", source="posts.csv")
    data = log_dataset(client, frame, "posts", project="mod", parents=[first])
    run = client.create_run(project="mod", experiment="train", name="logreg-c1")
    client.add_run_input(run.id, data.ref)
    model, example = spam_classifier()
    v1 = register_model(client, model, "mod/violation", input_example=example, run_id=run.id)
    client.end_run(run.id)
    v2 = register_model(client, spam_classifier(c=0.5)[0], "mod/violation", input_example=example)
    v3 = register_model(client, Constant(), "mod/violation", flavor="python_function")
    found = {}
    found["v1"] = client.evaluate(parse_model_ref(v1.ref), data.ref, gate=GATE).id
    client.deploy("moderation", v1.ref, reason="first release")
    found["v3"] = client.evaluate(parse_model_ref(v3.ref), data.ref, gate=GATE).id
    found["v2"] = client.evaluate(parse_model_ref(v2.ref), data.ref, gate=GATE).id
    client.deploy("moderation", v2.ref, canary=10, reason="try C=0.5")
    client.promote("moderation", reason="canary held")
    client.set_alias("mod", "violation", "challenger", 3, reason="see how it does")
    client.remove_alias("mod", "violation", "challenger")
    register_model(client, model, "rec/ranker")
    return run.id, found


@contextmanager
def opened(home: Path, database_url: str | None = None) -> Iterator[World]:
    """The seeded store at ``home`` behind an app with auth on, a viewer logged in."""
    app = create_app(Settings.load(environ={}, home=home, auth=True, database_url=database_url))
    platform = app.state.platform
    client = Client.over(platform, Actor(name="dana"))
    run_id, evaluations = seed(client)
    viewer = platform.auth.create("viewer", Actor(name="root"), name="viewer-1").secret
    with httpx.Client(transport=SyncASGITransport(app), base_url="http://testserver") as http:
        assert http.post("/login", data={"token": viewer, "next": "/"}).status_code == 303
        yield World(http, client, run_id, evaluations, platform.db.engine)
    client.close()
    platform.close()


@pytest.fixture(scope="module")
def world(tmp_path_factory: pytest.TempPathFactory) -> Iterator[World]:
    with opened(tmp_path_factory.mktemp("ui-models") / "home") as seeded:
        yield seeded


def text_of(fragment: str) -> str:
    """What a reader sees of an HTML fragment: tags dropped, entities read, spaces folded."""
    return " ".join(unescape(re.sub(r"<[^>]+>", " ", fragment)).split())


def rows(page_html: str, table_id: str) -> list[str]:
    """The text of each body row of the table with ``table_id``."""
    body = page_html.split(f'id="{table_id}"', 1)[1].split("<tbody>", 1)[1]
    body = body.split("</tbody>", 1)[0]
    return [text_of(row) for row in re.findall(r"<tr[^>]*>(.*?)</tr>", body, flags=re.S)]


def section(html: str, section_id: str) -> str:
    return html.split(f'id="{section_id}"', 1)[1].split("</section>", 1)[0]


def ok(world: World, path: str) -> str:
    answer = world.http.get(path)
    assert answer.status_code == 200, answer.text
    assert answer.headers["server-timing"].startswith("render;dur=")
    return answer.text


def test_the_list_shows_every_model_by_project_with_its_figures(world: World) -> None:
    html = ok(world, "/ui/models")
    assert re.findall(r'data-project="([^"]+)"', html) == ["mod", "rec"]
    violation = next(r for r in re.split(r"<tr>", html) if ">violation</a>" in r)
    text = text_of(violation)
    assert text.startswith("violation 3 3 champion → 2")
    assert 'href="/ui/models/mod/violation/3"' in violation  # the latest version
    newest = world.client.get_model_version(parse_model_ref("mod/violation@3")).created_at
    assert f"{newest:%Y-%m-%d %H:%M:%S} UTC" in violation  # when last registered


def test_the_project_filter_keeps_one_project(world: World) -> None:
    html = ok(world, "/ui/models?project=rec")
    assert re.findall(r'data-project="([^"]+)"', html) == ["rec"]
    assert ">ranker</a>" in html and ">violation</a>" not in html
    assert '<option value="rec" selected>' in html


@pytest.mark.parametrize(
    ("path", "status", "named"),
    [
        ("/ui/models?project=nothing", 404, "project &#39;nothing&#39; not found"),
        ("/ui/models?project=..", 422, "project &#39;..&#39;"),
        ("/ui/models?page=0", 422, f"page {WHOLE}&#39;0&#39;"),
        ("/ui/models?page=two", 422, f"page {WHOLE}&#39;two&#39;"),
        ("/ui/models?page=2", 422, "page 2 is past the last page (1)"),
        ("/ui/models/nothing/violation", 404, "project &#39;nothing&#39; not found"),
        ("/ui/models/mod/nothing", 404, "model mod/nothing not found"),
        ("/ui/models/mod/violation/99", 404, "model mod/violation has no version 99"),
        ("/ui/models/mod/violation/0", 422, "version &#39;0&#39; must be a whole number"),
        ("/ui/models/mod/violation/staging", 404, "has no alias &#39;staging&#39;"),
        ("/ui/models/mod/nothing/1", 404, "model mod/nothing not found"),
        ("/ui/models/mod/violation?verdict=maybe", 422, "verdict &#39;maybe&#39; must be one of"),
        ("/ui/models/mod/violation?versions_page=-1", 422, f"versions_page {WHOLE}&#39;-1&#39;"),
        ("/ui/models/mod/violation?alias=a%20b", 422, "alias &#39;a b&#39;"),
        ("/ui/models/mod/violation/1?evaluations_page=9", 422, "evaluations_page 9 is past"),
    ],
)
def test_what_is_missing_or_malformed_is_a_page_naming_it(
    world: World, path: str, status: int, named: str
) -> None:
    answer = world.http.get(path)
    assert answer.status_code == status
    assert answer.headers["content-type"].startswith("text/html")
    assert named in answer.text


def test_a_model_lists_its_versions_newest_first_with_run_aliases_and_verdict(
    world: World,
) -> None:
    html = ok(world, "/ui/models/mod/violation")
    versions = rows(html, "version-table")
    assert [v.split()[0] for v in versions] == ["3", "2", "1"]
    assert "python_function" in versions[0] and "no-go for moderation" in versions[0]
    assert "champion" in versions[1] and "go for moderation" in versions[1]
    assert f'href="/ui/runs/{world.run_id}"' in section(html, "versions")
    assert versions[2].split()[-3:] == ["go", "for", "moderation"]
    v3_verdict = f'href="/ui/models/mod/violation/3#evaluation-{world.evaluations["v3"]}"'
    assert v3_verdict in html


def test_a_model_shows_where_each_alias_points_and_every_move(world: World) -> None:
    html = ok(world, "/ui/models/mod/violation")
    current = rows(html, "alias-table")
    assert current[0].startswith("challenger removed")
    assert current[1].startswith("champion version 2")
    assert "promote on endpoint moderation (deployment 3)" in current[1]
    moves = rows(html, "moves")
    # newest first: challenger removed, challenger set, champion 1 -> 2, champion set to 1
    assert [m.split(" UTC ")[1].split(" dana")[0] for m in moves] == [
        "challenger 3 removed",
        "challenger — 3",
        "champion 1 2",
        "champion — 1",
    ]
    assert moves[1].endswith("dana see how it does")
    only = rows(ok(world, "/ui/models/mod/violation?alias=champion"), "moves")
    assert len(only) == 2 and all(" champion " in m for m in only)


def test_a_verdict_shows_every_rule_with_value_threshold_and_outcome(world: World) -> None:
    html = ok(world, "/ui/models/mod/violation")
    v3 = html.split(f'id="evaluation-{world.evaluations["v3"]}"', 1)[1].split("</article>")[0]
    assert "no-go" in v3 and "beside champion mod/violation@1" in v3
    table = v3.split('class="grid rules"', 1)[1].split("</table>", 1)[0]
    shown = [text_of(r) for r in re.findall(r"<tr[^>]*>(.*?)</tr>", table, flags=re.S)][1:]
    evaluation = world.client.get_evaluation(world.evaluations["v3"])
    assert len(shown) == len(evaluation.rules) == 3
    assert [r.rule for r in evaluation.rules] == [
        "recall >= 0.5",
        "f1 >= champion - 0.01",
        "accuracy >= 0.6",
    ]
    assert {r.rule: r.passed for r in evaluation.rules}["recall >= 0.5"]  # catches all spam
    assert not all(r.passed for r in evaluation.rules)
    for rule, row in zip(evaluation.rules, shown, strict=True):
        assert row.startswith(("pass " if rule.passed else "fail ") + rule.rule)
        assert rule.value is not None and rule.threshold is not None
        assert f"{rule.value:.4g} {rule.threshold:.4g}" in row
        assert row.endswith(rule.detail)


def test_the_verdict_filter_changes_which_evaluations_show(world: World) -> None:
    every = section(ok(world, "/ui/models/mod/violation"), "evaluations")
    assert every.count('<article class="evaluation"') == 3
    no_go = section(ok(world, "/ui/models/mod/violation?verdict=no-go"), "evaluations")
    assert re.findall(r'id="evaluation-(\d+)"', no_go) == [str(world.evaluations["v3"])]
    assert "No evaluation with that verdict" in section(
        ok(world, "/ui/models/mod/violation?verdict=none"), "evaluations"
    )


def test_long_lists_are_paged_and_each_pager_keeps_the_others(
    world: World, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(page, "VERSIONS_PER_PAGE", 2)
    monkeypatch.setattr(page, "MOVES_PER_PAGE", 3)
    first = ok(world, "/ui/models/mod/violation?alias=")
    assert [v.split()[0] for v in rows(first, "version-table")] == ["3", "2"]
    assert "1–2 of 3 versions · page 1 of 2" in first
    assert len(rows(first, "moves")) == 3
    second = ok(world, "/ui/models/mod/violation?versions_page=2&moves_page=2")
    assert [v.split()[0] for v in rows(second, "version-table")] == ["1"]
    assert [m.split(" UTC ")[1].split(" dana")[0] for m in rows(second, "moves")] == [
        "champion — 1"
    ]
    assert 'href="/ui/models/mod/violation?moves_page=2#versions" rel="prev"' in second
    assert 'href="/ui/models/mod/violation?versions_page=2#alias-history" rel="prev"' in second


def test_the_model_list_and_the_evaluations_are_paged_too(
    world: World, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(page, "MODELS_PER_PAGE", 1)
    monkeypatch.setattr(page, "EVALUATIONS_PER_PAGE", 1)
    assert re.findall(r'data-project="([^"]+)"', ok(world, "/ui/models")) == ["mod"]
    assert re.findall(r'data-project="([^"]+)"', ok(world, "/ui/models?page=2")) == ["rec"]
    oldest = section(ok(world, "/ui/models/mod/violation?evaluations_page=3"), "evaluations")
    assert re.findall(r'id="evaluation-(\d+)"', oldest) == [str(world.evaluations["v1"])]
    assert "3–3 of 3 evaluations · page 3 of 3" in oldest


def test_a_version_draws_its_lineage_from_data_to_deployments(world: World) -> None:
    html = ok(world, "/ui/models/mod/violation/1")
    stages = dict(
        re.findall(r'data-stage="(\w+)">(.*?)</li>', section(html, "lineage"), flags=re.S)
    )
    assert "mod/posts@2" in stages["datasets"] and "built from mod/posts@1" in stages["datasets"]
    assert "300 rows × 4 columns" in stages["datasets"]
    assert f'href="/ui/runs/{world.run_id}"' in stages["run"] and "logreg-c1" in stages["run"]
    assert "FINISHED" in stages["run"]
    assert "mod/violation@1" in stages["version"]
    served = re.findall(r"<strong>moderation</strong></a> #(\d+)", stages["deployments"])
    assert served == ["2", "1"]  # the canary's plan kept v1 as primary; the promote did not
    assert "as primary" in stages["deployments"] and "serving now" not in stages["deployments"]
    assert 'href="/ui/endpoints/moderation"' in stages["deployments"]


def test_the_serving_version_is_marked_and_its_roles_named(world: World) -> None:
    html = ok(world, "/ui/models/mod/violation/2")
    deployments = section(html, "lineage").split('data-stage="deployments"', 1)[1]
    cards = deployments.split('<div class="node deployment')[1:]
    assert ["serving now" in c for c in cards] == [True, False]
    assert "promote · as primary" in cards[0] and "canary · as canary (10%)" in cards[1]
    assert "Registered without a run." in html and "No run, so no data recorded." in html


def test_a_version_shows_its_signature_and_its_own_evaluations(world: World) -> None:
    html = ok(world, "/ui/models/mod/violation/3")
    signature = section(html, "signature")
    assert "Not recorded" in signature  # registered without an input example
    one = section(ok(world, "/ui/models/mod/violation/1"), "signature")
    assert re.findall(r"<tr><td>(\w+)</td>", one) == ["num_char", "exclaim", "links"]
    assert "<code>0</code>, <code>1</code>" in one  # the classes
    evaluations = section(html, "evaluations")
    assert re.findall(r'id="evaluation-(\d+)"', evaluations) == [str(world.evaluations["v3"])]
    assert "Never deployed." in html


def test_an_alias_in_the_address_leads_to_its_version(world: World) -> None:
    moved = world.http.get("/ui/models/mod/violation/champion")
    assert (moved.status_code, moved.headers["location"]) == (303, "/ui/models/mod/violation/2")


def test_the_pages_ask_the_store_the_same_number_of_questions_however_long_the_lists(
    tmp_path: Path, database_url: str
) -> None:
    """No query per row: adding versions, evaluations and alias moves adds no statement.
    On SQLite and PostgreSQL (the JSON reads of plans and alias moves differ in SQL)."""
    with opened(tmp_path / "home", database_url) as world:
        model_page = ok(world, "/ui/models/mod/violation?alias=challenger")
        assert len(rows(model_page, "moves")) == 2
        assert rows(model_page, "alias-table")[1].startswith("champion version 2")
        lineage = section(ok(world, "/ui/models/mod/violation/1"), "lineage")
        assert re.findall(r"<strong>moderation</strong></a> #(\d+)", lineage) == ["2", "1"]
        _same_questions(world)


def _same_questions(world: World) -> None:
    engine = world.engine
    statements: list[str] = []

    def count(_conn: Any, _cursor: Any, statement: str, *_: Any) -> None:
        # the page's reads; not the WAL checkpointer's pragmas or the session's token check
        if statement.startswith("SELECT") and "FROM tokens" not in statement:
            statements.append(statement)

    paths = ("/ui/models", "/ui/models/mod/violation", "/ui/models/mod/violation/1")

    def asked() -> list[int]:
        found = []
        for path in paths:
            statements.clear()
            ok(world, path)
            found.append(len(statements))
        return found

    event.listen(engine, "before_cursor_execute", count)
    try:
        before = asked()
        model, example = spam_classifier()
        frame, label = posts(rows=100, seed=4)
        frame["spam"] = label
        data = log_dataset(world.client, frame, "extra", project="mod")
        for _ in range(3):
            added = register_model(world.client, model, "mod/violation", input_example=example)
            world.client.evaluate(parse_model_ref(added.ref), data.ref, gate=GATE)
            world.client.set_alias("mod", "violation", "candidate", added.version)
        world.client.deploy("moderation", "mod/violation@1", canary=5, reason="more traffic")
        after = asked()
    finally:
        event.remove(engine, "before_cursor_execute", count)
    assert after == before, statements


def test_with_auth_off_the_pages_need_no_login(tmp_path: Path) -> None:
    app = create_app(Settings.load(environ={}, home=tmp_path / "home", actor="local"))
    client = Client.over(app.state.platform)
    model, example = spam_classifier()
    register_model(client, model, "mod/violation", input_example=example)
    with httpx.Client(transport=SyncASGITransport(app), base_url="http://testserver") as http:
        listed = http.get("/ui/models")
        assert listed.status_code == 200 and ">violation</a>" in listed.text
        assert http.get("/ui/models/mod/violation/1").status_code == 200
    client.close()
    app.state.platform.close()
