"""How the CLI prints: Rich tables for people, ``--json`` for scripts, one red line for errors."""

from __future__ import annotations

import sys
from collections.abc import Iterable, Sequence
from datetime import datetime
from functools import cache
from typing import TYPE_CHECKING, Any

from opsloop.domain.durations import duration_text

if TYPE_CHECKING:
    from rich.console import Console

    from opsloop.domain.review import Spread


@cache
def console() -> Console:
    from rich.console import Console

    # Piped output is for reading later or for grep: do not fold it to 80 columns.
    return Console(highlight=False, width=None if sys.stdout.isatty() else 200)


@cache
def error_console() -> Console:
    from rich.console import Console

    return Console(stderr=True, highlight=False)


def emit_json(value: Any) -> None:
    import orjson
    from pydantic import BaseModel

    def plain(item: Any) -> Any:
        if isinstance(item, BaseModel):
            return item.model_dump(mode="json")
        if isinstance(item, list | tuple):
            return [plain(i) for i in item]
        if isinstance(item, dict):
            return {k: plain(v) for k, v in item.items()}
        return item

    sys.stdout.write(orjson.dumps(plain(value), option=orjson.OPT_INDENT_2).decode() + "\n")


def when(moment: datetime | None) -> str:
    return "" if moment is None else moment.astimezone().strftime("%Y-%m-%d %H:%M")


def number(value: float | None) -> str:
    if value is None:
        return ""
    return f"{value:.4g}"


def spread(value: Spread | None) -> str:
    """A duration's spread: ``median 4 min 05 s, p90 12 min 30 s (n=1,204)``."""
    if value is None:
        return "—"
    return (
        f"median {duration_text(value.median)}, p90 {duration_text(value.p90)} (n={value.count:,})"
    )


def table(title: str | None, columns: Sequence[str], rows: Iterable[Sequence[Any]]) -> None:
    from rich.table import Table

    shown = Table(title=title, title_justify="left", header_style="bold")
    for column in columns:
        shown.add_column(column, overflow="fold")
    for row in rows:
        shown.add_row(*("" if cell is None else str(cell) for cell in row))
    console().print(shown)


def fields(title: str, pairs: Sequence[tuple[str, Any]]) -> None:
    from rich.table import Table

    console().print(title, style="bold", soft_wrap=True, highlight=False)
    shown = Table(show_header=False, box=None)
    shown.add_column(style="bold")
    shown.add_column(overflow="fold")
    for key, value in pairs:
        shown.add_row(key, "" if value is None else str(value))
    console().print(shown)


def fail(message: str, code: int = 1) -> None:
    from rich.markup import escape

    error_console().print(f"[red]error:[/red] {escape(message)}", soft_wrap=True)
    raise SystemExit(code)
