"""What the review tests share: ``mod/violation@1`` serving ``moderation`` in a real store, a
review service on a clock the test moves, and predictions logged as serving logs them."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any

from fastapi import FastAPI

from opsloop.domain.entities import Actor, ModelVersion
from opsloop.domain.settings import Settings
from opsloop.sdk.client import Client
from opsloop.services.platform import Platform
from opsloop.services.review import ReviewService

T0 = 1_736_121_600.0  # 2025-01-06 00:00 UTC: a day and hour boundary, long before any test runs
ENDPOINT = "moderation"
RITA = Actor(name="rita")
SAM = Actor(name="sam")
TOM = Actor(name="tom")


class Clock:
    """The review service's time, moved by the test."""

    def __init__(self, now: float) -> None:
        self.now = now

    def __call__(self) -> float:
        return self.now


def on_clock(app: FastAPI, clock: Clock) -> ReviewService:
    """The app's platform with its review service replaced by one on ``clock``."""
    platform = app.state.platform
    platform.review = ReviewService(
        platform.db,
        platform.deployments,
        platform.registry,
        platform.feedback,
        platform.predictions,
        clock=clock,
    )
    service: ReviewService = platform.review
    return service


@dataclass
class World:
    client: Client
    platform: Platform
    review: ReviewService
    clock: Clock
    version: ModelVersion
    logged: list[dict[str, Any]] = field(default_factory=list)

    def log(
        self,
        rows: list[tuple[str, float, str, float | None]],
        *,
        role: str = "primary",
        version: int = 1,
    ) -> None:
        """Log predictions ``(request id, time, prediction, score)``; ``score`` is the
        probability of ``violation``, the model's second class, as serving logs it."""
        records = [
            {
                "request_id": request_id,
                "time": moment,
                "endpoint": ENDPOINT,
                "project": "mod",
                "model": "violation",
                "version": version,
                "role": role,
                "deployment": 1,
                "inputs": {"num_char": 10.0 + n, "exclaim": n},
                "prediction": prediction,
                "score": score,
                "scores": None if score is None else {"ok": 1 - score, "violation": score},
                "latency_ms": 1.0,
            }
            for n, (request_id, moment, prediction, score) in enumerate(rows)
        ]
        self.platform.predictions.append_predictions(records)
        self.logged.extend(records)

    def configure(self, text: str, at: float = T0) -> None:
        self.clock.now = at
        self.review.configure(ENDPOINT, text, Actor(name="dee"))

    def route(self, now: float) -> Any:
        self.clock.now = now
        return self.review.route_endpoint(ENDPOINT, now)


def moderation_model() -> tuple[Any, Any]:
    """A logistic regression of classes ok and violation, and its training inputs."""
    import numpy as np
    import pandas as pd
    from sklearn.linear_model import LogisticRegression

    rng = np.random.default_rng(0)
    frame = pd.DataFrame(
        {"num_char": rng.gamma(2.0, 5.0, 200), "exclaim": rng.integers(0, 10, 200)}
    )
    label = np.where(frame["exclaim"] > 5, "violation", "ok")
    return LogisticRegression(max_iter=1000).fit(frame, label), frame


def make_world(settings: Settings) -> Iterator[World]:
    """mod/violation@1 (classes ok, violation) serving ``moderation``; a review service on a
    clock the test moves."""
    from opsloop.sdk.models import register_model

    client = Client(settings)
    app = client._transport.app  # type: ignore[attr-defined]
    try:
        model, frame = moderation_model()
        version = register_model(client, model, "mod/violation", input_example=frame.head())
        client.deploy(ENDPOINT, version.ref, force=True, reason="test")
        clock = Clock(T0)
        service = on_clock(app, clock)
        yield World(client, app.state.platform, service, clock, version)
    finally:
        client.close()
