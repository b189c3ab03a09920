"""Replaying a workload's later data as live traffic, at a steady pace, over HTTP.

Each request is sent when its turn comes (``replay_s`` spread evenly over the requests, in
the data's time order); the truth of a chosen share of them comes back ``label_delay_s``
later as feedback, in batches, as users' reports and later ratings would. The replay keeps
when it sent each request (wall time and the data's own time) so the demo can say what each
moment of the run stands for, and each request's truth so a simulated reviewer can know it.
"""

from __future__ import annotations

import bisect
import heapq
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime
from operator import attrgetter
from typing import Any

import httpx
import numpy as np

FEEDBACK_EVERY_S = 0.25
MAX_BATCH = 32


@dataclass(frozen=True)
class Request:
    """One piece of live traffic: the inputs sent, the truth, and when it happened."""

    inputs: dict[str, Any]
    truth: Any
    happened: datetime


@dataclass
class Sent:
    wall: float
    happened: datetime


@dataclass
class ReplayState:
    sent: list[Sent] = field(default_factory=list)
    labelled: int = 0
    failures: list[str] = field(default_factory=list)
    truths: dict[str, Any] = field(default_factory=dict)


class Replay(threading.Thread):
    """Sends ``requests`` to ``endpoint`` over ``replay_s`` seconds; stops early on ``stop``."""

    def __init__(
        self,
        url: str,
        endpoint: str,
        requests: list[Request],
        *,
        replay_s: float,
        label_delay_s: float,
        label_share: float,
        seed: int = 0,
        on_sent: Callable[[int], None] | None = None,
    ) -> None:
        super().__init__(name=f"replay-{endpoint}", daemon=True)
        self.url = url
        self.endpoint = endpoint
        self.requests = requests
        self.spacing = replay_s / max(len(requests), 1)
        self.label_delay_s = label_delay_s
        self.labelled = np.random.default_rng(seed).uniform(size=len(requests)) < label_share
        self.on_sent = on_sent or (lambda _: None)
        self.state = ReplayState()
        self.stop = threading.Event()
        self.started_at = 0.0
        self._lock = threading.Lock()

    def truth(self, request_id: str) -> Any:
        with self._lock:
            return self.state.truths.get(request_id)

    def happened_at(self, wall: float) -> datetime | None:
        """The data's time of the traffic being sent at wall-clock ``wall``."""
        with self._lock:
            sent = self.state.sent
            # the last request sent at or before ``wall``
            at = bisect.bisect_right(sent, wall, key=attrgetter("wall"))
            return sent[at - 1].happened if at else None

    def run(self) -> None:
        try:
            self._run()
        except Exception as exc:  # the replay ends; the demo reports why
            self.state.failures.append(f"the replay stopped: {type(exc).__name__}: {exc}")

    def _run(self) -> None:
        due: list[tuple[float, str, Any]] = []  # (when, request id, label)
        last_flush = 0.0
        with httpx.Client(base_url=self.url, timeout=60) as http:
            self.started_at = time.time()
            i = 0
            while i < len(self.requests) and not self.stop.is_set():
                self._wait_until(self.started_at + i * self.spacing, http, due)
                # Behind schedule (a busy machine), the requests already due go together.
                behind = int((time.time() - self.started_at) / self.spacing) + 1
                batch = self.requests[i : min(max(behind, i + 1), i + MAX_BATCH)]
                answer = http.post(
                    f"/endpoints/{self.endpoint}/predict",
                    json={"inputs": [request.inputs for request in batch]},
                )
                if answer.status_code != 200:
                    self.state.failures.append(f"{answer.status_code}: {answer.text[:300]}")
                else:
                    ids = [p["id"] for p in answer.json()["predictions"]]
                    self._sent(i, batch, ids, due)
                i += len(batch)
                now = time.time()
                if now - last_flush >= FEEDBACK_EVERY_S:
                    self._send_due(http, due, now)
                    last_flush = now
                self.on_sent(i)
            # The last labels still come, after their delay, unless the demo is stopping.
            while due and not self.stop.is_set():
                self._wait_until(due[0][0], http, due)
                self._send_due(http, due, time.time())

    def _sent(
        self, first: int, batch: list[Request], ids: list[str], due: list[tuple[float, str, Any]]
    ) -> None:
        now = time.time()
        with self._lock:
            for request, request_id in zip(batch, ids, strict=True):
                self.state.sent.append(Sent(now, request.happened))
                self.state.truths[request_id] = request.truth
        for offset, (request, request_id) in enumerate(zip(batch, ids, strict=True)):
            if self.labelled[first + offset]:
                heapq.heappush(due, (now + self.label_delay_s, request_id, request.truth))

    def _wait_until(
        self, moment: float, http: httpx.Client, due: list[tuple[float, str, Any]]
    ) -> None:
        while not self.stop.is_set():
            now = time.time()
            if now >= moment:
                return
            if due and due[0][0] <= now:
                self._send_due(http, due, now)
            self.stop.wait(min(moment - now, FEEDBACK_EVERY_S))

    def _send_due(self, http: httpx.Client, due: list[tuple[float, str, Any]], now: float) -> None:
        items = []
        while due and due[0][0] <= now:
            _, request_id, label = heapq.heappop(due)
            items.append({"id": request_id, "label": label})
        if not items:
            return
        answer = http.post(f"/endpoints/{self.endpoint}/feedback", json={"feedback": items})
        if answer.status_code != 200:
            self.state.failures.append(f"feedback {answer.status_code}: {answer.text[:300]}")
            return
        self.state.labelled += len(items)
