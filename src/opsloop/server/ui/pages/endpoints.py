"""Endpoints: each one's traffic plan and deployment history, and for deployers the buttons
that deploy, promote and roll back (through the API, which checks the role again)."""

from __future__ import annotations

import time
from typing import Annotated

from fastapi import APIRouter, Depends, Request
from fastapi.responses import HTMLResponse

from opsloop.domain.auth import Role
from opsloop.domain.names import check_name
from opsloop.server.ui.pages.health import health_of, healths
from opsloop.server.ui.render import render
from opsloop.server.ui.viewer import Viewer, viewer_of

router = APIRouter(include_in_schema=False)
HISTORY = 50


@router.get("/ui/endpoints", response_class=HTMLResponse)
def endpoints(request: Request, viewer: Annotated[Viewer, Depends(viewer_of)]) -> HTMLResponse:
    started = time.perf_counter()
    platform = request.app.state.platform
    listed = platform.deployments.list_endpoints()
    health = healths(platform, listed)
    return render(request, "endpoints.html", viewer, started, health=health)


@router.get("/ui/endpoints/{name}", response_class=HTMLResponse)
def endpoint(
    request: Request, name: str, viewer: Annotated[Viewer, Depends(viewer_of)]
) -> HTMLResponse:
    started = time.perf_counter()
    platform = request.app.state.platform
    state = platform.deployments.get(check_name(name, "endpoint"))
    history = platform.deployments.history(name, limit=HISTORY)
    versions = (
        platform.registry.list_versions(state.project, state.plan.primary.model)
        if (state.plan.primary is not None)
        else []
    )
    return render(
        request,
        "endpoint.html",
        viewer,
        started,
        endpoint=state,
        health=health_of(platform, state),
        history=history,
        versions=versions,
        can_deploy=viewer.can(Role.DEPLOYER, name),
    )
