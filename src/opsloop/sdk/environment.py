"""What a run records about where it ran: git commit, dirty flag, Python and packages.

Computed once per process: asking git and listing installed packages costs tens of
milliseconds, which would otherwise be paid by every run.
"""

from __future__ import annotations

import platform
import subprocess
from functools import cache
from importlib import metadata


@cache
def git_state() -> tuple[str | None, bool | None]:
    try:
        sha = subprocess.run(
            ["git", "rev-parse", "HEAD"], capture_output=True, text=True, timeout=5, check=True
        ).stdout.strip()
        dirty = subprocess.run(
            ["git", "status", "--porcelain", "--untracked-files=no"],
            capture_output=True,
            text=True,
            timeout=5,
            check=True,
        ).stdout.strip()
    except (OSError, subprocess.SubprocessError):
        return None, None
    return sha or None, bool(dirty)


@cache
def packages() -> dict[str, str]:
    found: dict[str, str] = {}
    for distribution in metadata.distributions():
        name = distribution.metadata["Name"]
        if name:
            found[name.lower()] = distribution.version
    return dict(sorted(found.items()))


def python_version() -> str:
    return platform.python_version()
