"""How the SDK's requests travel. Both transports speak the same HTTP API to the same app.

- ``HttpTransport``: httpx over the network to an ``opsloop server`` (remote mode).
- ``EmbeddedTransport``: the app runs in this process; each request is handed to it as an
  ASGI call on a private event loop in a daemon thread. A general HTTP client would add
  more time per request than a small query takes, so this one does only what the SDK needs.
"""

from __future__ import annotations

import asyncio
import threading
from collections.abc import Mapping
from typing import Any, NamedTuple, Protocol
from urllib.parse import urlencode

from starlette.types import ASGIApp, Message

from opsloop.domain.errors import Unavailable


class Reply(NamedTuple):
    status: int
    body: bytes


class Transport(Protocol):
    def request(
        self,
        method: str,
        path: str,
        *,
        params: Mapping[str, Any] | None = None,
        content: bytes = b"",
        headers: Mapping[str, str] | None = None,
    ) -> Reply: ...

    def close(self) -> None: ...


class HttpTransport:
    def __init__(self, base_url: str, headers: Mapping[str, str], timeout_s: float) -> None:
        import httpx

        self._http = httpx.Client(base_url=base_url, headers=dict(headers), timeout=timeout_s)

    def request(
        self,
        method: str,
        path: str,
        *,
        params: Mapping[str, Any] | None = None,
        content: bytes = b"",
        headers: Mapping[str, str] | None = None,
    ) -> Reply:
        import httpx

        try:
            response = self._http.request(
                method, path, params=params, content=content or None, headers=headers
            )
        except httpx.TransportError as exc:  # not the server's answer: it never came
            raise Unavailable(
                f"cannot reach the opsloop server at {self._http.base_url}: {exc}", field="url"
            ) from None
        return Reply(response.status_code, response.content)

    def close(self) -> None:
        self._http.close()


class EmbeddedTransport:
    def __init__(self, app: ASGIApp, headers: Mapping[str, str]) -> None:
        self.app = app
        self._headers = [(k.lower().encode(), v.encode()) for k, v in headers.items()]
        self._loop = asyncio.new_event_loop()
        self._thread = threading.Thread(
            target=self._loop.run_forever, name="opsloop-embedded", daemon=True
        )
        self._thread.start()

    def request(
        self,
        method: str,
        path: str,
        *,
        params: Mapping[str, Any] | None = None,
        content: bytes = b"",
        headers: Mapping[str, str] | None = None,
    ) -> Reply:
        query = urlencode(params or {}, doseq=True).encode()
        extra = [(k.lower().encode(), v.encode()) for k, v in (headers or {}).items()]
        scope = {
            "type": "http",
            "asgi": {"version": "3.0"},
            "http_version": "1.1",
            "method": method,
            "scheme": "http",
            "path": path,
            "raw_path": path.encode(),
            "query_string": query,
            "root_path": "",
            "headers": [
                (b"host", b"opsloop.embedded"),
                (b"content-length", str(len(content)).encode()),
                *self._headers,
                *extra,
            ],
            "client": ("127.0.0.1", 0),
            "server": ("opsloop.embedded", 80),
        }
        future = asyncio.run_coroutine_threadsafe(self._call(scope, content), self._loop)
        return future.result()

    async def _call(self, scope: dict[str, Any], content: bytes) -> Reply:
        sent_body = False
        status = 500
        chunks: list[bytes] = []

        async def receive() -> Message:
            nonlocal sent_body
            if sent_body:
                return {"type": "http.disconnect"}
            sent_body = True
            return {"type": "http.request", "body": content, "more_body": False}

        async def send(message: Message) -> None:
            nonlocal status
            if message["type"] == "http.response.start":
                status = message["status"]
            elif message["type"] == "http.response.body":
                chunks.append(message.get("body", b""))

        await self.app(scope, receive, send)
        return Reply(status, b"".join(chunks))

    def close(self) -> None:
        if self._loop.is_running():
            self._loop.call_soon_threadsafe(self._loop.stop)
            self._thread.join(timeout=5)
        if not self._loop.is_running():
            self._loop.close()
