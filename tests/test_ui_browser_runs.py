"""The Runs pages in a real browser (Debian's Chromium under Playwright) against a real
``opsloop server --auth``: a viewer sorts, filters, picks two runs and compares them; the
chart is drawn and the params that differ are marked. Screenshots: runs, run, runs-compare."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest

from opsloop.domain.settings import Settings
from opsloop.services.platform import Platform

from ._ui_browser import Site, log_in, pytestmark, served, shot, visit
from .test_ui_runs import build_world

__all__ = ["pytestmark"]
PARAMS = ("lr", "optimizer", "depth", "data")


@pytest.fixture(scope="module")
def site(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Site]:
    """Project ``tuning`` with 120 trials (see test_ui_runs.build_world); a token per role."""
    root = tmp_path_factory.mktemp("ui-runs-browser")
    home = root / "home"
    platform = Platform.open(Settings.load(environ={}, home=home, actor="seeder"))
    try:
        build_world(platform)
    finally:
        platform.close()
    with served(home, root / "server.log") as running:
        yield running


def column(page: Any, kind: str, key: str) -> list[str]:
    return [
        text.strip() for text in page.locator(f"#runs td[data-{kind}='{key}']").all_inner_texts()
    ]


def test_a_viewer_sorts_filters_picks_two_runs_and_compares_them(page: Any, site: Site) -> None:
    log_in(page, site, "viewer", "/ui/runs?project=tuning")
    assert page.locator("#runs tbody tr").count() == 50
    shot(page, "runs")

    page.click("#runs th[data-field='metrics.acc'] a")
    page.wait_for_selector("#runs th[data-field='metrics.acc'][aria-sort='ascending']")
    accs = [float(value) for value in column(page, "metric", "acc")]
    assert accs == sorted(accs) and accs[0] == 0.0  # the smallest of all 120, not of a page

    page.fill("#filter", "params.optimizer = 'adam' and status = 'FINISHED'")
    page.press("#filter", "Enter")
    page.wait_for_selector("#count >> text=match the filter")
    assert set(column(page, "param", "optimizer")) == {"adam"}
    accs = [float(value) for value in column(page, "metric", "acc")]
    assert accs == sorted(accs)  # the sort held through the filter

    assert page.is_disabled("#compare-button")
    rows = page.locator("#runs tbody tr")
    picked = [
        {key: rows.nth(n).locator(f"td[data-param='{key}']").inner_text() for key in PARAMS}
        for n in (0, 1)
    ]
    rows.nth(0).locator("input[name=run]").check()
    assert page.is_disabled("#compare-button")  # one run is nothing to compare
    rows.nth(1).locator("input[name=run]").check()
    assert page.is_enabled("#compare-button")
    assert "2 selected" in page.inner_text("#selected")
    page.click("#compare-button")
    page.wait_for_url("**/ui/runs/compare?run=*")
    page.wait_for_selector("#compare-chart canvas")

    for key in PARAMS:
        differs = picked[0][key] != picked[1][key]
        row = page.locator(f"#param-table tr[data-key='{key}']")
        assert ("differs" in (row.get_attribute("class") or "")) == differs, key
    assert picked[0] != picked[1]  # so at least one row is marked
    same = page.locator("#param-table tr[data-key='optimizer']")  # both adam: not marked
    page.check("#only-differences")
    assert same.is_hidden()
    assert page.locator("#param-table tr.differs").first.is_visible()
    # Every run is one line on the chart, none broken where another run logged a step.
    lines = page.evaluate("document.getElementById('compare-chart').chart.data.slice(1)")
    assert len(lines) == 2
    assert page.evaluate(
        "document.getElementById('compare-chart').chart.data.every((c) => !c.includes(null))"
    )
    shot(page, "runs-compare")

    page.select_option("#metric", "loss")
    page.wait_for_url("**metric=loss*")
    page.wait_for_selector("#compare-chart canvas")
    drawn = "JSON.parse(document.getElementById('compare-curves').textContent).y"
    assert page.evaluate(drawn) == "loss"
    assert site.problems == []


def test_a_run_page_draws_its_curves(page: Any, site: Site) -> None:
    log_in(page, site, "viewer", "/ui/runs?project=tuning")
    page.click("#runs tbody tr:first-child td a")
    page.wait_for_selector("#curves [data-chart] canvas")
    assert page.locator("#curves [data-chart] canvas").count() >= 2  # acc and loss
    assert "tuning/violation@1" in page.inner_text("#versions")
    assert "model/weights.bin" in page.inner_text("#artifacts")
    visit(page, site, page.url.removeprefix(site.url), "run")
    page.wait_for_selector("#curves [data-chart] canvas")
    shot(page, "run")
    assert site.problems == []


def test_a_bad_filter_shows_the_mistake_in_the_form(page: Any, site: Site) -> None:
    log_in(page, site, "viewer", "/ui/runs?project=tuning")
    page.fill("#filter", "metrics.acc > 'high'")
    page.press("#filter", "Enter")
    page.wait_for_selector("#search-error")
    assert "metrics compare with numbers" in page.inner_text("#search-error")
    assert page.input_value("#filter") == "metrics.acc > 'high'"
    shot(page, "runs-bad-filter")
    # The browser reports the page's own 422 status; nothing else went wrong.
    assert [problem for problem in site.problems if "status of 422" not in problem] == []


def test_runs_logged_at_different_steps_each_draw_one_line(page: Any, site: Site) -> None:
    ids = [
        site.get(f"/api/v1/projects/tuning/runs?filter=name = 'trial-{n:03d}'")["runs"][0]["id"]
        for n in (10, 11)  # steps 0-4, and 0, 2, ... 8
    ]
    log_in(page, site, "viewer", "/ui/runs?project=tuning")
    visit(page, site, f"/ui/runs/compare?run={ids[0]}&run={ids[1]}", "runs-compare-steps")
    page.wait_for_selector("#compare-chart canvas")
    data = page.evaluate(
        "document.getElementById('compare-chart').chart.data.map((c) => c.map((v) => v ?? -1))"
    )
    assert data[0] == [0, 1, 2, 3, 4, 6, 8]
    # Where a run has no point (null) its line is drawn across, not broken into dots.
    assert data[1][-2:] == [-1, -1] and data[2][1] == -1
    assert page.evaluate(
        "document.getElementById('compare-chart').chart.series.slice(1)"
        ".every((line) => line.spanGaps === true)"
    )
    assert site.problems == []
