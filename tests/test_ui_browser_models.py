"""The model pages in a real browser (Debian's Chromium under Playwright) against a real
``opsloop server --auth``: a viewer goes from the list to a model, reads a verdict's rules and
an alias's moves, then a version's lineage. Screenshots land in test-output/screenshots/."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest

from opsloop.domain.settings import Settings
from opsloop.sdk.client import Client

from ._ui_browser import Site, log_in, pytestmark, served, shot
from .test_ui_models import seed

__all__ = ["pytestmark"]


@pytest.fixture(scope="module")
def site(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Site]:
    """The world of test_ui_models: mod/violation with three versions, verdicts, alias moves
    and deployments on ``moderation``; rec/ranker."""
    root = tmp_path_factory.mktemp("ui-models")
    home = root / "home"
    client = Client(Settings.load(environ={}, home=home, actor="dana"))
    try:
        seed(client)
    finally:
        client.close()
    with served(home, root / "server.log") as running:
        yield running


def test_a_viewer_follows_a_model_from_the_list_to_a_versions_lineage(
    page: Any, site: Site
) -> None:
    log_in(page, site, "viewer", "/ui/models")
    assert page.locator("section[data-project]").count() == 2
    row = page.locator("table.models tr", has_text="violation")
    assert "champion → 2" in row.inner_text()
    shot(page, "models")

    row.locator("a", has_text="violation").click()
    page.wait_for_url(f"{site.url}/ui/models/mod/violation")
    assert page.locator("#version-table tbody tr").count() == 3
    no_go = page.locator("article.evaluation", has_text="no-go").first
    rules = no_go.locator("table.rules tbody tr")
    assert rules.count() == 3
    assert "recall >= 0.5" in rules.nth(0).inner_text()
    assert no_go.locator("table.rules .state", has_text="fail").count() >= 1
    no_go.locator("summary").click()  # every metric, beside the champion's
    assert no_go.locator("table.metrics").is_visible()
    move = page.locator("#moves tbody tr", has_text="see how it does")
    assert move.count() == 1 and "challenger" in move.inner_text()
    page.evaluate("window.scrollTo(0, 0)")  # sticky table heads follow the scroll in a shot
    shot(page, "model")

    page.locator("#version-table a", has_text="1").first.click()
    page.wait_for_url(f"{site.url}/ui/models/mod/violation/1")
    lineage = page.locator("#lineage")
    assert "mod/posts@2" in lineage.locator("[data-stage=datasets]").inner_text()
    run = lineage.locator("[data-stage=run] a")
    assert run.get_attribute("href", timeout=1000).startswith("/ui/runs/")
    assert "logreg-c1" in run.inner_text()
    assert "mod/violation@1" in lineage.locator("[data-stage=version]").inner_text()
    served_by = lineage.locator("[data-stage=deployments] .node")
    assert served_by.count() == 2
    assert served_by.first.locator("a").get_attribute("href") == "/ui/endpoints/moderation"
    assert page.locator("#signature table.grid tbody tr").count() == 3
    shot(page, "model-version")
    assert site.problems == []


def test_an_unknown_version_is_a_page_saying_so(page: Any, site: Site) -> None:
    log_in(page, site, "viewer", "/ui/models")
    answer = page.goto(f"{site.url}/ui/models/mod/violation/42")
    assert answer is not None and answer.status == 404
    assert "model mod/violation has no version 42" in page.inner_text(".error")
    shot(page, "model-version-missing")
