"""Review: every endpoint's queue with its figures, and the reviewer's desk, one item at a time.

A page only reads. Claims, decisions and skips go to the REST API from review.js, which then
asks for the desk again (``/ui/review/{endpoint}/desk``: the block of the page that shows the
item this reviewer holds and what is left for them) and puts it in place.
"""

from __future__ import annotations

import time
from dataclasses import dataclass
from typing import TYPE_CHECKING, Annotated, Any

from fastapi import APIRouter, Depends, Request
from fastapi.responses import HTMLResponse

from opsloop.domain.auth import Role
from opsloop.domain.entities import Actor
from opsloop.domain.errors import Forbidden, InvalidInput
from opsloop.domain.names import check_name
from opsloop.domain.review import ReviewConfig, ReviewPolicy, ReviewStats
from opsloop.server.ui.pages._paging import last_page, page_number
from opsloop.server.ui.render import environment, render, timed
from opsloop.server.ui.viewer import Viewer, viewer_of

if TYPE_CHECKING:
    from opsloop.services.review import ReviewService

router = APIRouter(include_in_schema=False)
STATS_S = 7 * 86400.0  # the figures shown: the last 7 days (the backlog is always now's)
PAGE_SIZE = 50
STATUSES = ("open", "closed")
INPUTS_SHOWN = 80  # characters of an item's inputs in the list


@dataclass(frozen=True)
class Queue:
    """One endpoint's queue on the queues page."""

    policy: ReviewPolicy
    stats: ReviewStats
    remaining: int | None  # what this viewer could still take; None: they may not review


@router.get("/ui/review", response_class=HTMLResponse)
def queues(request: Request, viewer: Annotated[Viewer, Depends(viewer_of)]) -> HTMLResponse:
    started = time.perf_counter()
    review = request.app.state.platform.review
    reviewer = Actor(name=viewer.name)
    found = []
    for policy in review.policies():
        name = policy.endpoint
        may = viewer.can(Role.REVIEWER, name)
        found.append(
            Queue(
                policy,
                review.stats(name, last_s=STATS_S),
                review.remaining(name, reviewer) if may else None,
            )
        )
    return render(request, "review_queues.html", viewer, started, queues=found, **_helpers())


@router.get("/ui/review/{endpoint}", response_class=HTMLResponse)
def queue(
    request: Request,
    endpoint: str,
    viewer: Annotated[Viewer, Depends(viewer_of)],
    status: str = "open",
    page: str = "1",
) -> HTMLResponse:
    started = time.perf_counter()
    check_name(endpoint, "endpoint")
    if status not in STATUSES:
        raise InvalidInput(f"status must be open or closed, not {status!r}", field="status")
    number = page_number(page)
    review = request.app.state.platform.review
    policy = review.policy(endpoint)
    stats = review.stats(endpoint, last_s=STATS_S)
    listed = review.items(
        endpoint, status=status, limit=PAGE_SIZE + 1, offset=(number - 1) * PAGE_SIZE
    )
    if number > 1 and not listed:  # past the last page: counted only now, to name it
        last_page(number, review.count(endpoint, status=status), PAGE_SIZE)
    can_review = viewer.can(Role.REVIEWER, endpoint)
    desk = _desk(review, endpoint, viewer, policy.config) if can_review else {}
    return render(
        request,
        "review.html",
        viewer,
        started,
        endpoint=endpoint,
        policy=policy,
        stats=stats,
        items=listed[:PAGE_SIZE],
        status=status,
        page=number,
        first=(number - 1) * PAGE_SIZE + 1,
        more=len(listed) > PAGE_SIZE,
        can_review=can_review,
        now=review.clock(),
        **desk,
        **_helpers(),
    )


@router.get("/ui/review/{endpoint}/desk", response_class=HTMLResponse)
def desk(
    request: Request, endpoint: str, viewer: Annotated[Viewer, Depends(viewer_of)]
) -> HTMLResponse:
    """The desk alone, for the page's script after a claim, a decision or a skip."""
    started = time.perf_counter()
    check_name(endpoint, "endpoint")
    if not viewer.can(Role.REVIEWER, endpoint):
        raise Forbidden(f"{viewer.name} may not review items on {endpoint}: that needs reviewer")
    review = request.app.state.platform.review
    found = _desk(review, endpoint, viewer, review.policy(endpoint).config)
    template = environment().get_template("review.html")
    context = template.new_context({**found, **_helpers()})
    return timed("".join(template.blocks["desk"](context)), started)


def _desk(
    review: ReviewService, endpoint: str, viewer: Viewer, config: ReviewConfig
) -> dict[str, Any]:
    """The item this viewer holds (None: the script claims the next one when ``remaining``
    says there is one), how many they could still take, it included, and the policy."""
    reviewer = Actor(name=viewer.name)
    return {
        "held": review.held(endpoint, reviewer),
        "remaining": review.remaining(endpoint, reviewer),
        "config": config,
    }


def _helpers() -> dict[str, Any]:
    return {"why": why, "brief": brief}


def why(reason: str, config: ReviewConfig) -> str:
    """Why the policy routed an item, in words."""
    if reason == "uncertain" and config.uncertain is not None:
        band = config.uncertain
        return f"the model is unsure: its score lies in [{band.low:g}, {band.high:g}]"
    if reason == "sample":
        return f"a random {config.sample:.2%} sample, for quality control"
    if reason.startswith("rule:"):
        name = reason.removeprefix("rule:")
        for rule in config.rules:
            if rule.name == name:
                return f"rule {name}: " + ", ".join(_conditions(rule.model_dump()))
        return f"rule {name} (no longer in the policy)"
    return reason


def _conditions(rule: dict[str, Any]) -> list[str]:
    words = {
        "prediction": "prediction is",
        "score_above": "score above",
        "score_below": "score below",
    }
    return [f"{words[key]} {rule[key]}" for key in words if rule.get(key) is not None]


def brief(inputs: dict[str, Any]) -> str:
    """An item's inputs on one line, cut short."""
    text = ", ".join(f"{key}={value}" for key, value in inputs.items())
    return text if len(text) <= INPUTS_SHOWN else text[: INPUTS_SHOWN - 1] + "…"
