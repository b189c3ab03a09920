"""The Monitoring pages in a real browser (Debian's Chromium under Playwright) against a real
``opsloop server`` with tokens on: a viewer reads the drift, accuracy and alerts of a monitor
whose traffic drifted; a deployer resolves the alert with a reason. Screenshots of each page
land under test-output/screenshots/."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest

from ._ui_browser import Site, log_in, pytestmark, served, shot, visit
from .test_ui_monitoring import seed

__all__ = ["pytestmark"]


@pytest.fixture(scope="module")
def site(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Site]:
    """``moderation``: 12 hourly windows, ``links`` shifted in the last four, its drift alert
    open; ``fresh``: a monitor that has computed nothing; ``unwatched``: no monitor."""
    root = tmp_path_factory.mktemp("ui-monitoring")
    seed(root / "home")
    with served(root / "home", root / "server.log") as running:
        yield running


def test_a_viewer_reads_drift_accuracy_and_the_alert_with_its_actions(
    page: Any, site: Site
) -> None:
    log_in(page, site, "viewer", "/ui/monitoring")
    visit(page, site, "/ui/monitoring", "monitoring")
    listed = page.inner_text("#monitors tbody tr[data-endpoint=moderation]")
    assert "CRITICAL" in listed.upper() and "1 of 3" in listed
    assert "unwatched" in page.inner_text("#unmonitored")

    page.click("#monitors a[href='/ui/monitoring/moderation']")
    page.wait_for_url(f"{site.url}/ui/monitoring/moderation")
    for chart in ("drift-figures", "performance-figures", "coverage-figures"):
        page.wait_for_selector(f"[data-chart={chart}] canvas")
    first = page.locator("#features tbody tr").first
    assert first.get_attribute("data-feature") == "links"
    assert first.get_attribute("class") == "drifted" and "DRIFTED" in first.inner_text().upper()
    assert page.locator("#features tbody tr.drifted").count() == 1
    # The chart's legend names every feature and the threshold.
    legend = page.inner_text("[data-chart=drift-figures] .u-legend")
    assert all(name in legend for name in ("links", "lang", "num_char", "threshold"))
    alert = page.inner_text("#alerts tr[data-alert]")
    assert "drift.share_drifted > 0.2" in alert
    assert "error · rollback" in alert and "ok · notify log" in alert
    assert page.locator("[data-resolve]").count() == 0  # a viewer may not resolve
    shot(page, "monitor")
    visit(page, site, "/ui/monitoring/moderation?days=90", "monitor-90-days")
    page.wait_for_selector("[data-chart=drift-figures] canvas")
    visit(page, site, "/ui/monitoring/fresh", "monitor-nothing-computed")
    assert "No window computed in this period" in page.inner_text("#performance")
    assert site.problems == []


def test_a_bad_period_is_a_page_saying_so(page: Any, site: Site) -> None:
    log_in(page, site, "viewer", "/ui/monitoring")
    answer = page.goto(f"{site.url}/ui/monitoring/moderation?days=2")
    assert answer is not None and answer.status == 422
    assert "days must be one of 1, 7, 30, 90" in page.inner_text(".error")
    shot(page, "monitor-bad-period")


def test_a_deployer_resolves_the_alert_with_a_reason(page: Any, site: Site) -> None:
    log_in(page, site, "deployer", "/ui/monitoring/moderation")
    page.click("[data-resolve][data-rule=drift]")
    page.click("#resolve-ok")  # no reason yet: refused on the page
    assert "Say why" in page.inner_text("#resolve-error")
    page.fill("#resolve-reason", "links shift is a new client, retraining")
    shot(page, "monitor-resolve")
    page.click("#resolve-ok")
    page.wait_for_selector("#alerts tr.resolved")
    assert "by deployer-1: links shift is a new client" in page.inner_text("#alerts tr.resolved")
    assert page.locator("[data-resolve]").count() == 0
    (alert,) = site.get("/api/v1/alerts?endpoint=moderation")
    assert alert["state"] == "resolved" and alert["resolved_by"] == "deployer-1"
    assert site.problems == []
