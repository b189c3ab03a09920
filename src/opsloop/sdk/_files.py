"""Policies (gates, monitors) are given to the SDK as YAML text or as a file's path."""

from __future__ import annotations

from pathlib import Path


def text_or_file(given: str | Path) -> str:
    """``given`` itself when it is YAML text, else the text of the file it names."""
    if isinstance(given, Path) or _names_a_file(given):
        return Path(given).read_text()
    return given


def _names_a_file(text: str) -> bool:
    if "\n" in text:
        return False
    try:
        return Path(text).is_file()
    except (OSError, ValueError):  # a name too long, a NUL byte: YAML text, not a path
        return False
