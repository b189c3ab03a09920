"""``opsloop review ...``: tables and fields for people, JSON for scripts, one red line for a
mistake (docs/review.md's examples run in tests/test_docs.py)."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest
from typer.testing import CliRunner, Result

from opsloop.cli._context import CliState
from opsloop.cli.review import app as review_app
from opsloop.domain.errors import Conflict, NotFound
from opsloop.domain.settings import Settings

from ._review_world import ENDPOINT, T0, World, make_world

ROOT = Path(__file__).resolve().parent.parent
POLICY = "uncertain: {low: 0.2, high: 0.8}\nsample: 0.5\ndouble_review: false\ncap_per_hour: 50\n"
CLEAN_ENV = {key: value for key, value in os.environ.items() if not key.startswith("OPSLOOP_")}


@pytest.fixture
def world(sqlite_settings: Settings) -> Iterator[World]:
    yield from make_world(sqlite_settings)


def review(world: World, *args: str, stdin: str | None = None) -> Result:
    return CliRunner().invoke(
        review_app, list(args), obj=CliState(_client=world.client), input=stdin
    )


def ok(world: World, *args: str, stdin: str | None = None) -> str:
    result = review(world, *args, stdin=stdin)
    assert result.exit_code == 0, (result.output, result.exception)
    return result.output


def field(output: str, name: str) -> str:
    """The value of the line ``name`` of printed fields."""
    for line in output.splitlines():
        if line.strip().startswith(name + " "):
            return line.strip()[len(name) :].strip()
    raise AssertionError(f"no {name!r} in {output}")


def test_a_reviewer_s_session_from_the_terminal(world: World, tmp_path: Path) -> None:
    path = tmp_path / "review.yaml"
    path.write_text(POLICY)
    world.clock.now = T0
    assert "moderation: review policy set (uncertain 0.2-0.8; sample 50.00%; at most 50" in ok(
        world, "policy", "set", ENDPOINT, str(path)
    )
    shown = ok(world, "policy", "show", ENDPOINT)
    assert "set by tester" in shown and "routed until not yet" in shown
    assert "cap_per_hour: 50" in shown  # the YAML as written
    world.log([("a", T0 + 1, "violation", 0.55), ("b", T0 + 2, "ok", 0.3)])
    world.clock.now = T0 + 60
    assert "moderation: 2 routed (uncertain 2)" in ok(world, "route", ENDPOINT)
    listed = ok(world, "list", ENDPOINT, "--status", "open")
    assert "2 review items" in listed and "uncertain" in listed

    world.clock.now = T0 + 100
    shown = ok(world, "next", ENDPOINT)
    assert "review item 1 of moderation (uncertain)" in shown
    assert (field(shown, "prediction"), field(shown, "score")) == ("violation", "0.55")
    assert (field(shown, "num_char"), field(shown, "choices")) == ("10.0", "ok | violation")
    assert "2 left (this one included)" in shown
    assert "item 1: closed (violation)" in ok(world, "decide", ENDPOINT, "1", "violation")
    assert json.loads(ok(world, "next", ENDPOINT, "--json"))["item"]["request_id"] == "b"
    assert "item 2: skipped" in ok(world, "skip", ENDPOINT, "2")
    assert "nothing left to review" in ok(world, "next", ENDPOINT)
    assert json.loads(ok(world, "next", ENDPOINT, "--json")) is None

    world.clock.now = T0 + 200
    stats = ok(world, "stats", ENDPOINT)
    assert field(stats, "backlog") == "1"
    assert field(stats, "model-vs-human") == "100% of 1"
    assert field(stats, "decided today") == "tester 1"
    figures = json.loads(ok(world, "stats", ENDPOINT, "--json"))
    assert (figures["closed"], figures["by_reason"]) == (1, {"uncertain": 2})


def test_a_policy_from_stdin_and_items_as_json(world: World) -> None:
    world.clock.now = T0
    set_ = json.loads(ok(world, "policy", "set", ENDPOINT, "-", "--json", stdin=POLICY))
    assert set_["source"] == POLICY and set_["config"]["cap_per_hour"] == 50
    world.log([("a", T0 + 1, "ok", 0.5)])
    world.clock.now = T0 + 60
    assert json.loads(ok(world, "route", ENDPOINT, "--json"))["routed"] == 1
    [item] = json.loads(ok(world, "list", ENDPOINT, "--json"))
    assert item["inputs"] == {"num_char": 10.0, "exclaim": 0}


def test_mistakes_fail_without_a_traceback(world: World, tmp_path: Path) -> None:
    result = review(world, "policy", "set", ENDPOINT, str(tmp_path / "missing.yaml"))
    assert result.exit_code == 1
    assert "missing.yaml: no such file" in result.stderr
    assert review(world, "decide", ENDPOINT, "0", "ok").exit_code == 2  # ids start at 1
    world.clock.now = T0
    ok(world, "policy", "set", ENDPOINT, "-", stdin=POLICY)
    # The service's errors reach the entry point, which prints them as one red line.
    assert isinstance(review(world, "decide", ENDPOINT, "9", "ok").exception, NotFound)
    world.log([("a", T0 + 1, "ok", 0.5)])
    world.clock.now = T0 + 60
    ok(world, "route", ENDPOINT)
    assert isinstance(review(world, "decide", ENDPOINT, "1", "ok").exception, Conflict)


def console(home: Path, *args: str) -> subprocess.CompletedProcess[str]:
    """``opsloop ARGS`` as a user runs it."""
    return subprocess.run(
        [sys.executable, "-m", "opsloop.cli.main", "--home", str(home), *args],
        cwd=ROOT,
        env={**CLEAN_ENV, "OPSLOOP_ACTOR": "cli-user"},
        capture_output=True,
        text=True,
        timeout=120,
    )


@pytest.mark.parametrize(
    ("args", "code", "message"),
    [
        (["review", "decide", ENDPOINT, "9", "ok"], 1, "review item 9 not found (field: item)"),
        (["review", "decide", ENDPOINT, "1", "spam"], 2, "label 'spam' is not one of"),
        (["review", "decide", ENDPOINT, "1", "ok"], 1, "claim review item 1 before deciding"),
        (["review", "stats", "nowhere"], 1, "endpoint 'nowhere' not found"),
    ],
)
def test_user_errors_are_one_red_line(
    world: World, sqlite_settings: Settings, args: list[str], code: int, message: str
) -> None:
    world.configure(POLICY)
    world.log([("a", T0 + 1, "ok", 0.5)])
    world.route(T0 + 60)
    done = console(sqlite_settings.home, *args)
    assert done.returncode == code, (done.stdout, done.stderr)
    assert done.stderr.startswith("error:") and message in done.stderr, done.stderr
    assert len(done.stderr.strip().splitlines()) == 1
    assert done.stdout == ""
