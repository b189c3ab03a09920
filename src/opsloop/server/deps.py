"""What every route needs: the platform and who is asking."""

from __future__ import annotations

from collections.abc import Callable
from typing import Annotated, Any, TypeVar

from fastapi import Depends, Request, Response
from fastapi.exceptions import RequestValidationError
from pydantic import BaseModel, ValidationError
from starlette.concurrency import run_in_threadpool

from opsloop.domain.entities import Actor, ActorKind
from opsloop.domain.errors import Forbidden, InvalidInput
from opsloop.services.platform import Platform

MAX_ACTOR = 128
BodyT = TypeVar("BodyT", bound=BaseModel)
T = TypeVar("T")


def actor_of(request: Request) -> Actor:
    """Who is asking: the ``X-Opsloop-Actor`` and ``X-Opsloop-Actor-Kind`` headers."""
    headers = request.headers
    token = getattr(request.state, "token", None)
    if token is not None:  # with auth on, who is asking is the token's name
        name = token.name
    else:
        name = headers.get("x-opsloop-actor") or request.app.state.platform.settings.actor
    if not name.strip() or len(name) > MAX_ACTOR:
        raise InvalidInput(f"actor must be 1 to {MAX_ACTOR} characters", field="X-Opsloop-Actor")
    kind_text = headers.get("x-opsloop-actor-kind")
    try:
        kind = ActorKind(kind_text or ActorKind.USER.value)
    except ValueError:
        raise InvalidInput(
            f"actor kind {kind_text!r} must be one of " + ", ".join(k.value for k in ActorKind),
            field="X-Opsloop-Actor-Kind",
        ) from None
    if token is not None and kind is not ActorKind.USER:
        # Pipelines and monitors act inside opsloop's own processes, never through a token:
        # a token claiming to be one would pass a person's work off as automated.
        raise Forbidden(
            f"a token acts as a user, not as a {kind.value}", field="X-Opsloop-Actor-Kind"
        )
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


class Context:
    """What every route needs, resolved as one dependency (FastAPI's per-dependency work is
    a visible share of a small request): the platform, how to call it, and who is asking."""

    __slots__ = ("_actor", "call", "platform", "request")

    def __init__(self, request: Request) -> None:
        self.request = request
        self.platform: Platform = request.app.state.platform
        self.call: Calls = request.app.state.calls
        self._actor: Actor | None = None

    @property
    def actor(self) -> Actor:
        if self._actor is None:
            self._actor = actor_of(self.request)
        return self._actor


async def context(request: Request) -> Context:
    return Context(request)


Ctx = Annotated[Context, Depends(context)]


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


def json_reply(entity: BaseModel, status_code: int = 200) -> Response:
    """An entity as JSON, encoded once by pydantic.

    Returning a model makes FastAPI validate it again, turn it into plain Python and encode
    that with the standard library; on the tracking path that costs more than the query.
    Routes that use this still declare ``response_model`` for the OpenAPI document.
    """
    return Response(
        entity.model_dump_json(), status_code=status_code, media_type="application/json"
    )


def body_schema(model: type[BaseModel]) -> dict[str, Any]:
    """OpenAPI for a route that reads its body through ``parse_body``.

    Nested models are written out in place: FastAPI lists as components only the models its
    own parameters and responses use, so a reference from here could point at nothing."""
    schema = model.model_json_schema()
    definitions = schema.pop("$defs", {})
    return {
        "requestBody": {
            "required": True,
            "content": {"application/json": {"schema": _inlined(schema, definitions)}},
        }
    }


def _inlined(node: Any, definitions: dict[str, Any]) -> Any:
    """``node`` with each ``$ref`` to ``definitions`` replaced by the definition (the request
    bodies hold no recursive models)."""
    if isinstance(node, list):
        return [_inlined(item, definitions) for item in node]
    if not isinstance(node, dict):
        return node
    ref = node.get("$ref")
    if isinstance(ref, str) and ref.startswith("#/$defs/"):
        target = _inlined(definitions[ref.removeprefix("#/$defs/")], definitions)
        return {**target, **{k: v for k, v in node.items() if k != "$ref"}}
    return {key: _inlined(value, definitions) for key, value in node.items()}
