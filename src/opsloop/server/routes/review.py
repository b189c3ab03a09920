"""An endpoint's review queue: its policy, its items, claims and decisions, its figures."""

from __future__ import annotations

from typing import TYPE_CHECKING, Annotated, Literal

from fastapi import APIRouter, Path, Query, Response
from pydantic import Field, TypeAdapter

from opsloop.domain.entities import Moment
from opsloop.domain.review import ReviewClaim, ReviewItem, ReviewPolicy, ReviewStats, RoutingPass
from opsloop.server.deps import Context, Ctx, json_reply
from opsloop.server.schemas import Body, Scalar

if TYPE_CHECKING:
    from opsloop.services.review import ReviewService

router = APIRouter(tags=["review"])
_ITEMS = TypeAdapter(list[ReviewItem])
ItemId = Annotated[int, Path(ge=1, lt=2**63, description="the review item's id")]


class ReviewPolicyBody(Body):
    config: str = Field(description="the review policy's YAML (docs/review.md)")


class DecisionBody(Body):
    label: Scalar = Field(description="one of the item's choices")
    note: str | None = Field(default=None, description="at most 2,000 characters")


def _review(ctx: Context) -> ReviewService:
    return ctx.platform.review


@router.put("/endpoints/{name}/review/policy", response_model=ReviewPolicy)
async def set_policy(name: str, body: ReviewPolicyBody, ctx: Ctx) -> Response:
    """Set or replace the endpoint's review policy; routing goes on from where it was."""
    return json_reply(await ctx.call(_review(ctx).configure, name, body.config, ctx.actor))


@router.get("/endpoints/{name}/review/policy", response_model=ReviewPolicy)
async def get_policy(name: str, ctx: Ctx) -> Response:
    return json_reply(await ctx.call(_review(ctx).policy, name))


@router.get("/endpoints/{name}/review/items", response_model=list[ReviewItem])
async def list_items(
    name: str,
    ctx: Ctx,
    status: Literal["open", "closed"] | None = None,
    limit: Annotated[int, Query(description="1 to 1,000")] = 100,
) -> Response:
    """Open items in queue order (most urgent first), or every or closed item newest first."""
    found = await ctx.call(_review(ctx).items, name, status=status, limit=limit)
    return Response(_ITEMS.dump_json(found), media_type="application/json")


@router.get("/endpoints/{name}/review/items/{item_id}", response_model=ReviewItem)
async def get_item(name: str, item_id: ItemId, ctx: Ctx) -> Response:
    """One item with its decisions and the labels a reviewer may give."""
    return json_reply(await ctx.call(_review(ctx).item, name, item_id))


@router.post(
    "/endpoints/{name}/review/claim",
    response_model=ReviewClaim,
    responses={204: {"description": "nothing left for this reviewer"}},
)
async def claim(name: str, ctx: Ctx) -> Response:
    """Claim the next item (or get back the one this reviewer holds); 204 when none is left."""
    service = _review(ctx)
    item = await ctx.call(service.claim, name, ctx.actor)
    if item is None:
        return Response(status_code=204)
    remaining = await ctx.call(service.remaining, name, ctx.actor)
    return json_reply(ReviewClaim(item=item, remaining=remaining))


@router.post("/endpoints/{name}/review/items/{item_id}/decision", response_model=ReviewItem)
async def decide(name: str, item_id: ItemId, body: DecisionBody, ctx: Ctx) -> Response:
    """Label the item this reviewer holds; a closed item's label becomes Feedback."""
    found = await ctx.call(_review(ctx).decide, name, item_id, ctx.actor, body.label, body.note)
    return json_reply(found)


@router.post("/endpoints/{name}/review/items/{item_id}/skip", response_model=ReviewItem)
async def skip(name: str, item_id: ItemId, ctx: Ctx) -> Response:
    """Pass on the item; it is not offered to this reviewer again."""
    return json_reply(await ctx.call(_review(ctx).skip, name, item_id, ctx.actor))


@router.get("/endpoints/{name}/review/stats", response_model=ReviewStats)
async def stats(name: str, ctx: Ctx, since: Moment | None = None) -> Response:
    """Backlog, waiting and handling times, agreement, errors caught (since the policy was
    set, or ``since``)."""
    return json_reply(await ctx.call(_review(ctx).stats, name, since))


@router.post("/endpoints/{name}/review/route", response_model=RoutingPass)
async def route(name: str, ctx: Ctx) -> Response:
    """Route the predictions logged since the last pass now (the scheduler does it too)."""
    return json_reply(await ctx.call(_review(ctx).route_endpoint, name, actor=ctx.actor))
