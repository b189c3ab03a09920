"""What every browser test of the UI shares: Debian's Chromium driven by Playwright (never a
downloaded browser), a page that records console errors, logging in with a token, and
screenshots under test-output/screenshots/.

A test module imports ``pytestmark`` and ``playwright_api`` from here and defines its own
``site`` fixture (a real ``opsloop server`` with its own data); the ``browser`` and ``page``
fixtures live in conftest.py so that every module gets them without re-importing them."""

from __future__ import annotations

import os
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx
import pytest

from opsloop.domain.entities import Actor
from opsloop.domain.settings import Settings
from opsloop.services.platform import Platform

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
ROLES = ("viewer", "reviewer", "deployer", "admin")

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

    def get(self, path: str, role: str = "viewer") -> Any:
        """The JSON the API answers ``path`` with, asked with ``role``'s token."""
        answer = httpx.get(
            f"{self.url}{path}", headers={"Authorization": f"Bearer {self.secrets[role]}"}
        )
        answer.raise_for_status()
        return answer.json()


def tokens(home: Path, roles: tuple[str, ...] = ROLES) -> dict[str, str]:
    """A token per role (named ``<role>-1``) in the store at ``home``."""
    platform = Platform.open(Settings.load(environ={}, home=home))
    try:
        return {
            role: platform.auth.create(role, Actor(name="root"), name=f"{role}-1").secret
            for role in roles
        }
    finally:
        platform.close()


@contextmanager
def served(home: Path, log: Path, environment: dict[str, str] | None = None) -> Iterator[Site]:
    """A real ``opsloop server`` over ``home`` on 127.0.0.1 with auth on and no scheduler
    (so that nothing changes under a test but what it does)."""
    from .conftest import free_port, server_process

    secrets = tokens(home)
    settings = {"OPSLOOP_AUTH": "1", "OPSLOOP_SCHEDULER": "0", **(environment or {})}
    with server_process(home, free_port(), log, settings) as (url, _):
        yield Site(url, secrets)


def log_in(page: Any, site: Site, role: str, then: str = "/") -> None:
    page.goto(f"{site.url}{then}")
    assert page.url.startswith(f"{site.url}/login")  # sent to log in first
    page.fill("#token", site.secrets[role])
    page.click("button[type=submit]")
    page.wait_for_url(f"{site.url}{then}")


def shot(page: Any, name: str) -> None:
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    page.screenshot(path=str(SCREENSHOTS / f"{name}.png"), full_page=True)


def visit(page: Any, site: Site, path: str, name: str) -> Any:
    """Open ``path`` (logged in already), check it is a timed page, and save its screenshot."""
    answer = page.goto(f"{site.url}{path}")
    assert answer is not None and answer.status == 200, path
    assert answer.headers.get("server-timing", "").startswith("render;dur="), path
    shot(page, name)
    return answer
