"""The report: the maturity map (the SVG ``opsloop report --svg`` writes), the delivery and
recovery figures, hours per month per stage with the next step to automate first, and the
lead time of each version shipped; for a project (or every one), an endpoint, a period."""

from __future__ import annotations

import time
from dataclasses import dataclass
from typing import Annotated
from urllib.parse import urlencode

from fastapi import APIRouter, Depends, Request
from fastapi.responses import HTMLResponse
from markupsafe import Markup

from opsloop.domain.report import LEAD_STEP_TITLES, Level, by_people_hours
from opsloop.server.ui.render import render
from opsloop.server.ui.viewer import Viewer, viewer_of
from opsloop.services.report.text import MARKS, side_text

router = APIRouter(include_in_schema=False)
SHOWN_LEAD_TIMES = 50


@router.get("/ui/report", response_class=HTMLResponse)
def report_page(
    request: Request,
    viewer: Annotated[Viewer, Depends(viewer_of)],
    project: str | None = None,
    endpoint: str | None = None,
    since: str | None = None,
    until: str | None = None,
) -> HTMLResponse:
    started = time.perf_counter()
    platform = request.app.state.platform
    chosen = Chosen(project or None, endpoint or None, since or None, until or None)
    found = platform.report.build(
        project=chosen.project,
        endpoint=chosen.endpoint,
        since=None if chosen.since is None else chosen.since.strip(),
        until=None if chosen.until is None else chosen.until.strip(),
    )
    endpoints = platform.deployments.list_endpoints(found.project)
    return render(
        request,
        "report.html",
        viewer,
        started,
        report=found,
        chosen=chosen,
        map_svg=Markup(platform.report.svg(found)),
        projects=[p.name for p in platform.projects.list_projects()],
        endpoints=[e.name for e in endpoints],
        hours=by_people_hours(found.stages),
        marks={level.value: MARKS[level] for level in Level},
        side=side_text,
        steps=LEAD_STEP_TITLES,
        lead_times=found.lead_times[-SHOWN_LEAD_TIMES:],
        next_row=None if found.next_to_automate is None else found.stage(found.next_to_automate),
    )


@dataclass(frozen=True)
class Chosen:
    """The page's pickers as given (times as typed, so the form shows them back)."""

    project: str | None
    endpoint: str | None
    since: str | None
    until: str | None

    def query(self) -> str:
        chosen = {
            "project": self.project,
            "endpoint": self.endpoint,
            "since": self.since,
            "until": self.until,
        }
        return urlencode({key: value for key, value in chosen.items() if value})
