"""A sync httpx transport over an ASGI app: real HTTP requests, no socket.

httpx's own ASGITransport is async-only; this drives it on a private event loop so tests can
stay plain functions with an ordinary ``httpx.Client``.
"""

from __future__ import annotations

import asyncio
import threading

import httpx
from starlette.types import ASGIApp


class SyncASGITransport(httpx.BaseTransport):
    def __init__(self, app: ASGIApp) -> None:
        self._asgi = httpx.ASGITransport(app=app)
        self._loop = asyncio.new_event_loop()
        self._thread = threading.Thread(target=self._loop.run_forever, daemon=True)
        self._thread.start()

    def handle_request(self, request: httpx.Request) -> httpx.Response:
        request.read()
        future = asyncio.run_coroutine_threadsafe(self._send(request), self._loop)
        status, headers, body = future.result()
        return httpx.Response(status, headers=headers, content=body, request=request)

    async def _send(self, request: httpx.Request) -> tuple[int, httpx.Headers, bytes]:
        response = await self._asgi.handle_async_request(request)
        return response.status_code, response.headers, await response.aread()

    def close(self) -> None:
        self._loop.call_soon_threadsafe(self._loop.stop)
        self._thread.join(timeout=5)
        self._loop.close()
