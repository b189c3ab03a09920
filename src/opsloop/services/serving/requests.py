"""The front door of an endpoint: check a predict request, route it, wait for its answer."""

from __future__ import annotations

import asyncio
import os
import time
from typing import Any

from opsloop.domain.errors import InvalidInput, OpsloopError
from opsloop.domain.names import check_request_id
from opsloop.services.serving.batcher import Batcher, Job
from opsloop.services.serving.host import ServingHost

MAX_ROWS = 10_000
MAX_KEY = 256
REQUEST_KEYS = frozenset({"inputs", "ids", "key"})


def new_ids(count: int, now_ms: int | None = None) -> list[str]:
    """Request ids that sort by time (48-bit milliseconds, then 80 random bits, in hex), so
    the prediction log's files can be skipped by their id ranges."""
    stamp = f"{int(time.time() * 1000) if now_ms is None else now_ms:012x}"
    noise = os.urandom(10 * count).hex()
    return [stamp + noise[i * 20 : (i + 1) * 20] for i in range(count)]


def check_ids(ids: Any, rows: int) -> list[str]:
    if not isinstance(ids, list) or len(ids) != rows:
        raise InvalidInput(f"ids must be a list of {rows} ids, one per input row", field="ids")
    for i, value in enumerate(ids):
        check_request_id(value, f"ids[{i}]")
    if len(set(ids)) != len(ids):
        raise InvalidInput("ids must not repeat within a request", field="ids")
    return ids


async def predict(host: ServingHost, endpoint: str, payload: Any) -> bytes:
    """Answer one request: ``{"inputs": [row, ...], "ids": [...]?, "key": "..."?}``."""
    started = time.perf_counter()
    if not isinstance(payload, dict):
        raise InvalidInput("the body must be a JSON object with 'inputs'", field="body")
    unknown = set(payload) - REQUEST_KEYS
    if unknown:
        raise InvalidInput(
            f"unknown key {sorted(unknown)[0]!r} (allowed: inputs, ids, key)",
            field=sorted(unknown)[0],
        )
    rows = payload.get("inputs")
    if not isinstance(rows, list) or not rows:
        raise InvalidInput("inputs must be a non-empty list of rows", field="inputs")
    if len(rows) > MAX_ROWS:
        raise InvalidInput(f"at most {MAX_ROWS} rows per request, got {len(rows)}", field="inputs")
    key = payload.get("key")
    if key is not None and (not isinstance(key, str) or len(key) > MAX_KEY):
        raise InvalidInput(f"key must be text of at most {MAX_KEY} characters", field="key")
    ids = payload.get("ids")
    ids = new_ids(len(rows)) if ids is None else check_ids(ids, len(rows))
    # Loading a route reads the store and model files: off the event loop.
    route = host.loaded(endpoint)
    if route is None:
        route = await asyncio.to_thread(host.route, endpoint)
    role, batcher = route.pick(key)
    schema = batcher.model.schema
    checked = rows if schema is None else schema.rows(rows)
    future: asyncio.Future[bytes | OpsloopError] = asyncio.get_running_loop().create_future()
    batcher.submit(
        Job(checked, ids, endpoint, route.deployment, role, started=started, future=future)
    )
    shadow = route.shadow
    if shadow is not None:
        _copy_to_shadow(shadow, rows, ids, endpoint, route.deployment, started)
    answer = await future
    if isinstance(answer, OpsloopError):
        raise answer
    return answer


def _copy_to_shadow(
    shadow: Batcher, rows: list[Any], ids: list[str], endpoint: str, deployment: int, started: float
) -> None:
    """The shadow sees the same rows; its answers are logged, never returned, and its
    failures never reach the caller."""
    schema = shadow.model.schema
    try:
        checked = rows if schema is None else schema.rows(rows)
        shadow.submit(Job(checked, ids, endpoint, deployment, "shadow", started=started))
    except OpsloopError:
        return
