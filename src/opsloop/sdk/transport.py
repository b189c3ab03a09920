"""Embedded mode: the SDK speaks the same HTTP API, to an app running in this process.

httpx's sync client cannot drive an ASGI app by itself, so the app runs on a private event
loop in a daemon thread and each request is handed over to it. Remote mode uses httpx's own
network transport; everything above the transport is one code path.
"""

from __future__ import annotations

import asyncio
import threading

import httpx
from starlette.types import ASGIApp


class EmbeddedTransport(httpx.BaseTransport):
    def __init__(self, app: ASGIApp) -> None:
        self._asgi = httpx.ASGITransport(app=app)
        self._loop = asyncio.new_event_loop()
        self._thread = threading.Thread(
            target=self._loop.run_forever, name="opsloop-embedded", daemon=True
        )
        self._thread.start()

    def handle_request(self, request: httpx.Request) -> httpx.Response:
        request.read()
        future = asyncio.run_coroutine_threadsafe(self._handle(request), self._loop)
        status, headers, body = future.result()
        return httpx.Response(status, headers=headers, content=body, request=request)

    async def _handle(self, request: httpx.Request) -> tuple[int, httpx.Headers, bytes]:
        response = await self._asgi.handle_async_request(request)
        body = await response.aread()
        return response.status_code, response.headers, body

    def close(self) -> None:
        if self._loop.is_running():
            self._loop.call_soon_threadsafe(self._loop.stop)
            self._thread.join(timeout=5)
        if not self._loop.is_running():
            self._loop.close()
