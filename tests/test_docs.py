"""Docs are tested artifacts: every example runs, and every setting, command and route is
documented.

For each page, the ```python blocks run first, in order, in one namespace, against a fresh
store; then every ``opsloop ...`` line of the ```bash blocks runs as a real command against
the same store and must succeed. A line marked ``# not run in tests`` (a server, a made-up
id) is still checked: the command and its options must exist.
"""

from __future__ import annotations

import dataclasses
import os
import re
import shlex
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
import typer

from opsloop.cli.main import app
from opsloop.domain.settings import Settings
from opsloop.sdk import api as sdk_api

ROOT = Path(__file__).resolve().parent.parent
PAGES = [ROOT / "README.md", *sorted((ROOT / "docs").glob("*.md"))]
BLOCK = re.compile(r"^```(\w+)\n(.*?)^```", re.MULTILINE | re.DOTALL)
NOT_RUN = "# not run in tests"


def blocks(page: Path, language: str) -> list[str]:
    return [body for lang, body in BLOCK.findall(page.read_text()) if lang == language]


def shell_lines(page: Path) -> list[str]:
    return [
        line.strip()
        for body in blocks(page, "bash")
        for line in body.splitlines()
        if line.strip().startswith("opsloop ")
    ]


@pytest.mark.slow
@pytest.mark.parametrize("page", PAGES, ids=[p.name for p in PAGES])
def test_every_example_runs(page: Path, tmp_path: Path) -> None:
    home = tmp_path / "home"
    sdk_api.connect(home=home, actor="docs")
    try:
        namespace: dict[str, object] = {"__name__": f"docs_{page.stem}"}
        for number, code in enumerate(blocks(page, "python"), start=1):
            exec(compile(code, f"{page.name}[python block {number}]", "exec"), namespace)
    finally:
        sdk_api.get_client().close()
        sdk_api._default = None
    environment = {**os.environ, "OPSLOOP_HOME": str(home), "OPSLOOP_ACTOR": "docs"}
    environment.pop("OPSLOOP_URL", None)
    for line in shell_lines(page):
        command, marked, note = line.partition(NOT_RUN)
        args = shlex.split(command, comments=True)[1:]
        if marked:
            assert note.strip(" :"), f"{page.name}: `{line}` says it is not run, but not why"
            args.append("--help")
        done = subprocess.run(
            [sys.executable, "-m", "opsloop.cli.main", *args],
            env=environment,
            capture_output=True,
            text=True,
            timeout=120,
        )
        assert done.returncode == 0, f"{page.name}: `{line}` failed:\n{done.stderr}"


def test_every_setting_is_documented() -> None:
    page = (ROOT / "docs" / "settings.md").read_text()
    for field in dataclasses.fields(Settings):
        assert f"`{field.name}`" in page
        assert f"`OPSLOOP_{field.name.upper()}`" in page


def command_paths() -> list[str]:
    root = typer.main.get_command(app)
    found: list[str] = []

    def walk(command: Any, prefix: str) -> None:
        if hasattr(command, "commands"):  # a group (typer ships its own copy of click)
            for name, child in command.commands.items():
                walk(child, f"{prefix} {name}")
        else:
            found.append(prefix)

    walk(root, "opsloop")
    return found


def test_every_command_is_documented() -> None:
    page = (ROOT / "docs" / "cli.md").read_text()
    paths = command_paths()
    assert "opsloop runs list" in paths and "opsloop models alias" in paths
    for path in paths:  # the whole command, not the start of a longer one
        assert re.search(rf"`{re.escape(path)}[ `]", page), f"{path} is not in docs/cli.md"


def test_every_route_is_documented(tmp_path: Path) -> None:
    from opsloop.server.app import create_app

    application = create_app(Settings.load(environ={}, home=tmp_path))
    page = (ROOT / "docs" / "api.md").read_text()
    paths = application.openapi()["paths"]
    routes = [(method.upper(), path) for path, item in paths.items() for method in item]
    assert len(routes) > 20
    for method, path in routes:
        assert f"`{method} {path}`" in page, f"{method} {path} is not in docs/api.md"
    application.state.platform.close()
