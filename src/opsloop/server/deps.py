"""What every route needs: the platform and who is asking."""

from __future__ import annotations

from typing import Annotated, Any, TypeVar

from fastapi import Depends, Header, Request
from fastapi.exceptions import RequestValidationError
from pydantic import BaseModel, ValidationError

from opsloop.domain.entities import Actor, ActorKind
from opsloop.domain.errors import InvalidInput
from opsloop.services.platform import Platform

MAX_ACTOR = 128
BodyT = TypeVar("BodyT", bound=BaseModel)


async def platform(request: Request) -> Platform:
    found: Platform = request.app.state.platform
    return found


async def actor(
    request: Request,
    x_opsloop_actor: Annotated[str | None, Header()] = None,
    x_opsloop_actor_kind: Annotated[str | None, Header()] = None,
) -> Actor:
    name = x_opsloop_actor or request.app.state.platform.settings.actor
    if not name.strip() or len(name) > MAX_ACTOR:
        raise InvalidInput(f"actor must be 1 to {MAX_ACTOR} characters", field="X-Opsloop-Actor")
    try:
        kind = ActorKind(x_opsloop_actor_kind or ActorKind.USER.value)
    except ValueError:
        raise InvalidInput(
            f"actor kind {x_opsloop_actor_kind!r} must be one of "
            + ", ".join(k.value for k in ActorKind),
            field="X-Opsloop-Actor-Kind",
        ) from None
    return Actor(name=name, kind=kind)


PlatformDep = Annotated[Platform, Depends(platform)]
ActorDep = Annotated[Actor, Depends(actor)]


async def parse_body(model: type[BodyT], request: Request) -> BodyT:
    """Validate a large JSON body straight from bytes (pydantic's fast path).

    Used by the routes that carry metric batches; errors read as any other body error.
    """
    try:
        return model.model_validate_json(await request.body())
    except ValidationError as exc:
        raise RequestValidationError(
            [{**error, "loc": ("body", *error["loc"])} for error in exc.errors()]
        ) from None


def body_schema(model: type[BaseModel]) -> dict[str, Any]:
    """OpenAPI for a route that reads its body through ``parse_body``."""
    return {
        "requestBody": {
            "required": True,
            "content": {
                "application/json": {
                    "schema": model.model_json_schema(ref_template="#/components/schemas/{model}")
                }
            },
        }
    }
