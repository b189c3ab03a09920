"""API tokens and what each role may do: the one place access is decided.

A token reads ``opl_<id>_<secret>``. Only the SHA-256 of the secret is stored: the secret is
256 random bits, so a fast hash is as safe as a slow one and keeps a check cheap. Verified
tokens are remembered for ``CACHE_S`` seconds, so a token revoked by another process stops
working within that time (at once in this one).
"""

from __future__ import annotations

import hashlib
import hmac
import secrets
import threading
import time
from datetime import datetime

from opsloop.domain.auth import IssuedToken, Role, Token
from opsloop.domain.entities import Actor
from opsloop.domain.errors import Forbidden, InvalidInput, Unauthorized
from opsloop.domain.names import check_label, check_name
from opsloop.store.database import Database
from opsloop.store.repos import events, tokens
from opsloop.store.repos._time import at, epoch_of, now

PREFIX = "opl_"
CACHE_S = 5.0
TOUCH_EVERY_S = 60.0


def _hash(secret: str) -> str:
    return hashlib.sha256(secret.encode()).hexdigest()


class AuthService:
    def __init__(self, db: Database, enabled: bool) -> None:
        self.db = db
        self.enabled = enabled
        self._cache: dict[str, tuple[Token, float]] = {}
        self._lock = threading.Lock()

    def create(
        self,
        role: Role | str,
        actor: Actor,
        *,
        name: str | None = None,
        endpoint: str | None = None,
        expires_at: datetime | None = None,
    ) -> IssuedToken:
        """A new token; its secret is in the answer and nowhere else."""
        try:
            role = Role(role)
        except ValueError:
            raise InvalidInput(
                f"role must be one of {', '.join(r.value for r in Role)}", field="role"
            ) from None
        if endpoint is not None:
            check_name(endpoint, "endpoint")
        token_id = secrets.token_hex(6)
        secret = secrets.token_urlsafe(32)
        name = check_label(name or f"{role.value}-{token_id}", "name")
        created = now()
        expires = None if expires_at is None else epoch_of(expires_at)
        if expires is not None and expires <= created:
            raise InvalidInput("expires_at must be in the future", field="expires_at")
        with self.db.begin() as conn:
            tokens.insert(
                conn,
                id=token_id,
                name=name,
                secret_hash=_hash(secret),
                role=role.value,
                endpoint=endpoint,
                created_at=created,
                created_by=actor.name,
                expires_at=expires,
            )
            events.append(
                conn,
                kind="token.created",
                subject=f"token:{token_id}",
                project=None,
                actor=actor.name,
                actor_kind=actor.kind,
                time=created,
                data={"name": name, "role": role.value, "endpoint": endpoint},
            )
            stored = tokens.find(conn, token_id)
        assert stored is not None
        return IssuedToken(token=stored[0], secret=f"{PREFIX}{token_id}_{secret}")

    def list_tokens(self, include_revoked: bool = False) -> list[Token]:
        with self.db.read() as conn:
            return tokens.list_all(conn, include_revoked)

    def revoke(self, token_id: str, actor: Actor) -> Token:
        with self.db.begin() as conn:
            revoked = tokens.revoke(conn, token_id, now())
            events.append(
                conn,
                kind="token.revoked",
                subject=f"token:{token_id}",
                project=None,
                actor=actor.name,
                actor_kind=actor.kind,
                data={"name": revoked.name},
            )
        with self._lock:
            self._cache = {k: v for k, v in self._cache.items() if v[0].id != token_id}
        return revoked

    def cached(self, presented: str) -> Token | None:
        """The token behind ``presented`` if it was verified in the last ``CACHE_S`` seconds:
        no database, so it may be called on the event loop."""
        found = self._cache.get(presented)
        if found is None or time.monotonic() - found[1] > CACHE_S:
            return None
        token = found[0]
        if token.expired(at(now())):
            return None
        return token

    def verify(self, presented: str | None) -> Token:
        """The live token behind ``Authorization: Bearer <presented>``; Unauthorized if none."""
        if not presented:
            raise Unauthorized("this server needs a token: send 'Authorization: Bearer <token>'")
        cached = self.cached(presented)
        if cached is not None:
            return cached
        token_id, _, secret = presented.removeprefix(PREFIX).partition("_")
        if not presented.startswith(PREFIX) or not token_id or not secret:
            raise Unauthorized("the token is malformed (it reads opl_<id>_<secret>)")
        with self.db.read() as conn:
            found = tokens.find(conn, token_id)
        if found is None or not hmac.compare_digest(found[1], _hash(secret)):
            raise Unauthorized("the token is not valid")
        token = found[0]
        if token.revoked_at is not None:
            raise Unauthorized(f"token {token.name!r} was revoked")
        if token.expired(at(now())):
            raise Unauthorized(f"token {token.name!r} has expired")
        last = token.last_used_at
        if last is None or now() - last.timestamp() > TOUCH_EVERY_S:
            with self.db.begin() as conn:
                tokens.touch(conn, token_id, now())
        with self._lock:
            self._cache[presented] = (token, time.monotonic())
        return token


def require(token: Token | None, needed: Role, endpoint: str | None = None) -> None:
    """Raise Forbidden unless ``token`` may act as ``needed`` (on ``endpoint``, for the
    calls scoped to one). ``None`` means auth is off: everything is allowed."""
    if token is None:
        return
    if not token.role.allows(needed):
        raise Forbidden(
            f"token {token.name!r} has role {token.role.value}; this needs {needed.value}"
        )
    if token.endpoint is not None and token.endpoint != endpoint:
        raise Forbidden(f"token {token.name!r} may only be used on endpoint {token.endpoint!r}")
