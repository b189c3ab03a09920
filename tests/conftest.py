from __future__ import annotations

import itertools
import os
import subprocess
import sys
import time
from collections.abc import Callable, Iterator, Mapping
from contextlib import contextmanager
from pathlib import Path

import httpx
import pytest

from opsloop.domain.entities import Actor
from opsloop.domain.settings import Settings
from opsloop.sdk.client import Client
from opsloop.server.app import create_app
from opsloop.services.platform import Platform

from ._asgi import SyncASGITransport
from ._postgres import create_database, running_cluster

_databases = itertools.count()
ACTOR = Actor(name="tester")


@pytest.fixture(scope="session")
def postgres_base() -> Iterator[str]:
    url = os.environ.get("OPSLOOP_TEST_POSTGRES_URL")
    if url:
        yield url.rstrip("/")
        return
    with running_cluster() as base:
        yield base


@pytest.fixture(params=["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)])
def database_url(request: pytest.FixtureRequest, tmp_path: Path) -> str:
    """Each store test runs on SQLite and on a fresh PostgreSQL database."""
    if request.param == "sqlite":
        return f"sqlite:///{tmp_path / 'opsloop.db'}"
    base = request.getfixturevalue("postgres_base")
    return create_database(base, f"opsloop_test_{os.getpid()}_{next(_databases)}")


@pytest.fixture
def settings(tmp_path: Path, database_url: str) -> Settings:
    return Settings.load(
        environ={}, home=tmp_path / "home", database_url=database_url, actor="tester"
    )


@pytest.fixture
def sqlite_settings(tmp_path: Path) -> Settings:
    return Settings.load(environ={}, home=tmp_path / "home", actor="tester")


@pytest.fixture
def platform(settings: Settings) -> Iterator[Platform]:
    opened = Platform.open(settings)
    yield opened
    opened.close()


@pytest.fixture
def api(sqlite_settings: Settings) -> Iterator[httpx.Client]:
    """Real HTTP requests to a fresh app, in process (no socket)."""
    app = create_app(sqlite_settings)
    with httpx.Client(transport=SyncASGITransport(app), base_url="http://testserver") as client:
        yield client
    app.state.platform.close()


@pytest.fixture
def client(sqlite_settings: Settings) -> Iterator[Client]:
    made = Client(sqlite_settings)
    yield made
    made.close()


@pytest.fixture
def sdk(sqlite_settings: Settings) -> Iterator[Client]:
    """``opsloop.*`` module functions bound to a fresh embedded store."""
    from opsloop.sdk import api as sdk_api

    made = sdk_api.connect(home=sqlite_settings.home, actor="tester")
    yield made
    made.close()
    sdk_api._default = None


def free_port() -> int:
    import socket

    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def wait_for(condition: Callable[[], object], timeout: float = 60.0) -> None:
    """Poll ``condition`` until it holds; fail the test after ``timeout`` seconds."""
    deadline = time.monotonic() + timeout
    while not condition():
        if time.monotonic() > deadline:
            raise AssertionError("timed out waiting")
        time.sleep(0.05)


@contextmanager
def running_server(home: Path, port: int, log_path: Path) -> Iterator[str]:
    """A real ``opsloop server`` (uvicorn) on 127.0.0.1:``port``, stopped on exit."""
    with server_process(home, port, log_path) as (url, _process):
        yield url


@contextmanager
def server_process(
    home: Path, port: int, log_path: Path, environment: Mapping[str, str] | None = None
) -> Iterator[tuple[str, subprocess.Popen[bytes]]]:
    """``running_server``, with its process (for tests that kill it); ``environment`` adds
    to this process's."""
    log = log_path.open("wb")
    process = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "opsloop.cli.main",
            "--home",
            str(home),
            "server",
            "--port",
            str(port),
        ],
        stdout=log,
        stderr=subprocess.STDOUT,
        env={**os.environ, **(environment or {})},
    )
    url = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 60
        while True:
            try:
                if httpx.get(url + "/healthz", timeout=1).status_code == 200:
                    break
            except httpx.TransportError:
                pass
            if process.poll() is not None or time.monotonic() > deadline:
                output = log_path.read_text(errors="replace")
                raise RuntimeError(f"opsloop server did not start:\n{output}")
            time.sleep(0.1)
        yield url, process
    finally:
        process.terminate()
        try:
            process.wait(timeout=15)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()
        log.close()


@pytest.fixture
def live_server(tmp_path: Path) -> Iterator[str]:
    """A real ``opsloop server`` (uvicorn) on 127.0.0.1; stopped when the test ends."""
    with running_server(tmp_path / "server-home", free_port(), tmp_path / "server.log") as url:
        yield url


@pytest.fixture(scope="module")
def browser() -> Iterator[object]:
    """Debian's Chromium under Playwright, for the UI's browser tests (tests/_ui_browser.py)."""
    from playwright.sync_api import sync_playwright

    from ._ui_browser import CHROMIUM, CHROMIUM_ARGS

    with sync_playwright() as driver:
        launched = driver.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        yield launched
        launched.close()


@pytest.fixture
def page(browser: object, site: object) -> Iterator[object]:
    """A fresh browser context's page on the module's ``site``; console errors and page
    errors go to ``site.problems``, which each test starts empty."""
    from typing import Any

    watched: Any = site
    watched.problems.clear()
    context = browser.new_context()  # type: ignore[attr-defined]
    opened = context.new_page()
    opened.on(
        "console",
        lambda message: watched.problems.append(message.text) if message.type == "error" else None,
    )
    opened.on("pageerror", lambda error: watched.problems.append(str(error)))
    yield opened
    context.close()
