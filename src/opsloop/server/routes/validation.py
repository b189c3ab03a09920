"""Validating a dataset version against another: schema, then drift."""

from __future__ import annotations

from fastapi import APIRouter
from pydantic import Field

from opsloop.domain.names import DatasetRef, parse_dataset_ref, parse_version
from opsloop.domain.validation import DatasetValidation
from opsloop.server.deps import Ctx
from opsloop.server.schemas import Body

router = APIRouter(tags=["datasets"])


class ValidateRequest(Body):
    against: str = Field(description="the reference version, project/dataset[@version]")
    features: list[str] | None = Field(
        default=None, description="the columns to check (default: every column of against)"
    )


@router.post("/projects/{project}/datasets/{name}/versions/{version}/validations", status_code=201)
async def validate(
    project: str, name: str, version: str, body: ValidateRequest, ctx: Ctx
) -> DatasetValidation:
    """``version`` is a number or ``latest``. The verdict is fail when a feature is missing
    or holds another kind of values; drift is reported per column. Recorded as an Event."""
    ref = DatasetRef(project, name, None if version == "latest" else parse_version(version))
    return await ctx.call(
        ctx.platform.datasets.validate,
        ref,
        against=parse_dataset_ref(body.against, "against"),
        actor=ctx.actor,
        features=body.features,
    )
