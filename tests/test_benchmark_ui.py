"""The UI benchmark's harness on a small store: the seeding makes what each page shows, and a
real server answers every page with its Server-Timing header (no time is asserted)."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "benchmarks"))

import ui as bench

pytestmark = pytest.mark.slow


def test_every_page_answers_on_the_seeded_store(tmp_path: Path) -> None:
    args = argparse.Namespace(runs=30, days=2, versions=3, pipelines=10, repeat=2, json=None)
    seeded = bench.seed(tmp_path, args)
    assert seeded["windows"] == 48  # two days of hourly windows
    assert seeded["review_items"] == 2 * 48  # the cap: two an hour
    assert len(seeded["runs"]) == 3
    paths = bench.pages(seeded, args.days)
    assert len(paths) == 16
    timings = bench.measure(tmp_path, paths, args.repeat)
    assert set(timings) == set(paths)
    assert all(len(values) == 2 and min(values) > 0 for values in timings.values())
    json_path = tmp_path / "ui.json"
    args.json = json_path
    bench.report(timings, seeded, args)
    assert '"bar_ms": 300.0' in json_path.read_text()
