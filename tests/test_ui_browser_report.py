"""The Report page in a real browser (Debian's Chromium under Playwright) against a real
``opsloop server``: the maturity map drawn, the pickers, no console error; its screenshot is
the README's maturity map (test-output/screenshots/maturity-map.png)."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest

from opsloop.domain.settings import Settings
from opsloop.services.platform import Platform
from opsloop.store.repos import _time

from ._ui_browser import SCREENSHOTS, Site, log_in, pytestmark, served, visit
from .test_report import FakeTime, T, tell

__all__ = ["pytestmark"]

PERIOD = "since=2025-06-15T15:06:40&until=2025-06-25T15:06:40"


@pytest.fixture(scope="module")
def site(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Site]:
    """test_report's story: a month of the loop on endpoint ``ep`` of project ``mod``."""
    root = tmp_path_factory.mktemp("ui-report")
    home = root / "home"
    patch = pytest.MonkeyPatch()
    clock = FakeTime(T)
    patch.setattr(_time, "time", clock)
    platform = Platform.open(Settings.load(environ={}, home=home, actor="seeder"))
    try:
        tell(platform, clock)
    finally:
        patch.undo()
        platform.close()
    with served(home, root / "server.log") as running:
        yield running


def test_a_viewer_reads_the_maturity_map(page: Any, site: Site) -> None:
    log_in(page, site, "viewer", "/ui/report")
    visit(page, site, f"/ui/report?project=mod&{PERIOD}", "report")
    the_map = page.locator("#map svg")
    assert the_map.is_visible()
    box = the_map.bounding_box()
    assert box is not None and box["width"] > 600  # drawn at size, not collapsed
    labels = the_map.get_attribute("aria-label") or ""
    for words in ("training: manual", "rollback: automated", "review: not handled"):
        assert words in labels
    assert "training" in page.inner_text("#next-step")
    page.locator("#map").screenshot(path=str(SCREENSHOTS / "maturity-map.png"))
    assert (SCREENSHOTS / "maturity-map.png").stat().st_size > 10_000
    assert site.problems == []


def test_the_pickers_narrow_it_to_an_endpoint(page: Any, site: Site) -> None:
    log_in(page, site, "viewer", f"/ui/report?project=mod&{PERIOD}")
    page.select_option("select[name=endpoint]", "ep")
    page.fill("input[name=since]", "2025-06-15T16:22:00")
    page.click("#pickers button[type=submit]")
    page.wait_for_url("**endpoint=ep**")
    assert "No model version was deployed for the first time" in page.inner_text("#lead-times")
    assert "· ep" in page.inner_text("h1")
    assert site.problems == []
    page.fill("input[name=since]", "not a date")
    page.click("#pickers button[type=submit]")
    page.wait_for_load_state()
    assert "is not a time" in page.inner_text("body")
    # The browser reports the 422 answer itself as a console error; nothing else may appear.
    assert all("422" in problem for problem in site.problems)
