from __future__ import annotations

from fastapi import APIRouter, Request, Response

from opsloop.server.deps import Ctx
from opsloop.server.schemas import Uploaded

router = APIRouter(tags=["artifacts"])


@router.put("/artifacts/{sha256}")
async def upload(sha256: str, request: Request, ctx: Ctx) -> Uploaded:
    """Store a blob under its sha256; the body must hash to the name it is sent under."""
    data = await request.body()
    digest, size = await ctx.call(ctx.platform.artifacts.put, data, expected_sha256=sha256)
    return Uploaded(sha256=digest, size=size)


@router.get("/artifacts/{sha256}", response_class=Response)
async def download(sha256: str, ctx: Ctx) -> Response:
    data = await ctx.call(ctx.platform.artifacts.get, sha256)
    return Response(data, media_type="application/octet-stream")
