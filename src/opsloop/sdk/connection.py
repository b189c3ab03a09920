"""``Connection``: one request to the REST API, embedded or remote, as the right actor."""

from __future__ import annotations

import dataclasses
import logging
from collections.abc import Mapping
from typing import TYPE_CHECKING, Any, Self

import orjson

from opsloop.domain.entities import Actor, ActorKind
from opsloop.domain.errors import OpsloopError
from opsloop.domain.settings import Settings
from opsloop.sdk.transport import EmbeddedTransport, HttpTransport, Transport
from opsloop.services.pipelines.context import current_scope

if TYPE_CHECKING:
    from opsloop.services.platform import Platform

log = logging.getLogger("opsloop")
TIMEOUT_S = 120.0
API = "/api/v1"


class Connection:
    """How an SDK call reaches opsloop: over HTTP (``OPSLOOP_URL`` set) or in process, who it
    says is calling, and an error answer raised as the OpsloopError the server had.

    ``over(platform, actor)`` talks in process to a platform that is already open (what
    pipeline steps running inside a server use); closing it leaves the platform open.
    """

    def __init__(
        self,
        settings: Settings | None = None,
        *,
        platform: Platform | None = None,
        actor_kind: ActorKind | None = None,
        **overrides: Any,
    ) -> None:
        self.settings = settings or Settings.load(**overrides)
        self.actor_kind = actor_kind
        headers = {"X-Opsloop-Actor": self.settings.actor}
        if actor_kind is not None:
            headers["X-Opsloop-Actor-Kind"] = actor_kind.value
        if self.settings.token:
            headers["Authorization"] = f"Bearer {self.settings.token}"
        self._transport: Transport
        self._owns_platform = platform is None
        if self.settings.url and platform is None:
            self.mode = "remote"
            self._transport = HttpTransport(self.settings.url, headers, TIMEOUT_S)
        else:
            from opsloop.server.app import create_app

            self.mode = "embedded"
            # Embedded means holding the store itself: the admin path, so no tokens.
            local = dataclasses.replace(self.settings, auth=False)
            app = create_app(local, platform, embedded=True)
            self._transport = EmbeddedTransport(app, headers)

    @classmethod
    def over(cls, platform: Platform, actor: Actor | None = None) -> Self:
        """An embedded client of ``platform`` (open already), acting as ``actor``."""
        settings = platform.settings
        if actor is not None:
            settings = dataclasses.replace(settings, actor=actor.name)
        return cls(
            dataclasses.replace(settings, url=None),
            platform=platform,
            actor_kind=None if actor is None else actor.kind,
        )

    def close(self) -> None:
        """Let go of opsloop. Embedded, a pipeline run this process started (by hand or by an
        alert's action) ends first: Ctrl-C stops the wait, and the run is marked failed."""
        if isinstance(self._transport, EmbeddedTransport) and self._owns_platform:
            platform = self._transport.app.state.platform  # type: ignore[attr-defined]
            try:
                _finish_runs(platform)
            finally:
                self._transport.close()
                platform.close()
            return
        self._transport.close()

    def request(
        self,
        method: str,
        path: str,
        *,
        json: Any = None,
        params: Mapping[str, Any] | None = None,
        content: bytes = b"",
        api: bool = True,
    ) -> bytes:
        """One call (``api``: under /api/v1, else a data-plane path such as
        /endpoints/x/predict); an error answer is raised as the OpsloopError the server had."""
        if api:
            path = API + path
        headers: dict[str, str] | None = None
        if json is not None:
            content = orjson.dumps(json)
            headers = {"Content-Type": "application/json"}
        scope = current_scope()
        if scope is not None and self.actor_kind is None:
            # Code running as a pipeline step acts as the pipeline, whichever client it uses.
            headers = {
                **(headers or {}),
                "X-Opsloop-Actor": scope.actor.name,
                "X-Opsloop-Actor-Kind": scope.actor.kind.value,
            }
        reply = self._transport.request(
            method, path, params=params, content=content, headers=headers
        )
        if reply.status >= 400:
            try:
                body = orjson.loads(reply.body)
            except orjson.JSONDecodeError:
                body = {
                    "error": {
                        "code": "internal",
                        "message": reply.body[:500].decode(errors="replace"),
                    }
                }
            raise OpsloopError.from_json(reply.status, body)
        return reply.body

    def _json(self, method: str, path: str, **options: Any) -> Any:
        return orjson.loads(self.request(method, path, **options))


def _finish_runs(platform: Platform) -> None:
    running = platform.pipelines.running_here()
    if not running:
        return
    listed = ", ".join(run_id[:12] for run_id in running)
    log.warning("waiting for pipeline run %s to end (Ctrl-C stops it)", listed)
    platform.pipelines.wait()
