"""Templates (Jinja2, autoescaped) and the answer a page gives: HTML with the time the server
spent on it in a ``Server-Timing`` header, which the page-speed test reads."""

from __future__ import annotations

import time
from datetime import UTC, datetime
from functools import cache
from typing import Any

from fastapi import Request
from fastapi.responses import HTMLResponse
from jinja2 import Environment, PackageLoader, StrictUndefined, select_autoescape

from opsloop import __version__
from opsloop.domain.durations import duration_text
from opsloop.server.access import CSRF_COOKIE
from opsloop.server.ui.viewer import Viewer

# The pages in the navigation, in order: (path, title).
NAVIGATION = (
    ("/", "Overview"),
    ("/ui/runs", "Runs"),
    ("/ui/models", "Models"),
    ("/ui/endpoints", "Endpoints"),
    ("/ui/monitoring", "Monitoring"),
    ("/ui/review", "Review"),
    ("/ui/pipelines", "Pipelines"),
    ("/ui/report", "Report"),
)


@cache
def environment() -> Environment:
    env = Environment(
        loader=PackageLoader("opsloop.server.ui", "templates"),
        autoescape=select_autoescape(default=True),
        undefined=StrictUndefined,
        trim_blocks=True,
        lstrip_blocks=True,
    )
    env.filters["when"] = when
    env.filters["number"] = number
    env.filters["percent"] = percent
    env.filters["count"] = count
    env.filters["duration"] = duration_text
    return env


def render(
    request: Request, template: str, viewer: Viewer, started: float, **context: Any
) -> HTMLResponse:
    """``template`` filled with ``context``; ``started`` is ``time.perf_counter()`` when the
    page began its work."""
    html = (
        environment()
        .get_template(template)
        .render(
            viewer=viewer,
            navigation=NAVIGATION,
            path=request.url.path,
            csrf=request.cookies.get(CSRF_COOKIE, ""),
            version=__version__,
            **context,
        )
    )
    return timed(html, started)


def timed(html: str, started: float, status: int = 200) -> HTMLResponse:
    """``html`` with the server's time on it since ``started`` (``time.perf_counter()``)."""
    spent_ms = (time.perf_counter() - started) * 1000
    return HTMLResponse(
        html, status_code=status, headers={"Server-Timing": f"render;dur={spent_ms:.1f}"}
    )


def when(moment: datetime | float | None) -> str:
    """A time as UTC, to the second."""
    if moment is None:
        return "—"
    if not isinstance(moment, datetime):
        moment = datetime.fromtimestamp(moment, UTC)
    return moment.astimezone(UTC).strftime("%Y-%m-%d %H:%M:%S UTC")


def number(value: float | int | None, digits: int = 3) -> str:
    if value is None:
        return "—"
    if isinstance(value, int):
        return f"{value:,}"
    return f"{value:.{digits}g}"


def percent(share: float | None, digits: int = 1) -> str:
    """A share (0.25) as a percentage (``25.0%``)."""
    return "—" if share is None else f"{share:.{digits}%}"


def count(value: float | int | None) -> str:
    """A count stored as a number (monitor values are floats) as a whole number."""
    return "—" if value is None else f"{int(value):,}"
