"""``create_app(settings)``: the opsloop server, built on call, never at import."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from fastapi import FastAPI

from opsloop import __version__
from opsloop.domain.settings import Settings
from opsloop.server import errors
from opsloop.server.deps import Calls
from opsloop.server.routes import artifacts, datasets, models, projects, runs
from opsloop.services.platform import Platform

API_PREFIX = "/api/v1"


def create_app(
    settings: Settings | None = None, platform: Platform | None = None, *, embedded: bool = False
) -> FastAPI:
    """Build the app over ``platform`` (opened from ``settings`` when not given).

    ``embedded`` is for the SDK's in-process transport: service calls then run inline
    instead of in a worker thread (see ``deps.Calls``).
    """
    if platform is None:
        platform = Platform.open(settings or Settings.load())
    owned = platform

    @asynccontextmanager
    async def lifespan(_app: FastAPI) -> AsyncIterator[None]:
        yield
        owned.close()

    app = FastAPI(
        title="opsloop",
        version=__version__,
        description="The whole MLOps loop: track, gate, deploy, serve, monitor, review, retrain.",
        lifespan=lifespan,
    )
    app.state.platform = platform
    app.state.calls = Calls(inline=embedded)
    errors.install(app)
    for module in (projects, runs, artifacts, datasets, models):
        app.include_router(module.router, prefix=API_PREFIX)

    @app.get("/healthz", tags=["health"])
    def health() -> dict[str, str]:
        return {"status": "ok", "version": __version__}

    return app
