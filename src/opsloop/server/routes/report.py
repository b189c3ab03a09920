"""The measure of the loop: the report as JSON, and its maturity map as SVG."""

from __future__ import annotations

from fastapi import APIRouter, Response

from opsloop.domain.entities import Moment
from opsloop.domain.report import Report
from opsloop.server.deps import Ctx, json_reply

router = APIRouter(tags=["report"])


@router.get("/report", response_model=Report)
async def report(
    ctx: Ctx,
    project: str | None = None,
    endpoint: str | None = None,
    since: Moment | None = None,
    until: Moment | None = None,
) -> Response:
    """Lead times, delivery and recovery figures, the maturity map and hours per month over
    ``[since, until)`` (default: the last 30 days), for a project (default: all) or an
    endpoint (docs/report.md)."""
    found = await ctx.call(
        ctx.platform.report.build, project=project, endpoint=endpoint, since=since, until=until
    )
    return json_reply(found)


@router.get(
    "/report.svg",
    response_class=Response,
    responses={200: {"content": {"image/svg+xml": {}}, "description": "the maturity map"}},
)
async def report_svg(
    ctx: Ctx,
    project: str | None = None,
    endpoint: str | None = None,
    since: Moment | None = None,
    until: Moment | None = None,
) -> Response:
    """The maturity map of the same report, as an SVG document."""
    found = await ctx.call(
        ctx.platform.report.build, project=project, endpoint=endpoint, since=since, until=until
    )
    return Response(ctx.platform.report.svg(found), media_type="image/svg+xml")
