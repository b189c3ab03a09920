"""What every route needs: the platform and who is asking."""

from __future__ import annotations

from collections.abc import Callable
from typing import Annotated, Any, TypeVar

from fastapi import Depends, Header, Request
from fastapi.exceptions import RequestValidationError
from pydantic import BaseModel, ValidationError
from starlette.concurrency import run_in_threadpool

from opsloop.domain.entities import Actor, ActorKind
from opsloop.domain.errors import InvalidInput
from opsloop.services.platform import Platform

MAX_ACTOR = 128
BodyT = TypeVar("BodyT", bound=BaseModel)
T = TypeVar("T")


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


class Calls:
    """How routes run service calls, which block on the database and the artifact store.

    Under a server they go to a worker thread, so the event loop keeps serving. Embedded, the
    only caller is a thread already blocked waiting for this answer, so they run inline: a
    thread hop there buys nothing and costs more than a small query.
    """

    def __init__(self, inline: bool) -> None:
        self.inline = inline

    async def __call__(self, function: Callable[..., T], /, *args: Any, **kwargs: Any) -> T:
        if self.inline:
            return function(*args, **kwargs)
        return await run_in_threadpool(function, *args, **kwargs)


async def calls(request: Request) -> Calls:
    found: Calls = request.app.state.calls
    return found


PlatformDep = Annotated[Platform, Depends(platform)]
ActorDep = Annotated[Actor, Depends(actor)]
CallDep = Annotated[Calls, Depends(calls)]


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
