"""Who may call which route: the needed role per route, checked before the route runs."""

from __future__ import annotations

import secrets

from fastapi import Request
from starlette.concurrency import run_in_threadpool

from opsloop.domain.auth import Role, Token
from opsloop.domain.errors import Forbidden
from opsloop.services.auth import AuthService, require

READ_METHODS = frozenset({"GET", "HEAD", "OPTIONS"})
API_PREFIX = "/api/v1"
ENDPOINT_ROUTES = "/endpoints/{name}"
# The web UI's login: the token in an HttpOnly cookie, and a second, readable cookie whose
# value the page's script sends back in a header on every write (double-submit): a form on
# another site can make the browser send the first cookie, never set the header.
SESSION_COOKIE = "opsloop_session"
CSRF_COOKIE = "opsloop_csrf"
CSRF_HEADER = "X-Opsloop-CSRF"


REVIEWER_ROUTES = frozenset(
    API_PREFIX + path
    for path in (
        "/endpoints/{name}/review/claim",
        "/endpoints/{name}/review/items/{item_id}/decision",
        "/endpoints/{name}/review/items/{item_id}/skip",
    )
)


def needed_role(method: str, path: str) -> Role:
    """The role a route needs; ``path`` is the route's template."""
    if path.startswith(API_PREFIX + "/tokens"):
        return Role.ADMIN
    if path.endswith("/predict"):
        return Role.VIEWER
    if path.endswith("/feedback") or path in REVIEWER_ROUTES:
        return Role.REVIEWER
    if method in READ_METHODS:
        return Role.VIEWER
    return Role.DEPLOYER


async def token_of(request: Request) -> Token | None:
    """The caller's verified token, or None when auth is off (or the caller is this process:
    an embedded client, such as pipeline steps a server runs)."""
    auth = request.app.state.platform.auth
    if not auth.enabled or request.app.state.embedded:
        return None
    header = request.headers.get("authorization", "")
    presented = header[7:].strip() if header[:7].lower() == "bearer " else None
    if not header and SESSION_COOKIE in request.cookies:
        presented = request.cookies[SESSION_COOKIE]
        if request.method not in READ_METHODS:
            check_csrf(request)
    token = await verified(auth, presented)
    request.state.token = token
    return token


async def verified(auth: AuthService, presented: str | None) -> Token:
    """The token ``presented`` names: from the cache of recent checks, else checked against
    the store (off the event loop). Raises Unauthorized."""
    token = auth.cached(presented) if presented else None
    if token is None:
        token = await run_in_threadpool(auth.verify, presented)
    return token


def check_csrf(request: Request) -> None:
    """A write sent with the session cookie must carry the page's CSRF value in a header."""
    expected = request.cookies.get(CSRF_COOKIE)
    sent = request.headers.get(CSRF_HEADER)
    if not expected or not sent or not secrets.compare_digest(expected, sent):
        raise Forbidden(
            f"a write with the session cookie needs the {CSRF_HEADER} header (the page sends "
            "it; reload the page)",
            field=CSRF_HEADER,
        )


async def authorize(request: Request) -> None:
    """Router dependency: refuse the call unless the caller's role allows this route."""
    token = await token_of(request)
    if token is None:
        return
    path = template_of(request)
    endpoint = request.path_params.get("name") if ENDPOINT_ROUTES in path else None
    require(token, needed_role(request.method, path), endpoint)


def template_of(request: Request) -> str:
    """The matched route's path template, API prefix included (an included router's route
    may carry its path without the prefix it was mounted under)."""
    route = request.scope.get("route")
    path = getattr(route, "path", None)
    if not isinstance(path, str):
        raise AssertionError("authorize runs only as a route dependency")  # pragma: no cover
    if request.url.path.startswith(API_PREFIX) and not path.startswith(API_PREFIX):
        path = API_PREFIX + path
    return path
