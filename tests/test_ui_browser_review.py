"""The review pages in a real browser (Debian's Chromium under Playwright) against a real
``opsloop server``: a reviewer decides items with the keyboard alone and the decisions are
Feedback; a lapsed claim is said on the page; a viewer reads the queue without controls."""

from __future__ import annotations

import json
import time
from collections.abc import Iterator
from typing import Any

import httpx
import pytest

from opsloop.domain.entities import Actor
from opsloop.domain.settings import Settings
from opsloop.sdk.client import Client
from opsloop.sdk.models import register_model
from opsloop.services.platform import Platform

from ._review_world import Clock, moderation_model, on_clock
from ._ui_browser import Site, log_in, pytestmark, served, shot, visit

__all__ = ["pytestmark"]

# Six predictions in the band (routed) and two sure ones (not routed) on ``moderation``.
SCORES = [0.3, 0.4, 0.45, 0.55, 0.6, 0.65, 0.02, 0.97]
BAND = "uncertain: {low: 0.2, high: 0.8}\n"


def log_predictions(platform: Platform, endpoint: str, start: float, scores: list[float]) -> None:
    """Predictions of mod/violation@1 as serving logs them; ``score`` is violation's chance."""
    platform.predictions.append_predictions(
        [
            {
                "request_id": f"{endpoint}-{n}",
                "time": start + 1 + n,
                "endpoint": endpoint,
                "project": "mod",
                "model": "violation",
                "version": 1,
                "role": "primary",
                "deployment": 1,
                "inputs": {"num_char": 40.0 + n, "exclaim": n},
                "prediction": "violation" if score >= 0.5 else "ok",
                "score": score,
                "scores": {"ok": 1 - score, "violation": score},
                "latency_ms": 1.0,
            }
            for n, score in enumerate(scores)
        ]
    )


@pytest.fixture(scope="module")
def site(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Site]:
    """``moderation`` with six items to review (claims last 10 minutes) and ``quick`` with one
    (claims last one second); a token per role."""
    root = tmp_path_factory.mktemp("ui-review")
    home = root / "home"
    client = Client(Settings.load(environ={}, home=home, actor="seeder"))
    try:
        model, frame = moderation_model()
        version = register_model(client, model, "mod/violation", input_example=frame.head())
        app = client._transport.app  # type: ignore[attr-defined]
        start = time.time() - 3600
        clock = Clock(start)
        review = on_clock(app, clock)
        for endpoint, ttl, scores in (("moderation", "10m", SCORES), ("quick", "1s", [0.5])):
            client.deploy(endpoint, version.ref, force=True, reason="review test")
            clock.now = start
            review.configure(endpoint, BAND + f"claim_ttl: {ttl}\n", Actor(name="dee"))
            log_predictions(app.state.platform, endpoint, start, scores)
            clock.now = time.time()
            review.route_endpoint(endpoint)
    finally:
        client.close()
    with served(home, root / "server.log") as running:
        yield running


def feedback(site: Site, endpoint: str) -> dict[str, tuple[Any, Any]]:
    """Each prediction's latest label and its source, as the API exports them."""
    answer = httpx.get(
        f"{site.url}/api/v1/endpoints/{endpoint}/predictions",
        params={"format": "jsonl", "inputs": "false"},
        headers={"Authorization": f"Bearer {site.secrets['viewer']}"},
    )
    answer.raise_for_status()
    rows = [json.loads(line) for line in answer.text.splitlines() if line]
    return {row["request_id"]: (row["label"], row["label_source"]) for row in rows}


def showing(page: Any) -> tuple[str, int]:
    """The request id of the item on the desk and the count left for this reviewer."""
    page.wait_for_selector("#review-item")
    request_id = page.get_attribute("#review-item", "data-request")
    return request_id, int(page.get_attribute("#review-left", "data-remaining"))


def choice(page: Any, place: int) -> Any:
    return json.loads(page.get_attribute(f"button.choice >> nth={place - 1}", "data-label"))


def moved_on(page: Any, request_id: str) -> None:
    """Wait until the desk shows another item than ``request_id`` (or none)."""
    page.wait_for_function(
        """(gone) => { const item = document.getElementById('review-item');
                       return !item || item.dataset.request !== gone; }""",
        arg=request_id,
    )


