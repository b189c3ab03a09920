"""Who is looking at a page: the token behind the session cookie, or, with auth off, the
local user, who may do everything (as with the API)."""

from __future__ import annotations

from dataclasses import dataclass

from fastapi import Request

from opsloop.domain.auth import Role, Token
from opsloop.domain.errors import Forbidden, Unauthorized
from opsloop.server.access import SESSION_COOKIE, verified
from opsloop.services.auth import require


class LoginNeeded(Exception):
    """Raised by a page when auth is on and nobody is logged in: answered by a redirect."""

    def __init__(self, path: str) -> None:
        super().__init__(path)
        self.path = path


@dataclass(frozen=True)
class Viewer:
    name: str
    token: Token | None  # None: auth is off

    @property
    def role(self) -> str:
        return "admin (auth off)" if self.token is None else self.token.role.value

    def can(self, needed: Role, endpoint: str | None = None) -> bool:
        """Whether this viewer's role allows ``needed`` (on ``endpoint``): what decides
        which buttons a page shows. The API checks again when one is pressed."""
        try:
            require(self.token, needed, endpoint)
        except Forbidden:
            return False
        return True


async def viewer_of(request: Request) -> Viewer:
    """The page dependency: the viewer, or LoginNeeded when auth is on and the session
    cookie is missing or no longer valid."""
    platform = request.app.state.platform
    auth = platform.auth
    if not auth.enabled:
        return Viewer(platform.settings.actor, None)
    presented = request.cookies.get(SESSION_COOKIE)
    if not presented:
        raise LoginNeeded(_here(request))
    try:
        token = await verified(auth, presented)
    except Unauthorized:
        raise LoginNeeded(_here(request)) from None
    if token.endpoint is not None:  # the login refuses it; a cookie set by other means too
        raise Forbidden(f"token {token.name!r} may only be used on endpoint {token.endpoint!r}")
    return Viewer(token.name, token)


def _here(request: Request) -> str:
    query = request.url.query
    return request.url.path + (f"?{query}" if query else "")
