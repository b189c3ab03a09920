"""The data plane: predict and feedback, at ``/endpoints/{name}/...``.

Each app gets its own router with its serving host and request counters bound in: looking
them up on ``app.state`` costs more per request than counting it. Every answered call is
counted (status and latency) for the monitor's service figures and for ``/metrics``.
"""

from __future__ import annotations

from time import perf_counter

import orjson
from fastapi import APIRouter, Request, Response
from fastapi.exceptions import RequestValidationError
from starlette.exceptions import HTTPException

from opsloop.domain.deployments import FeedbackReceipt
from opsloop.domain.errors import InvalidInput, OpsloopError
from opsloop.server.deps import Ctx, body_schema, parse_body
from opsloop.server.schemas import FeedbackRequest, PredictRequest, PredictResponse
from opsloop.services.serving.counters import RequestCounters
from opsloop.services.serving.host import ServingHost
from opsloop.services.serving.requests import predict as answer


def router_for(host: ServingHost, counters: RequestCounters) -> APIRouter:
    """The predict and feedback routes of one app, answering from ``host``."""
    router = APIRouter(tags=["serving"])

    @router.post(
        "/endpoints/{name}/predict",
        response_model=PredictResponse,
        openapi_extra=body_schema(PredictRequest),
    )
    async def predict(name: str, request: Request) -> Response:
        """Score rows; every prediction is logged before the answer is sent."""
        started = perf_counter()
        try:
            try:
                payload = orjson.loads(await request.body())
            except orjson.JSONDecodeError as exc:
                raise InvalidInput(f"the body is not valid JSON: {exc}", field="body") from None
            body = await answer(host, name, payload)
        except Exception as exc:
            counted = _counted_as(host, counters, name, exc)
            if counted is not None:
                counters.record(counted[0], counted[1], perf_counter() - started)
            raise
        counters.record(name, 200, perf_counter() - started, len(payload["inputs"]))
        return Response(body, media_type="application/json")

    @router.post(
        "/endpoints/{name}/feedback",
        response_model=FeedbackReceipt,
        openapi_extra=body_schema(FeedbackRequest),
    )
    async def feedback(name: str, request: Request, ctx: Ctx) -> Response:
        """Labels for logged predictions, by request id; unknown ids come back, not stored."""
        started = perf_counter()
        try:
            body = await parse_body(FeedbackRequest, request)
            items = [{"id": item.id, "label": item.label} for item in body.feedback]
            receipt = await ctx.call(
                ctx.platform.feedback.record, name, items, ctx.actor, body.source
            )
        except Exception as exc:
            counted = _counted_as(host, counters, name, exc)
            if counted is not None:
                counters.record(counted[0], counted[1], perf_counter() - started, route="feedback")
            raise
        counters.record(name, 200, perf_counter() - started, route="feedback")
        return Response(receipt.model_dump_json(), media_type="application/json")

    return router


UNKNOWN_ENDPOINT = "(unknown)"


def _counted_as(
    host: ServingHost, counters: RequestCounters, name: str, exc: Exception
) -> tuple[str, int] | None:
    """Under which endpoint name and status a failed call is counted, or None when it is not.

    Any name can be made up, and each name counted costs memory: for a name this process
    neither serves nor has counted, a client error is not counted and a server error (the
    store down, say) is counted under ``(unknown)``."""
    status = _status_of(exc)
    if host.loaded(name) is not None or counters.knows(name):
        return name, status
    return None if status < 500 else (UNKNOWN_ENDPOINT, status)


def _status_of(exc: Exception) -> int:
    """The status the app's error handlers will answer ``exc`` with."""
    if isinstance(exc, OpsloopError):
        return exc.status
    if isinstance(exc, RequestValidationError):
        return 422
    if isinstance(exc, HTTPException):
        return exc.status_code
    return 500
