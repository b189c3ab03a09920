"""The data plane: predict and feedback, at ``/endpoints/{name}/...``."""

from __future__ import annotations

import orjson
from fastapi import APIRouter, Request, Response

from opsloop.domain.deployments import FeedbackReceipt
from opsloop.domain.errors import InvalidInput
from opsloop.server.deps import Ctx, body_schema, parse_body
from opsloop.server.schemas import FeedbackRequest, PredictRequest, PredictResponse
from opsloop.services.serving.requests import predict as answer

router = APIRouter(tags=["serving"])


@router.post(
    "/endpoints/{name}/predict",
    response_model=PredictResponse,
    openapi_extra=body_schema(PredictRequest),
)
async def predict(name: str, request: Request) -> Response:
    """Score rows; every prediction is logged before the answer is sent."""
    try:
        payload = orjson.loads(await request.body())
    except orjson.JSONDecodeError as exc:
        raise InvalidInput(f"the body is not valid JSON: {exc}", field="body") from None
    body = await answer(request.app.state.host, name, payload)
    return Response(body, media_type="application/json")


@router.post("/endpoints/{name}/feedback", response_model=FeedbackReceipt)
async def feedback(name: str, request: Request, ctx: Ctx) -> Response:
    """Labels for logged predictions, by request id; unknown ids come back, not stored."""
    body = await parse_body(FeedbackRequest, request)
    items = [{"id": item.id, "label": item.label} for item in body.feedback]
    receipt = await ctx.call(ctx.platform.feedback.record, name, items, ctx.actor, body.source)
    return Response(receipt.model_dump_json(), media_type="application/json")
