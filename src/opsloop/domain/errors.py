"""One error hierarchy for all of opsloop.

Every error a user can cause carries an HTTP-like ``status``, a stable ``code`` (``not_found``,
``conflict``, ``invalid``, ...), a one-line ``headline`` and, where one field is to blame, its
``field``. The edges translate it: JSON for the API, one red line and an exit code for the CLI.
"""

from __future__ import annotations

from typing import Any, ClassVar


class OpsloopError(Exception):
    """Base of every error opsloop raises on purpose."""

    status: ClassVar[int] = 500
    code: ClassVar[str] = "internal"

    def __init__(self, headline: str, *, field: str | None = None, detail: Any = None) -> None:
        super().__init__(headline)
        self.headline = headline
        self.field = field
        self.detail = detail

    def to_json(self) -> dict[str, Any]:
        body: dict[str, Any] = {"code": self.code, "message": self.headline}
        if self.field is not None:
            body["field"] = self.field
        if self.detail is not None:
            body["detail"] = self.detail
        return {"error": body}

    @classmethod
    def from_json(cls, status: int, body: dict[str, Any]) -> OpsloopError:
        """Rebuild the error a server sent, so remote and embedded raise the same class."""
        error = body.get("error", {}) if isinstance(body, dict) else {}
        code = error.get("code", "internal")
        kind = _BY_CODE.get(code, OpsloopError)
        made = kind(
            str(error.get("message", f"HTTP {status}")),
            field=error.get("field"),
            detail=error.get("detail"),
        )
        return made


class InvalidInput(OpsloopError):
    """The request is malformed: a wrong type, an empty or unsafe name, a value out of range."""

    status = 422
    code = "invalid"


class NotFound(OpsloopError):
    """A named thing (project, run, model, version, alias, dataset, artifact) does not exist."""

    status = 404
    code = "not_found"


class Conflict(OpsloopError):
    """The request clashes with what is stored: a duplicate name, a finished run written to."""

    status = 409
    code = "conflict"


class IntegrityError(OpsloopError):
    """Stored content does not match its recorded hash: it was changed after it was written."""

    status = 500
    code = "integrity"


class Unavailable(OpsloopError):
    """The opsloop server could not be reached, or did not answer in time."""

    status = 503
    code = "unavailable"


class Unauthorized(OpsloopError):
    status = 401
    code = "unauthorized"


class Forbidden(OpsloopError):
    status = 403
    code = "forbidden"


_BY_CODE: dict[str, type[OpsloopError]] = {
    kind.code: kind
    for kind in (
        InvalidInput,
        NotFound,
        Conflict,
        IntegrityError,
        Unavailable,
        Unauthorized,
        Forbidden,
    )
}
