"""The web UI in a real browser: Debian's Chromium driven by Playwright (never a downloaded
browser), against a real ``opsloop server`` on 127.0.0.1 with tokens on. Each page visited is
saved as a screenshot under test-output/screenshots/."""

from __future__ import annotations

import os
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx
import pytest

from opsloop.domain.entities import Actor
from opsloop.domain.settings import Settings
from opsloop.sdk.client import Client
from opsloop.sdk.models import register_model
from opsloop.services.platform import Platform

from ._models import spam_classifier
from .conftest import free_port, server_process

playwright_api = pytest.importorskip("playwright.sync_api", reason="playwright is a dev dependency")

CHROMIUM = "/usr/bin/chromium"
# Without the background-networking flags Chromium keeps trying to reach the network.
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
]
SCREENSHOTS = Path(os.environ.get("OPSLOOP_SCREENSHOTS", "test-output/screenshots"))

pytestmark = [
    pytest.mark.slow,
    pytest.mark.skipif(
        not Path(CHROMIUM).exists(), reason="Debian's chromium is missing: run make system-deps"
    ),
]


@dataclass
class Site:
    url: str
    secrets: dict[str, str]  # role -> token secret
    problems: list[str] = field(default_factory=list)  # console errors and page errors


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
    platform = Platform.open(Settings.load(environ={}, home=home))
    try:
        secrets = {
            role: platform.auth.create(role, Actor(name="root"), name=f"{role}-1").secret
            for role in ("viewer", "reviewer", "deployer")
        }
    finally:
        platform.close()
    environment = {"OPSLOOP_AUTH": "1", "OPSLOOP_SCHEDULER": "0"}
    with server_process(home, free_port(), root / "server.log", environment) as (url, _):
        yield Site(url, secrets)


@pytest.fixture(scope="module")
def browser() -> Iterator[Any]:
    with playwright_api.sync_playwright() as driver:
        launched = driver.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        yield launched
        launched.close()


@pytest.fixture
def page(browser: Any, site: Site) -> Iterator[Any]:
    site.problems.clear()  # each test's own
    context = browser.new_context()
    opened = context.new_page()
    opened.on(
        "console",
        lambda message: site.problems.append(message.text) if message.type == "error" else None,
    )
    opened.on("pageerror", lambda error: site.problems.append(str(error)))
    yield opened
    context.close()


def log_in(page: Any, site: Site, role: str, then: str = "/") -> None:
    page.goto(f"{site.url}{then}")
    assert page.url.startswith(f"{site.url}/login")  # sent to log in first
    page.fill("#token", site.secrets[role])
    page.click("button[type=submit]")
    page.wait_for_url(f"{site.url}{then}")


def shot(page: Any, name: str) -> None:
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    page.screenshot(path=str(SCREENSHOTS / f"{name}.png"), full_page=True)


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
    log_in(page, site, "deployer")
    for path, name in (("/", "overview"), ("/ui/endpoints", "endpoints")):
        answer = page.goto(f"{site.url}{path}")
        assert answer is not None and answer.status == 200
        timing = answer.headers.get("server-timing", "")
        assert timing.startswith("render;dur=")
        shot(page, name)
    assert site.problems == []
