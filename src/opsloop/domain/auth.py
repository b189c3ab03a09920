"""Who may do what: roles, ordered, and API tokens carrying one role each."""

from __future__ import annotations

from datetime import datetime
from enum import StrEnum

from opsloop.domain.entities import Entity


class Role(StrEnum):
    """Each role may do everything the roles before it may.

    viewer: read everything, call predict. reviewer: + send feedback, decide review items.
    deployer: + write runs, datasets, models, aliases, evaluations; deploy, promote, roll
    back. admin: + manage tokens.
    """

    VIEWER = "viewer"
    REVIEWER = "reviewer"
    DEPLOYER = "deployer"
    ADMIN = "admin"

    @property
    def rank(self) -> int:
        return list(Role).index(self)

    def allows(self, needed: Role) -> bool:
        return self.rank >= needed.rank


class Token(Entity):
    """A token as stored: never the secret, only its hash (kept out of this entity)."""

    id: str
    name: str
    role: Role
    endpoint: str | None = None
    created_at: datetime
    created_by: str
    expires_at: datetime | None = None
    revoked_at: datetime | None = None
    last_used_at: datetime | None = None

    def expired(self, moment: datetime) -> bool:
        return self.expires_at is not None and self.expires_at <= moment


class IssuedToken(Entity):
    """What ``tokens create`` hands back, once: the stored token and its secret."""

    token: Token
    secret: str
