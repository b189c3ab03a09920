"""A bounded closed-loop load generator for reliability tests: N clients, each sending one
request after another on its own kept-alive connection, every answer recorded."""

from __future__ import annotations

import asyncio
import threading
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import httpx


@dataclass
class LoadReport:
    answered: list[str] = field(default_factory=list)  # request ids whose 200 arrived
    models: set[str] = field(default_factory=set)
    failures: list[str] = field(default_factory=list)
    lock: threading.Lock = field(default_factory=threading.Lock)


class Load:
    """Runs ``clients`` loops against ``url`` in a thread until ``stop()``."""

    def __init__(self, url: str, body: Callable[[int], dict[str, Any]], clients: int = 64):
        self.url = url
        self.body = body
        self.clients = clients
        self.report = LoadReport()
        self._stop = threading.Event()
        self._thread = threading.Thread(target=lambda: asyncio.run(self._main()), daemon=True)

    def __enter__(self) -> Load:
        self._thread.start()
        return self

    def __exit__(self, *_: object) -> None:
        self.stop()

    def stop(self) -> LoadReport:
        self._stop.set()
        self._thread.join(timeout=60)
        return self.report

    def count(self) -> int:
        with self.report.lock:
            return len(self.report.answered)

    async def _main(self) -> None:
        limits = httpx.Limits(max_connections=self.clients, max_keepalive_connections=self.clients)
        async with httpx.AsyncClient(limits=limits, timeout=30) as http:
            await asyncio.gather(*(self._client(http, i) for i in range(self.clients)))

    async def _client(self, http: httpx.AsyncClient, number: int) -> None:
        sent = 0
        while not self._stop.is_set():
            body = self.body(number * 1_000_000 + sent)
            sent += 1
            try:
                reply = await http.post(self.url, json=body)
            except httpx.TransportError as exc:
                with self.report.lock:
                    self.report.failures.append(f"{type(exc).__name__}: {exc}")
                await asyncio.sleep(0.05)
                continue
            with self.report.lock:
                if reply.status_code == 200:
                    answer = reply.json()
                    self.report.models.add(answer["model"])
                    self.report.answered.extend(p["id"] for p in answer["predictions"])
                else:
                    self.report.failures.append(f"{reply.status_code}: {reply.text[:200]}")
