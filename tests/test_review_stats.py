"""Review figures checked against values worked out by hand from a small, timed story."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime

import numpy as np
import pytest

from opsloop.domain.entities import Actor
from opsloop.domain.errors import InvalidInput
from opsloop.domain.review import ReviewItem
from opsloop.domain.settings import Settings
from opsloop.services.review import figures

from ._review_world import ENDPOINT, RITA, SAM, T0, TOM, World, make_world


@pytest.fixture
def world(settings: Settings) -> Iterator[World]:
    yield from make_world(settings)


def claimed(world: World, who: Actor, at: float) -> ReviewItem:
    world.clock.now = at
    found = world.review.claim(ENDPOINT, who)
    assert found is not None
    return found


def decided(world: World, who: Actor, at: float, label: str) -> None:
    found = claimed(world, who, at)  # the claim held since it was taken
    world.clock.now = at
    world.review.decide(ENDPOINT, found.id, who, label)


def test_figures_of_a_timed_story(world: World) -> None:
    world.configure("uncertain: {low: 0.3, high: 0.7}\n")
    world.log(
        [
            ("r1", T0 + 10, "violation", 0.62),  # chance of error 0.38
            ("r2", T0 + 11, "ok", 0.42),  # 0.42
            ("r3", T0 + 12, "violation", 0.55),  # 0.45
            ("r4", T0 + 13, "ok", 0.49),  # 0.49: first in the queue
            ("r5", T0 + 14, "ok", 0.1),  # not routed; a user labels it: a missed error
            ("r6", T0 + 15, "violation", 0.9),  # not routed; a user confirms it
        ]
    )
    world.route(T0 + 60)  # four items, created at T0 + 60
    item = claimed(world, RITA, T0 + 100)
    assert item.request_id == "r4"
    world.clock.now = T0 + 130
    world.review.decide(ENDPOINT, item.id, RITA, "violation")  # the model erred: caught
    item = claimed(world, RITA, T0 + 200)
    world.clock.now = T0 + 260
    world.review.decide(ENDPOINT, item.id, RITA, "violation")  # r3: agrees
    item = claimed(world, SAM, T0 + 300)
    world.clock.now = T0 + 310
    world.review.decide(ENDPOINT, item.id, SAM, "ok")  # r2: agrees; r1 stays open
    world.platform.feedback.record(
        ENDPOINT,
        [{"id": "r5", "label": "violation"}, {"id": "r6", "label": "violation"}],
        Actor(name="user"),
    )
    world.clock.now = T0 + 400
    stats = world.review.stats(ENDPOINT)

    assert (stats.since.timestamp(), stats.until.timestamp()) == (T0, T0 + 400)
    assert stats.backlog == 1
    assert stats.oldest_open_age_s == 340.0  # r1, routed at T0 + 60
    assert (stats.routed, stats.by_reason, stats.capped) == (4, {"uncertain": 4}, 0)
    assert stats.closed == 3
    # Time to decision: 70, 200, 250 s. Median 200; p90 at position 1.8: 200 + 0.8 * 50.
    assert stats.time_to_decision_s is not None
    assert (stats.time_to_decision_s.median, stats.time_to_decision_s.count) == (200.0, 3)
    assert stats.time_to_decision_s.p90 == pytest.approx(240.0)
    # Handling: 30, 60, 10 s. Median 30; p90: 30 + 0.8 * 30.
    assert stats.handling_time_s is not None
    assert stats.handling_time_s.median == 30.0
    assert stats.handling_time_s.p90 == pytest.approx(54.0)
    assert stats.model_agreement == pytest.approx(2 / 3)  # r4 was wrong
    assert (stats.double_reviewed, stats.reviewer_agreement) == (0, None)
    # Errors known from any label: r4 (by review) and r5 (by a user); r6 was right.
    assert (stats.errors_known, stats.errors_caught) == (2, 1)
    assert stats.errors_caught_share == 0.5
    assert stats.decided_today == {"rita": 2, "sam": 1}

    later = world.review.stats(ENDPOINT, since=datetime.fromtimestamp(T0 + 250, UTC))
    assert later.closed == 2 and later.routed == 0  # r3 and r2 closed since; none routed
    assert later.backlog == 1  # the backlog is now, whatever the period
    assert later.decided_today == {"rita": 2, "sam": 1}  # today is today's
    for since in (T0 + 500, -5.0):
        with pytest.raises(InvalidInput) as caught:
            world.review.stats(ENDPOINT, since=since)
        assert caught.value.field == "since"


def test_reviewer_agreement_counts_the_first_two_decisions(world: World) -> None:
    world.configure("sample: 1\n")
    world.log([("a", T0 + 1, "ok", 0.5), ("b", T0 + 2, "ok", 0.4), ("c", T0 + 3, "ok", 0.1)])
    world.route(T0 + 60)
    decided(world, RITA, T0 + 100, "ok")  # a
    decided(world, SAM, T0 + 110, "ok")  # a: agree, closed
    decided(world, RITA, T0 + 120, "ok")  # b
    decided(world, SAM, T0 + 130, "violation")  # b: disagree, needs a third
    decided(world, TOM, T0 + 140, "violation")  # b closes as violation
    decided(world, RITA, T0 + 150, "ok")  # c: one decision so far
    world.clock.now = T0 + 200
    stats = world.review.stats(ENDPOINT)
    assert (stats.double_reviewed, stats.reviewer_agreement) == (2, 0.5)
    assert stats.closed == 2 and stats.backlog == 1
    assert stats.model_agreement == 0.5  # a as predicted, b not
    assert stats.decided_today == {"rita": 3, "sam": 2, "tom": 1}


def test_a_new_day_starts_the_daily_counts_again(world: World) -> None:
    world.configure("uncertain: {low: 0, high: 1}\n")
    world.log([("a", T0 + 1, "ok", 0.5), ("b", T0 + 2, "ok", 0.4)])
    world.route(T0 + 60)
    decided(world, RITA, T0 + 86_399, "ok")
    decided(world, RITA, T0 + 86_400, "ok")
    world.clock.now = T0 + 86_500
    assert world.review.stats(ENDPOINT).decided_today == {"rita": 1}


@pytest.mark.parametrize("size", [1, 2, 5, 10, 11])
def test_quantiles_match_numpy(size: int) -> None:
    values = sorted(np.random.default_rng(size).uniform(0, 100, size).tolist())
    for q in (0.0, 0.5, 0.9, 1.0):
        assert figures.quantile(values, q) == pytest.approx(float(np.quantile(values, q)))
    assert figures.spread([]) is None


def test_stats_over_the_last_seconds_leave_older_decisions_out(world: World) -> None:
    world.configure("uncertain: {low: 0.3, high: 0.7}\n")
    world.log([("r1", T0 + 10, "ok", 0.45), ("r2", T0 + 11, "ok", 0.5)])
    world.route(T0 + 60)
    decided(world, RITA, T0 + 100, "ok")  # an old decision
    decided(world, SAM, T0 + 5_000, "violation")  # a recent one
    world.clock.now = T0 + 6_000
    whole = world.review.stats(ENDPOINT)
    recent = world.review.stats(ENDPOINT, last_s=2_000)
    assert (whole.since.timestamp(), whole.closed) == (T0, 2)
    assert (recent.since.timestamp(), recent.closed) == (T0 + 4_000, 1)
    assert recent.backlog == whole.backlog == 0  # the backlog is now's either way
    # A period longer than the policy's life starts when the policy was set.
    assert world.review.stats(ENDPOINT, last_s=10**6).since.timestamp() == T0
