"""What each way in loads: a command pays for the libraries its path needs, no more.

A remote command (``--url``) needs the client and HTTP, never the store or the server; an
embedded one opens the app but not the numeric stack, which loads on the first model or
evaluation. Counted in a fresh interpreter, since this one has imported everything already.
"""

from __future__ import annotations

import subprocess
import sys

import pytest

NUMERIC = ("numpy", "pandas", "sklearn", "scipy", "pyarrow", "duckdb")


def loaded_after(statement: str) -> set[str]:
    probe = f"{statement}\nimport sys\nprint('\\n'.join(sys.modules))"
    found = subprocess.run(
        [sys.executable, "-c", probe], capture_output=True, text=True, check=True
    ).stdout
    return {name.split(".")[0] for name in found.split()}  # top-level packages


@pytest.mark.parametrize(
    ("statement", "absent"),
    [
        ("import opsloop.cli.main", ("fastapi", "sqlalchemy", "httpx", "yaml", *NUMERIC)),
        (
            "import opsloop.sdk.client, opsloop.cli.endpoints",
            ("fastapi", "sqlalchemy", "yaml", *NUMERIC),
        ),
        ("import opsloop.server.app", ("yaml", *NUMERIC)),
    ],
    ids=["cli", "remote-client", "embedded-app"],
)
def test_a_path_loads_only_what_it_needs(statement: str, absent: tuple[str, ...]) -> None:
    assert loaded_after(statement) & set(absent) == set()


def test_the_numeric_stack_loads_when_a_model_is_scored() -> None:
    """The guard above is real: the same probe sees numpy once serving code needs it."""
    assert "numpy" in loaded_after("import opsloop.services.serving.runtime")
