"""``install(app)``: the pages, their static assets, the login, and errors on a page shown as
a page (the API keeps its JSON errors)."""

from __future__ import annotations

from importlib.resources import files

from fastapi import FastAPI, Request
from fastapi.responses import RedirectResponse, Response
from fastapi.staticfiles import StaticFiles

from opsloop.domain.errors import OpsloopError
from opsloop.server import errors
from opsloop.server.ui import session
from opsloop.server.ui.pages import (
    endpoints,
    models,
    monitoring,
    overview,
    pipelines,
    report,
    review,
    runs,
)
from opsloop.server.ui.render import environment
from opsloop.server.ui.viewer import LoginNeeded

STATIC = "/ui/static"


def install(app: FastAPI) -> None:
    static = files("opsloop.server.ui").joinpath("static")
    app.mount(STATIC, StaticFiles(directory=str(static)), name="ui-static")
    app.include_router(session.router)
    for page in (overview, runs, models, endpoints, monitoring, review, pipelines, report):
        app.include_router(page.router)
    app.add_exception_handler(LoginNeeded, _to_login)
    app.add_exception_handler(OpsloopError, _page_or_json)


def is_page(path: str) -> bool:
    return path == "/" or (path.startswith("/ui/") and not path.startswith(STATIC))


async def _to_login(request: Request, exc: Exception) -> Response:
    assert isinstance(exc, LoginNeeded)
    from urllib.parse import quote

    return RedirectResponse(f"/login?next={quote(exc.path, safe='/')}", status_code=303)


async def _page_or_json(request: Request, exc: Exception) -> Response:
    assert isinstance(exc, OpsloopError)
    if not is_page(request.url.path):
        return await errors.on_opsloop_error(request, exc)
    from fastapi.responses import HTMLResponse

    html = environment().get_template("error.html").render(error=exc)
    return HTMLResponse(html, status_code=exc.status)
