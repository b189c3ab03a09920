"""The review queue wired into an app the way the platform, the app factory, the access table
and the CLI will wire it, plus the store the other review tests share.

Until those lines are in (``Platform.review``, ``review.router`` in ``create_app``, the
reviewer routes in ``access.needed_role``, ``opsloop review`` in ``cli/main.py``), ``wire``
adds them to a test's app; once they are in, it finds them there and adds nothing.
``python -m tests.test_review_wiring ARGS`` is the ``opsloop`` command so wired.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any

import pytest
from fastapi import Depends, FastAPI

from opsloop.domain.auth import Role
from opsloop.domain.entities import Actor, ModelVersion
from opsloop.domain.settings import Settings
from opsloop.sdk.client import Client
from opsloop.server import access
from opsloop.server.access import API_PREFIX, authorize
from opsloop.server.routes import review as review_routes
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


def wire(app: FastAPI, clock: Clock | None = None) -> ReviewService:
    """The app's platform with a review service (on ``clock`` if given) and its routes."""
    platform = app.state.platform
    if clock is not None or getattr(platform, "review", None) is None:
        platform.review = ReviewService(
            platform.db,
            platform.deployments,
            platform.registry,
            platform.feedback,
            platform.predictions,
            **({} if clock is None else {"clock": clock}),
        )
    if not any(
        getattr(route, "original_router", None) is review_routes.router  # an included router
        or getattr(route, "endpoint", None) is review_routes.set_policy
        for route in app.routes
    ):
        app.include_router(
            review_routes.router, prefix=API_PREFIX, dependencies=[Depends(authorize)]
        )
    service: ReviewService = platform.review
    return service


def allow_reviewer_routes(monkeypatch: pytest.MonkeyPatch) -> None:
    """The access table letting reviewers claim, decide and skip (the snippet for
    ``access.needed_role``), where it does not yet."""
    if access.needed_role("POST", API_PREFIX + review_routes.REVIEWER_ROUTES[0]) is Role.REVIEWER:
        return
    original = access.needed_role

    def needed_role(method: str, path: str) -> Role:
        if path.removeprefix(API_PREFIX) in review_routes.REVIEWER_ROUTES:
            return Role.REVIEWER
        return original(method, path)

    monkeypatch.setattr(access, "needed_role", needed_role)


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
    # Imported here: ``python -m tests.test_review_wiring`` (the CLI) should start quickly.
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
        service = wire(app, clock)
        yield World(client, app.state.platform, service, clock, version)
    finally:
        client.close()


# -- the wiring itself ----------------------------------------------------------------------

ROUTES = {
    ("PUT", "/endpoints/{name}/review/policy"): Role.DEPLOYER,
    ("GET", "/endpoints/{name}/review/policy"): Role.VIEWER,
    ("GET", "/endpoints/{name}/review/items"): Role.VIEWER,
    ("GET", "/endpoints/{name}/review/items/{item_id}"): Role.VIEWER,
    ("POST", "/endpoints/{name}/review/claim"): Role.REVIEWER,
    ("POST", "/endpoints/{name}/review/items/{item_id}/decision"): Role.REVIEWER,
    ("POST", "/endpoints/{name}/review/items/{item_id}/skip"): Role.REVIEWER,
    ("GET", "/endpoints/{name}/review/stats"): Role.VIEWER,
    ("POST", "/endpoints/{name}/review/route"): Role.DEPLOYER,
}


def test_every_review_route_is_served_with_its_role(
    sqlite_settings: Settings, monkeypatch: pytest.MonkeyPatch
) -> None:
    from opsloop.server.app import create_app

    allow_reviewer_routes(monkeypatch)
    app = create_app(sqlite_settings)
    try:
        wire(app)
        wire(app)  # a second time adds nothing
        paths = app.openapi()["paths"]
        served = {
            (method.upper(), path.removeprefix(API_PREFIX))
            for path, item in paths.items()
            if "/review/" in path
            for method in item
        }
        assert served == set(ROUTES)
        for (method, path), role in ROUTES.items():
            assert access.needed_role(method, API_PREFIX + path) is role, (method, path)
    finally:
        app.state.platform.close()


def main() -> None:
    """``opsloop`` with the review queue wired in (see the module's docstring)."""
    import opsloop.server.app as server_app
    from opsloop.cli import main as cli_main
    from opsloop.cli import review as review_cli

    made = server_app.create_app

    def create_app(*args: Any, **kwargs: Any) -> FastAPI:
        app = made(*args, **kwargs)
        wire(app)
        return app

    server_app.create_app = create_app  # type: ignore[assignment]
    if "review" not in {group.name for group in cli_main.app.registered_groups}:
        cli_main.app.add_typer(review_cli.app, name="review")
    cli_main.run()


if __name__ == "__main__":
    main()
