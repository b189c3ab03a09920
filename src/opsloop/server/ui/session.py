"""Logging in to the web UI with an API token, and out again."""

from __future__ import annotations

import secrets
import time
from typing import Annotated
from urllib.parse import parse_qs

from fastapi import APIRouter, Depends, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response
from starlette.concurrency import run_in_threadpool

from opsloop.domain.errors import Unauthorized
from opsloop.server.access import CSRF_COOKIE, SESSION_COOKIE, check_csrf
from opsloop.server.ui.render import environment, timed
from opsloop.server.ui.viewer import Viewer, viewer_of

router = APIRouter(include_in_schema=False)
MAX_FORM_BYTES = 4096


@router.get("/login", response_class=HTMLResponse)
def login_page(request: Request, next: str = "/") -> Response:
    if not request.app.state.platform.auth.enabled:
        return RedirectResponse(_local(next), status_code=303)
    return _form(next, error=None, status=200)


@router.post("/login")
async def login(request: Request) -> Response:
    body = await request.body()
    if len(body) > MAX_FORM_BYTES:
        return _form("/", error="the form is too large", status=413)
    form = {key: values[0] for key, values in parse_qs(body.decode(errors="replace")).items()}
    target = _local(form.get("next", "/"))
    auth = request.app.state.platform.auth
    if not auth.enabled:
        return RedirectResponse(target, status_code=303)
    secret = form.get("token", "").strip()
    try:
        token = await run_in_threadpool(auth.verify, secret or None)
    except Unauthorized as exc:
        return _form(target, error=exc.headline, status=401)
    if token.endpoint is not None:  # as with the API, such a token reads nothing else
        refusal = f"{ENDPOINT_ONLY} (this one: {token.endpoint!r})"
        return _form(target, error=refusal, status=403)
    answer = RedirectResponse(target, status_code=303)
    secure = request.url.scheme == "https"
    answer.set_cookie(
        SESSION_COOKIE, secret, httponly=True, samesite="strict", secure=secure, path="/"
    )
    answer.set_cookie(
        CSRF_COOKIE, secrets.token_urlsafe(24), samesite="strict", secure=secure, path="/"
    )
    return answer


@router.post("/logout")
def logout(request: Request, viewer: Annotated[Viewer, Depends(viewer_of)]) -> Response:
    if viewer.token is not None:
        check_csrf(request)
    answer = RedirectResponse("/login", status_code=303)
    answer.delete_cookie(SESSION_COOKIE, path="/")
    answer.delete_cookie(CSRF_COOKIE, path="/")
    return answer


ENDPOINT_ONLY = (
    "a token limited to one endpoint serves only its predictions and feedback, not the web UI"
)


def _form(next_path: str, error: str | None, status: int) -> HTMLResponse:
    started = time.perf_counter()
    html = environment().get_template("login.html").render(next=_local(next_path), error=error)
    return timed(html, started, status)


def _local(path: str) -> str:
    """Only a path on this server: a login must not be a way to send someone elsewhere."""
    if not path.startswith("/") or path.startswith("//") or "\\" in path:
        return "/"
    return path
