"""A duration as a person reads it, the same on every page, table and line: the CLI's and the
UI's one rule."""

from __future__ import annotations


def duration_text(seconds: float | None) -> str:
    """311 ms, 4.20 s, 12.3 s, 4 min 05 s, 3 h 05 min, 2 d 4 h; — for None."""
    if seconds is None:
        return "—"
    if seconds < 1:
        return f"{seconds * 1000:.0f} ms"
    if seconds < 10:
        return f"{seconds:.2f} s"
    if seconds < 60:
        return f"{seconds:.1f} s"
    whole = round(seconds)
    if whole < 3600:
        return f"{whole // 60} min {whole % 60:02d} s"
    if whole < 86400:
        return f"{whole // 3600} h {whole % 3600 // 60:02d} min"
    return f"{whole // 86400} d {whole % 86400 // 3600} h"