def test_a_reviewer_decides_three_items_with_the_keyboard(page: Any, site: Site) -> None:
    log_in(page, site, "reviewer", "/ui/review/moderation")
    first, left = showing(page)  # the page's script claimed the most urgent item
    assert left == 6
    assert "the model is unsure" in page.inner_text("#review-reason")
    shot(page, "review")
    decided: dict[str, Any] = {}

    page.keyboard.press("1")
    assert page.get_attribute("button.choice >> nth=0", "aria-pressed") == "true"
    decided[first] = choice(page, 1)
    page.keyboard.press("Enter")
    moved_on(page, first)

    second, left = showing(page)
    assert left == 5  # the counter went down
    page.keyboard.press("2")
    page.keyboard.press("n")  # into the note: the keys below are its letters, not commands
    page.keyboard.type("scam links: 1 d s 2")
    page.keyboard.press("Enter")  # a key of the note too: it does not decide
    assert page.input_value("#review-note") == "scam links: 1 d s 2"
    page.wait_for_timeout(300)  # time enough for a decision to have shown the next item
    assert page.get_attribute("#review-item", "data-request") == second  # nothing was decided
    page.keyboard.press("Escape")
    decided[second] = choice(page, 2)
    page.keyboard.press("d")
    moved_on(page, second)

    third, left = showing(page)
    assert left == 4
    page.keyboard.press("?")
    assert page.is_visible("#review-keys")
    page.keyboard.press("1")  # the keys are shown: nothing is picked
    assert page.get_attribute("button.choice >> nth=0", "aria-pressed") == "false"
    page.keyboard.press("?")
    assert not page.is_visible("#review-keys")
    page.keyboard.press("Enter")  # nothing picked yet: the page says so
    assert "Pick a label first" in page.inner_text("#review-problem")
    page.keyboard.press("2")
    page.keyboard.press("1")
    decided[third] = choice(page, 1)
    page.keyboard.press("Enter")
    moved_on(page, third)
    assert f"(request {third}): {decided[third]}" in page.inner_text("#review-done")

    fourth, left = showing(page)
    assert left == 3
    page.keyboard.press("s")  # skipped: not a decision
    moved_on(page, fourth)
    assert showing(page)[1] == 2
    assert "skipped" in page.inner_text("#review-done")
    assert site.problems == []

    labels = feedback(site, "moderation")
    assert {rid: labels[rid] for rid in decided} == {
        rid: (label, "reviewer") for rid, label in decided.items()
    }
    assert labels[fourth] == (None, None)
    items = site.get("/api/v1/endpoints/moderation/review/items?status=closed")
    by_request = {item["request_id"]: item for item in items}
    assert set(by_request) == set(decided)
    note = site.get(f"/api/v1/endpoints/moderation/review/items/{by_request[second]['id']}")
    assert note["decisions"][0]["reviewer"] == "reviewer-1"
    assert note["decisions"][0]["note"] == "scam links: 1 d s 2"


def test_a_lapsed_claim_is_said_on_the_page_and_the_queue_ends(page: Any, site: Site) -> None:
    log_in(page, site, "reviewer", "/ui/review/quick")
    held, left = showing(page)
    assert left == 1
    time.sleep(1.5)  # the claim lasts one second
    page.keyboard.press("1")
    page.keyboard.press("Enter")
    page.wait_for_selector("#review-problem:not([hidden])")
    assert "lapsed" in page.inner_text("#review-problem")
    page.wait_for_selector("#review-next")  # the desk shows the way to claim again
    shot(page, "review-lapsed")
    page.keyboard.press("Enter")
    assert showing(page)[0] == held  # claimed again
    page.keyboard.press("s")
    page.wait_for_selector("#review-empty")
    assert "Nothing left" in page.inner_text("#review-empty")
    assert int(page.get_attribute("#review-left", "data-remaining")) == 0
    # The refused decision is a failed request in the console; nothing was thrown.
    assert site.problems and all("409" in problem for problem in site.problems), site.problems


def test_a_viewer_reads_the_queue_without_controls(page: Any, site: Site) -> None:
    log_in(page, site, "viewer", "/ui/review/moderation")
    shot(page, "review-viewer")
    assert page.is_visible("#read-only")
    assert page.locator("#review, button.choice, #review-note").count() == 0
    assert page.locator("#items tbody tr").count() >= 1
    assert site.problems == []


def test_the_queues_page_leads_to_each_queue(page: Any, site: Site) -> None:
    log_in(page, site, "reviewer", "/ui/review")
    visit(page, site, "/ui/review", "review-queues")
    assert page.locator("#queues tbody tr").count() == 2
    for endpoint in ("moderation", "quick"):
        stats = site.get(f"/api/v1/endpoints/{endpoint}/review/stats")
        row = f"#queues tr[data-endpoint={endpoint}]"
        assert page.inner_text(f"{row} [data-figure=backlog]") == str(stats["backlog"])
    page.click("#queues tr[data-endpoint=moderation] a.button")
    page.wait_for_url(f"{site.url}/ui/review/moderation")
    showing(page)
    assert site.problems == []
