"""A simulated reviewer: claims the queue's items one at a time through the API and decides
each with the true label, wrong at a set rate, taking a set time per item."""

from __future__ import annotations

import threading
from collections.abc import Callable
from typing import Any

import numpy as np

from opsloop.sdk.client import Client
from opsloop.sdk.review import claim_review, decide_review

IDLE_S = 0.25


class SimulatedReviewer(threading.Thread):
    def __init__(
        self,
        client: Client,
        endpoint: str,
        truth_of: Callable[[str], Any],
        *,
        choices: tuple[Any, ...],
        mistake_rate: float,
        handling_s: float,
        seed: int = 0,
    ) -> None:
        super().__init__(name=f"reviewer-{endpoint}", daemon=True)
        self.client = client
        self.endpoint = endpoint
        self.truth_of = truth_of
        self.choices = choices
        self.mistake_rate = mistake_rate
        self.handling_s = handling_s
        self.random = np.random.default_rng(seed)
        self.stop = threading.Event()
        self.decided = 0
        self.mistakes = 0
        self.failures: list[str] = []

    def run(self) -> None:
        while not self.stop.is_set():
            try:
                claim = claim_review(self.client, self.endpoint)
            except Exception as exc:  # the server going away at the end of the demo
                self.failures.append(f"claim: {exc}")
                self.stop.wait(IDLE_S)
                continue
            if claim is None:
                self.stop.wait(IDLE_S)
                continue
            truth = self.truth_of(claim.item.request_id)
            label = truth
            if truth is None or self.random.uniform() < self.mistake_rate:
                others = [c for c in self.choices if c != truth] or list(self.choices)
                label = others[int(self.random.integers(len(others)))]
                self.mistakes += 1
            self.stop.wait(self.handling_s)  # reading the e-mail
            try:
                decide_review(self.client, self.endpoint, claim.item.id, label)
            except Exception as exc:
                self.failures.append(f"decide: {exc}")
                continue
            self.decided += 1
