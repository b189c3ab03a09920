"""Routing predictions from the log to the review queue: what is picked, how urgent it is,
what the hourly cap keeps; the choosing alone, then passes over a real log and store
(SQLite and PostgreSQL)."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from opsloop.domain.entities import Actor
from opsloop.domain.errors import InvalidInput, NotFound
from opsloop.domain.review import ReviewConfig
from opsloop.domain.settings import Settings
from opsloop.services.review import routing
from opsloop.services.review.routing import Candidate, Match
from opsloop.services.review.service import OVERLAP_S, ROUTE_EVERY_S, SETTLE_S

from ._review_world import ENDPOINT, T0, World, make_world

BAND = "uncertain: {low: 0.35, high: 0.65}\n"


@pytest.fixture
def world(settings: Settings) -> Iterator[World]:
    yield from make_world(settings)


# -- choosing, without a store ----------------------------------------------------------------


def test_the_sample_is_chosen_by_request_id_and_holds_its_share() -> None:
    ids = [f"req-{n}" for n in range(20_000)]
    first = {one for one in ids if routing.sampled(one, 0.05)}
    again = {one for one in ids if routing.sampled(one, 0.05)}
    assert first == again  # the same predictions however often they are read
    assert 900 <= len(first) <= 1100  # 5% of 20,000, within about 3.3 standard deviations
    wider = {one for one in ids if routing.sampled(one, 0.2)}
    assert first < wider  # a larger share keeps everything a smaller one chose
    assert not any(routing.sampled(one, 0.0) for one in ids[:100])
    assert all(routing.sampled(one, 1.0) for one in ids[:100])


@pytest.mark.parametrize(
    ("prediction", "score", "reason"),
    [
        ("violation", 0.95, "rule:removal"),  # the rule first, though it is no band score
        ("violation", 0.6, "uncertain"),
        ("ok", 0.35, "uncertain"),  # the band includes its ends
        ("ok", 0.65, "uncertain"),
        ("ok", 0.66, None),
        ("ok", 0.1, None),
        ("ok", None, None),  # no score: no band, no score rule
        ("violation", float("nan"), None),
    ],
)
def test_a_rule_comes_before_the_band(prediction: str, score: float | None, reason: str) -> None:
    config = ReviewConfig.parse(
        BAND + "rules:\n  - {name: removal, prediction: violation, score_above: 0.9}\n"
    )
    found = routing.match(config, "some-id", prediction, score)
    assert (found and found.reason) == reason
    if found is not None:
        assert found.sampled is False


def test_a_sampled_prediction_is_marked_whatever_else_routes_it() -> None:
    config = ReviewConfig.parse(BAND + "sample: 1\n")
    assert routing.match(config, "a", "ok", 0.5) == Match("uncertain", True)
    assert routing.match(config, "a", "ok", 0.9) == Match("sample", True)
    assert routing.reviews_needed(config, Match("sample", True)) == 2
    single = ReviewConfig.parse("sample: 1\ndouble_review: false\n")
    assert routing.reviews_needed(single, Match("sample", True)) == 1
    assert routing.reviews_needed(config, Match("uncertain", False)) == 1


@pytest.mark.parametrize(
    ("prediction", "score", "classes", "chance"),
    [
        ("violation", 0.8, ["ok", "violation"], 0.2),  # score: the second class's probability
        ("ok", 0.3, ["ok", "violation"], 0.3),  # ok won with 0.7
        (1, 0.9, [0, 1], 0.1),
        (0, 0.9, [0, 1], 0.9),  # a prediction against its own score (a custom threshold)
        ("b", 0.5, ["a", "b", "c"], 0.5),  # more classes: score is the winner's
        ("ok", None, ["ok", "violation"], None),
    ],
)
def test_the_chance_of_an_error_reads_the_score_as_serving_logs_it(
    prediction: object, score: float | None, classes: list[object], chance: float | None
) -> None:
    found = routing.error_chance(prediction, score, classes)
    assert found == (None if chance is None else pytest.approx(chance))


@pytest.mark.parametrize(
    ("costs", "prediction", "score", "expected"),
    [
        ("", "violation", 0.7, 0.3),  # no costs: the chance alone
        ("costs: {false_positive: 1, false_negative: 5}\n", "violation", 0.7, 0.3),
        ("costs: {false_positive: 1, false_negative: 5}\n", "ok", 0.3, 1.5),
        ("costs: {false_positive: 2, false_negative: 5, positive: ok}\n", "ok", 0.3, 0.6),
        ("costs: {false_positive: 2, false_negative: 5, positive: ok}\n", "violation", 0.7, 1.5),
        ("costs: {false_negative: 5}\n", "ok", None, 2.5),  # no score: a coin toss
    ],
)
def test_priority_is_the_expected_cost_of_an_error(
    costs: str, prediction: str, score: float | None, expected: float
) -> None:
    config = ReviewConfig.parse(BAND + costs)
    found = routing.priority(config, prediction, score, ["ok", "violation"])
    assert found == pytest.approx(expected)


def test_costs_need_two_classes_holding_the_positive_one() -> None:
    config = ReviewConfig.parse(BAND + "costs: {false_negative: 5, positive: spam}\n")
    assert routing.priority(config, "ok", 0.3, ["ok", "violation"]) == pytest.approx(0.3)
    assert routing.priority(config, "b", 0.6, ["a", "b", "c"]) == pytest.approx(0.4)


def test_the_cap_keeps_the_most_urgent_of_each_hour_counting_stored_items() -> None:
    hour = 3600.0 * 100
    made = [
        Candidate(f"r{n}", hour + n, priority, Match("uncertain", False))
        for n, priority in enumerate([0.1, 0.4, 0.3, 0.4, 0.2])
    ]
    later = Candidate("next-hour", hour + 3600, 0.05, Match("uncertain", False))
    kept, left = routing.within_cap([*made, later], 3, {100: 1})
    assert [c.request_id for c in kept] == ["r1", "r3", "next-hour"]  # ties: older first
    assert [c.request_id for c in left] == ["r2", "r4", "r0"]
    everything, none = routing.within_cap(made, None, {})
    assert len(everything) == 5 and none == []


@pytest.mark.parametrize(
    ("labels", "expected"),
    [
        (["ok"], (True, "ok")),
        (["ok", "ok"], (True, "ok")),
        (["ok", "violation"], (False, None)),
        (["ok", "violation", "violation"], (True, "violation")),
        ([1, "1", 0], (True, 1)),  # one label however it is written; the first form kept
        (["a", "b", "c"], (False, None)),
    ],
)
def test_a_majority_needs_more_votes_than_any_other_label(
    labels: list[object], expected: tuple[bool, object]
) -> None:
    assert routing.majority(labels) == expected


# -- passes over the log ----------------------------------------------------------------------


def test_the_band_routes_served_predictions_logged_since_the_policy(world: World) -> None:
    world.log([("old", T0 - 100, "ok", 0.5)])  # before the policy: history, never routed
    world.configure(BAND)
    world.log(
        [
            ("low", T0 + 10, "ok", 0.1),
            ("edge-low", T0 + 11, "ok", 0.35),
            ("middle", T0 + 12, "violation", 0.5),
            ("edge-high", T0 + 13, "violation", 0.65),
            ("high", T0 + 14, "violation", 0.66),
            ("settling", T0 + 59, "ok", 0.5),  # younger than SETTLE_S at the pass
        ]
    )
    world.log([("middle", T0 + 12.5, "violation", 0.5)])  # a retried write: one item
    world.log([("shadowed", T0 + 15, "ok", 0.5)], role="shadow")
    world.log([("canaried", T0 + 16, "ok", 0.5)], role="canary", version=1)
    done = world.route(T0 + 60)
    items = world.review.items(ENDPOINT)
    assert sorted(item.request_id for item in items) == [
        "canaried",
        "edge-high",
        "edge-low",
        "middle",
    ]
    assert done.routed == 4 and done.by_reason == {"uncertain": 4} and done.capped == 0
    assert done.routed_until is not None and done.routed_until.timestamp() == T0 + 60 - SETTLE_S
    middle = next(item for item in items if item.request_id == "middle")
    assert middle.inputs == {"num_char": 12.0, "exclaim": 2}  # copied from the log
    assert (middle.model, middle.version, middle.prediction, middle.score) == (
        "violation",
        1,
        "violation",
        0.5,
    )
    assert middle.predicted_at.timestamp() == T0 + 12
    assert middle.created_at.timestamp() == T0 + 60
    assert middle.status == "open" and middle.reviews_needed == 1
    assert middle.priority == pytest.approx(0.5)

    again = world.route(T0 + 120)  # reads the overlap again: nothing twice
    assert again.routed == 1  # only "settling", now settled
    assert again.read_from is not None
    assert again.read_from.timestamp() == T0 + 60 - SETTLE_S - OVERLAP_S
    assert len(world.review.items(ENDPOINT)) == 5


def test_a_late_write_in_the_overlap_is_routed_once(world: World) -> None:
    world.configure(BAND)
    world.log([("on-time", T0 + 40, "ok", 0.5)])
    assert world.route(T0 + 60).routed == 1
    # Scored at T0 + 50 but written after the pass read up to T0 + 58; the next pass reads
    # from T0 + 28 again, "on-time" included.
    world.log([("late", T0 + 50, "ok", 0.5)])
    assert world.route(T0 + 90).routed == 1
    assert world.route(T0 + 95).routed == 0
    assert sorted(i.request_id for i in world.review.items(ENDPOINT)) == ["late", "on-time"]


def test_rules_route_whatever_the_band_says_and_name_the_rule(world: World) -> None:
    world.configure(
        BAND
        + "rules:\n  - {name: removal, prediction: violation, score_above: 0.9}\n"
        + "  - {name: confident-ok, prediction: ok, score_below: 0.05}\n"
    )
    world.log(
        [
            ("remove", T0 + 1, "violation", 0.95),
            ("keep", T0 + 2, "ok", 0.02),
            ("unsure", T0 + 3, "ok", 0.4),
            ("plain", T0 + 4, "ok", 0.2),
        ]
    )
    done = world.route(T0 + 60)
    reasons = {item.request_id: item.reason for item in world.review.items(ENDPOINT)}
    assert reasons == {"remove": "rule:removal", "keep": "rule:confident-ok", "unsure": "uncertain"}
    assert done.by_reason == {"rule:removal": 1, "rule:confident-ok": 1, "uncertain": 1}
    [event] = world.client.events(subject=f"endpoint:{ENDPOINT}", kind="review.routed")
    assert event.data["by_reason"] == done.by_reason and event.data["routed"] == 3
    assert (event.actor, event.actor_kind) == ("review", "system")


def test_the_sample_routes_the_same_predictions_with_two_reviewers(world: World) -> None:
    world.configure("sample: 0.3\n")
    ids = [f"post-{n}" for n in range(200)]
    world.log([(one, T0 + 1 + n * 0.1, "ok", 0.1) for n, one in enumerate(ids)])
    world.route(T0 + 60)
    routed = {item.request_id for item in world.review.items(ENDPOINT, limit=1000)}
    assert routed == {one for one in ids if routing.sampled(one, 0.3)}
    assert 35 <= len(routed) <= 85  # 30% of 200, within 3.5 standard deviations
    items = world.review.items(ENDPOINT, limit=1000)
    assert {(item.reason, item.reviews_needed) for item in items} == {("sample", 2)}


def test_the_cap_keeps_the_most_urgent_of_each_hour_and_counts_the_rest(world: World) -> None:
    world.configure(BAND + "cap_per_hour: 2\n")
    world.log(
        [
            ("a", T0 + 40, "ok", 0.40),  # chance of error 0.40
            ("b", T0 + 41, "ok", 0.49),  # 0.49
            ("c", T0 + 42, "violation", 0.55),  # 0.45
        ]
    )
    first = world.route(T0 + 60)
    assert sorted(i.request_id for i in world.review.items(ENDPOINT)) == ["b", "c"]
    assert (first.routed, first.capped) == (2, 1)
    # The hour holds two items already: the most urgent prediction yet is left out too; "a",
    # read again in the overlap, is not counted twice.
    world.log([("e", T0 + 100, "ok", 0.5)])
    second = world.route(T0 + 200)
    assert (second.routed, second.capped) == (0, 1)
    world.log([("d", T0 + 3600 + 10, "ok", 0.36)])  # the next hour has a cap of its own
    assert world.route(T0 + 3700).routed == 1
    events = world.client.events(subject=f"endpoint:{ENDPOINT}", kind="review.routed")
    assert [(e.data["routed"], e.data["capped"]) for e in events] == [(2, 1), (0, 1), (1, 0)]
    assert world.review.stats(ENDPOINT).capped == 2


def test_open_items_wait_in_order_of_expected_cost_then_age(world: World) -> None:
    world.configure(
        "uncertain: {low: 0.2, high: 0.8}\n"
        "costs: {false_positive: 1, false_negative: 5, positive: violation}\n"
    )
    world.log(
        [
            ("fp-risk", T0 + 1, "violation", 0.6),  # 0.4 x 1
            ("fn-risk", T0 + 2, "ok", 0.4),  # 0.4 x 5
            ("fn-small", T0 + 3, "ok", 0.21),  # 0.21 x 5
            ("fn-small-later", T0 + 4, "ok", 0.21),
        ]
    )
    world.route(T0 + 60)
    queue = world.review.items(ENDPOINT, status="open")
    assert [item.request_id for item in queue] == [
        "fn-risk",
        "fn-small",
        "fn-small-later",
        "fp-risk",
    ]
    assert [round(item.priority, 4) for item in queue] == [2.0, 1.05, 1.05, 0.4]


def test_the_scheduler_routes_each_policy_once_enough_log_has_gathered(world: World) -> None:
    world.configure(BAND)
    world.log([("a", T0 + 5, "ok", 0.5)])
    assert world.review.route(T0 + SETTLE_S + ROUTE_EVERY_S - 1) == {}
    done = world.review.route(T0 + SETTLE_S + ROUTE_EVERY_S + 1)
    assert done[ENDPOINT].routed == 1
    assert world.review.route(T0 + SETTLE_S + ROUTE_EVERY_S + 2) == {}


def test_a_pass_reads_at_most_a_day_and_the_next_goes_on(world: World) -> None:
    world.configure(BAND)
    world.log([("day-one", T0 + 100, "ok", 0.5), ("day-two", T0 + 86_400 + 100, "ok", 0.5)])
    first = world.route(T0 + 3 * 86_400)
    assert first.routed == 1
    assert first.routed_until is not None and first.routed_until.timestamp() == T0 + 86_400
    assert world.route(T0 + 3 * 86_400).routed == 1


def test_a_policy_is_set_read_and_refused_naming_the_key(world: World) -> None:
    world.configure(BAND)
    found = world.review.policy(ENDPOINT)
    assert found.config.uncertain is not None and found.config.uncertain.low == 0.35
    assert found.updated_by == "dee" and found.routed_until is None
    world.route(T0 + 60)
    world.configure("sample: 0.1\n", at=T0 + 70)
    again = world.review.policy(ENDPOINT)
    assert again.config.sample == 0.1 and again.created_at.timestamp() == T0
    assert again.routed_until is not None  # progress kept
    with pytest.raises(InvalidInput, match=r"policy key 'costs.positive' \(line 2\): 'spam'"):
        world.review.configure(ENDPOINT, BAND + "costs: {positive: spam}\n", Actor(name="dee"))
    with pytest.raises(NotFound, match="endpoint 'nowhere' not found"):
        world.review.configure("nowhere", BAND, Actor(name="dee"))
    events = world.client.events(subject=f"endpoint:{ENDPOINT}", kind="review.configured")
    assert [(e.data["created"], e.data["sample"]) for e in events] == [(True, 0.0), (False, 0.1)]


def test_no_policy_is_not_found_naming_the_policy(world: World) -> None:
    with pytest.raises(NotFound, match="has no review policy") as caught:
        world.review.route_endpoint(ENDPOINT, T0)
    assert caught.value.field == "policy"
