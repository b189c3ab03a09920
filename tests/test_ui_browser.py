"""The web UI in a real browser: Debian's Chromium driven by Playwright (never a downloaded
browser), against a real ``opsloop server`` on 127.0.0.1 with tokens on. Each page visited is
saved as a screenshot under test-output/screenshots/."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import httpx
import pytest

from opsloop.domain.settings import Settings
from opsloop.sdk.client import Client
from opsloop.sdk.models import register_model

from ._models import spam_classifier
from ._ui_browser import Site, log_in, pytestmark, served, shot, visit

__all__ = ["pytestmark"]


@pytest.fixture(scope="module")
def site(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Site]:
    """Endpoint ``moderation`` served v1 then v2 (so it can roll back); a token per role."""
    root = tmp_path_factory.mktemp("ui")
    home = root / "home"
    client = Client(Settings.load(environ={}, home=home, actor="seeder"))
    try:
        model, frame = spam_classifier()
        for _ in range(2):
            register_model(client, model, "mod/violation", input_example=frame.head())
        client.deploy("moderation", "mod/violation@1", force=True, reason="first")
        client.deploy("moderation", "mod/violation@2", force=True, reason="second")
    finally:
        client.close()
    with served(home, root / "server.log") as running:
        yield running


def plan_of(site: Site) -> Any:
    answer = httpx.get(
        f"{site.url}/api/v1/endpoints/moderation",
        headers={"Authorization": f"Bearer {site.secrets['viewer']}"},
    )
    return answer.json()["plan"]


def deployments(site: Site) -> int:
    answer = httpx.get(
        f"{site.url}/api/v1/endpoints/moderation/deployments",
        headers={"Authorization": f"Bearer {site.secrets['viewer']}"},
    )
    return len(answer.json())


def test_a_wrong_token_is_refused_on_the_login_page(page: Any, site: Site) -> None:
    page.goto(f"{site.url}/login")
    page.fill("#token", "opl_000000000000_" + "x" * 43)
    page.click("button[type=submit]")
    assert "not valid" in page.inner_text(".error")
    shot(page, "login")


def test_a_deployer_rolls_the_endpoint_back_from_its_page(page: Any, site: Site) -> None:
    assert plan_of(site)["primary"]["version"] == 2
    log_in(page, site, "deployer", "/ui/endpoints/moderation")
    shot(page, "endpoint-deployer")
    page.click("button[data-action=rollback]")
    page.fill("#confirm-reason", "v2 flags too many posts")
    page.click("#confirm-ok")
    page.wait_for_selector("#history tbody tr:first-child >> text=rollback")
    assert plan_of(site)["primary"]["version"] == 1
    first = page.inner_text("#history tbody tr:first-child")
    assert "v2 flags too many posts" in first and "deployer-1" in first
    assert site.problems == []


def test_a_viewer_sees_no_deploy_buttons_and_the_api_refuses_them(page: Any, site: Site) -> None:
    before = deployments(site)
    log_in(page, site, "viewer", "/ui/endpoints/moderation")
    shot(page, "endpoint-viewer")
    assert page.locator("[data-action]").count() == 0
    assert page.locator("#actions").count() == 0
    assert site.problems == []  # before the refused call below, which the console reports
    csrf = next(c["value"] for c in page.context.cookies() if c["name"] == "opsloop_csrf")
    # The page's own session, as a script on it would send it: still refused by role.
    status = page.evaluate(
        """async (csrf) => (await fetch('/api/v1/endpoints/moderation/rollback', {
            method: 'POST', headers: {'Content-Type': 'application/json',
            'X-Opsloop-CSRF': csrf}, body: JSON.stringify({reason: 'try'})})).status""",
        csrf,
    )
    assert status == 403
    assert deployments(site) == before  # nothing changed


def test_every_page_loads_without_a_console_error(page: Any, site: Site) -> None:
    """Each page of the navigation, and the pages of what this store holds."""
    from opsloop.server.ui.render import NAVIGATION

    log_in(page, site, "deployer")
    for path, title in NAVIGATION:
        visit(page, site, path, f"every-{title.lower()}")
    for path, name in (
        ("/ui/models/mod/violation", "model-of-two-versions"),
        ("/ui/models/mod/violation/2", "model-version-deployed"),
        ("/ui/runs?project=mod", "runs-of-project"),
    ):
        visit(page, site, path, name)
    assert site.problems == []
