"""``create_app(settings)``: the opsloop server, built on call, never at import."""

from __future__ import annotations

import gc
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from fastapi import Depends, FastAPI

from opsloop import __version__
from opsloop.domain.settings import Settings
from opsloop.server import errors
from opsloop.server.access import API_PREFIX, authorize
from opsloop.server.deps import Calls
from opsloop.server.routes import (
    alerts,
    artifacts,
    datasets,
    endpoints,
    evaluations,
    metrics,
    models,
    monitoring,
    pipelines,
    projects,
    report,
    review,
    runs,
    serving,
    tokens,
    validation,
)
from opsloop.services.platform import Platform
from opsloop.services.scheduler import Scheduler, Task
from opsloop.services.serving.host import ServingHost


def create_app(
    settings: Settings | None = None,
    platform: Platform | None = None,
    *,
    embedded: bool = False,
    serve_only: list[str] | None = None,
) -> FastAPI:
    """Build the app over ``platform`` (opened from ``settings`` when not given).

    ``embedded`` is for the SDK's in-process transport: service calls then run inline
    instead of in a worker thread (see ``deps.Calls``). ``serve_only`` makes a serving-only
    process for those endpoints: predict and feedback, no management API.
    """
    if platform is None:
        platform = Platform.open(settings or Settings.load())
    owned = platform
    # An embedded app over a platform that serves already (pipeline steps inside a server)
    # shares its host: one copy of each model, one batcher.
    host = platform.serving if embedded and serve_only is None else None
    if host is None:
        host = ServingHost(
            platform.deployments,
            platform.registry,
            platform.predictions.append_predictions,
            max_batch=platform.settings.max_batch,
            only=serve_only,
        )
        platform.on_close(host.stop)
        if platform.serving is None:
            platform.serving = host

    @asynccontextmanager
    async def lifespan(_app: FastAPI) -> AsyncIterator[None]:
        host.start()  # serve the current plans from the first request on
        platform.pipelines.load()  # a broken pipelines module stops the start, not a run
        if serve_only is None and platform.settings.scheduler:
            scheduler = _scheduler(platform)
            scheduler.start()
            platform.on_close(scheduler.stop)
        # What is loaded now (libraries, models) lives as long as the process: keep it out
        # of the collector's full passes, which otherwise stall every request in flight.
        gc.freeze()
        yield
        owned.close()

    app = FastAPI(
        title="opsloop",
        version=__version__,
        description="The whole MLOps loop: track, gate, deploy, serve, monitor, review, retrain.",
        lifespan=lifespan,
    )
    app.state.platform = platform
    app.state.host = host
    app.state.calls = Calls(inline=embedded)
    app.state.embedded = embedded  # in process, holding the store: no tokens asked
    errors.install(app)
    app.include_router(
        serving.router_for(host, platform.counters), dependencies=[Depends(authorize)]
    )
    app.include_router(metrics.router, dependencies=[Depends(authorize)])  # every replica
    if serve_only is None:
        for module in (
            projects,
            runs,
            artifacts,
            datasets,
            validation,
            models,
            evaluations,
            endpoints,
            monitoring,
            alerts,
            review,
            pipelines,
            report,
            tokens,
        ):
            app.include_router(module.router, prefix=API_PREFIX, dependencies=[Depends(authorize)])

    if serve_only is None and not embedded:  # people look at a server, not a client
        from opsloop.server import ui

        ui.install(app)

    @app.get("/healthz", tags=["health"])
    def health() -> dict[str, str]:
        return {"status": "ok", "version": __version__}

    return app


def _scheduler(platform: Platform) -> Scheduler:
    """The loop's timed work in this server: monitors (and their alerts), pipeline triggers."""
    return Scheduler(
        platform.db,
        [
            Task("monitors", platform.monitoring.run_due),
            Task("pipeline-triggers", platform.triggers.run_due),
            Task("review-routing", platform.review.route),
        ],
        tick_s=platform.settings.scheduler_tick_s,
        lease_s=max(30.0, 10 * platform.settings.scheduler_tick_s),
    )
