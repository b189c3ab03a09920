from __future__ import annotations

from fastapi import APIRouter

from opsloop.domain.auth import IssuedToken, Token
from opsloop.server.deps import Ctx
from opsloop.server.schemas import TokenCreate

router = APIRouter(tags=["tokens"])


@router.get("/tokens")
async def list_tokens(ctx: Ctx, revoked: bool = False) -> list[Token]:
    return await ctx.call(ctx.platform.auth.list_tokens, revoked)


@router.post("/tokens", status_code=201)
async def create_token(body: TokenCreate, ctx: Ctx) -> IssuedToken:
    """The secret is in this answer only."""
    return await ctx.call(
        ctx.platform.auth.create,
        body.role,
        ctx.actor,
        name=body.name,
        endpoint=body.endpoint,
        expires_at=body.expires_at,
    )


@router.delete("/tokens/{token_id}")
async def revoke_token(token_id: str, ctx: Ctx) -> Token:
    return await ctx.call(ctx.platform.auth.revoke, token_id, ctx.actor)
