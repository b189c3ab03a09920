from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Path

from opsloop.domain.evaluation import Evaluation
from opsloop.domain.names import parse_dataset_ref, pinned
from opsloop.server.deps import Ctx
from opsloop.server.schemas import EvaluateRequest

router = APIRouter(tags=["evaluations"])
VERSION_PATH = "/projects/{project}/models/{model}/versions/{version}/evaluations"
# The ids' column is a 32-bit integer on PostgreSQL; a larger number names nothing.
EvaluationId = Annotated[int, Path(ge=1, le=2**31 - 1)]


@router.post(VERSION_PATH, status_code=201)
async def evaluate(
    project: str, model: str, version: str, body: EvaluateRequest, ctx: Ctx
) -> Evaluation:
    """Measure the version and the champion on the dataset; judge by the gate if given."""
    return await ctx.call(
        ctx.platform.evaluations.evaluate,
        pinned(project, model, version),
        parse_dataset_ref(body.dataset),
        ctx.actor,
        gate=body.gate,
        endpoint=body.endpoint,
        target=body.target,
        segment=body.segment,
    )


@router.get(VERSION_PATH)
async def list_evaluations(project: str, model: str, version: str, ctx: Ctx) -> list[Evaluation]:
    """Newest first."""
    return await ctx.call(ctx.platform.evaluations.for_version, pinned(project, model, version))


@router.get("/evaluations/{evaluation_id}")
async def get_evaluation(evaluation_id: EvaluationId, ctx: Ctx) -> Evaluation:
    return await ctx.call(ctx.platform.evaluations.get, evaluation_id)
