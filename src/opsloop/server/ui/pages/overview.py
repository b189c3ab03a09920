"""The overview: projects, and every endpoint with its health."""

from __future__ import annotations

import time
from typing import Annotated

from fastapi import APIRouter, Depends, Request
from fastapi.responses import HTMLResponse

from opsloop.server.ui.pages.health import healths
from opsloop.server.ui.render import render
from opsloop.server.ui.viewer import Viewer, viewer_of

router = APIRouter(include_in_schema=False)


@router.get("/", response_class=HTMLResponse)
def overview(request: Request, viewer: Annotated[Viewer, Depends(viewer_of)]) -> HTMLResponse:
    started = time.perf_counter()
    platform = request.app.state.platform
    projects = platform.projects.list_projects()
    endpoints = platform.deployments.list_endpoints()
    health = healths(platform, endpoints)
    return render(request, "overview.html", viewer, started, projects=projects, health=health)
