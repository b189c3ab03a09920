"""The Pipelines pages in a real browser (Debian's Chromium under Playwright) against a real
``opsloop server`` that loads the pipelines below from its ``pipelines`` setting: the runs,
a failed run's timeline, and "Run again" for a deployer only."""

from __future__ import annotations

import textwrap
from collections.abc import Iterator
from typing import Any

import pytest

from opsloop.domain.entities import Actor
from opsloop.domain.settings import Settings
from opsloop.services.platform import Platform

from ._ui_browser import Site, log_in, pytestmark, served, shot, visit

__all__ = ["pytestmark"]

PIPELINES = textwrap.dedent(
    """
    import time

    import opsloop


    @opsloop.step
    def ingest(rows: int) -> list[int]:
        time.sleep(0.05)
        return list(range(rows))


    @opsloop.step
    def shard(rows: list[int], part: int) -> int:
        time.sleep(0.02)
        return sum(rows[part::4])


    @opsloop.step(retries=1, backoff_s=0.05)
    def evaluate(total: int) -> float:
        time.sleep(0.03)
        raise RuntimeError(f"accuracy below the gate for <{total}> rows")


    @opsloop.pipeline(name="uib_retrain", project="uibrowser")
    def retrain(rows: int = 40, fail: bool = True) -> None:
        data = ingest(rows)
        total = sum(shard(data, part) for part in range(4))
        if fail:
            evaluate(total)
    """
)


@pytest.fixture(scope="module")
def site(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Site]:
    """Two runs of ``uib_retrain``: one that succeeds, then one whose last step fails."""
    root = tmp_path_factory.mktemp("ui-pipelines")
    home = root / "home"
    module = root / "uib_pipelines.py"
    module.write_text(PIPELINES)
    platform = Platform.open(Settings.load(environ={}, home=home, pipelines=str(module)))
    try:
        people = Actor(name="seeder")
        platform.pipelines.run("uib_retrain", params={"fail": False}, actor=people)
        platform.pipelines.run("uib_retrain", params={"rows": 80}, actor=people)
    finally:
        platform.close()
    with served(home, root / "server.log", {"OPSLOOP_PIPELINES": str(module)}) as running:
        yield running


def failed_run(site: Site) -> Any:
    first = site.get("/api/v1/pipeline-runs?status=failed")[-1]  # the seeded one
    return site.get(f"/api/v1/pipeline-runs/{first['id']}")


def test_a_viewer_reads_the_runs_and_a_failed_runs_timeline(page: Any, site: Site) -> None:
    log_in(page, site, "viewer", "/ui/pipelines")
    visit(page, site, "/ui/pipelines", "pipelines")
    assert page.locator("#run-list tbody tr").count() == len(site.get("/api/v1/pipeline-runs"))
    run = failed_run(site)
    row = page.locator(f"#run-list tr[data-run='{run['id']}']")
    assert row.locator(".minibar .bar").count() == len(run["steps"]) == 6
    row.locator("a[title]").click()
    page.wait_for_url(f"{site.url}/ui/pipelines/runs/{run['id']}")
    shot(page, "pipeline-run-failed")
    assert page.locator(".gantt-row[data-step]").count() == len(run["steps"])
    assert page.locator(".gantt-row[data-step] .bar").count() == len(run["steps"])
    failed = page.locator(".gantt-row[data-status=failed]")
    assert failed.count() == 1
    assert failed.get_attribute("data-step") == "6"
    bar = failed.locator(".bar.failed")
    assert "evaluate: failed, 2 attempts" in (bar.get_attribute("title") or "")
    box, track = bar.bounding_box(), failed.locator(".track").bounding_box()
    assert box is not None and track is not None
    assert box["width"] > 0 and box["x"] + box["width"] <= track["x"] + track["width"] + 1
    assert "for <3160> rows" in page.inner_text("#steps tr[data-step='6']")
    assert page.locator("#run-again").count() == 0  # a viewer may not start runs
    assert site.problems == []


def test_a_deployer_runs_a_failed_pipeline_again(page: Any, site: Site) -> None:
    before = failed_run(site)
    log_in(page, site, "deployer", f"/ui/pipelines/runs/{before['id']}")
    page.click("#run-again")
    assert page.locator("#run-again-confirm").is_visible()
    shot(page, "pipeline-run-again")
    page.click("#run-again-ok")
    page.wait_for_url(lambda url: "/ui/pipelines/runs/" in url and before["id"] not in url)
    again = page.url.rsplit("/", 1)[1]
    started = site.get(f"/api/v1/pipeline-runs/{again}")
    assert (started["pipeline"], started["actor"], started["trigger"]) == (
        "uib_retrain",
        "deployer-1",
        "manual",
    )
    assert started["params"] == before["params"]
    page.wait_for_selector("#run-status.failed", timeout=30_000)  # it reloads until it ends
    shot(page, "pipeline-run-again-ended")
    assert site.problems == []
