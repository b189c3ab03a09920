"""The queue: claims that lapse, reviewers who never share an item, decisions that become
Feedback, double review, skipping; on SQLite and PostgreSQL."""

from __future__ import annotations

import threading
from collections.abc import Iterator

import pytest

from opsloop.domain.entities import Actor
from opsloop.domain.errors import Conflict, InvalidInput, NotFound
from opsloop.domain.settings import Settings
from opsloop.services.review._checks import as_choice

from ._review_world import ENDPOINT, RITA, SAM, T0, TOM, World, make_world

BAND = "uncertain: {low: 0.2, high: 0.8}\nclaim_ttl: 60s\n"
DOUBLE = "sample: 1\nclaim_ttl: 60s\n"


@pytest.fixture
def world(settings: Settings) -> Iterator[World]:
    yield from make_world(settings)


def routed(world: World, policy: str, rows: list[tuple[str, float, str, float]]) -> None:
    """``rows`` logged after ``policy`` was set at T0, routed at T0 + 60."""
    world.configure(policy)
    world.log(rows)
    assert world.route(T0 + 60).routed == len(rows)


# Chances of error 0.5, 0.4, 0.3: claimed in that order.
THREE = [("first", T0 + 1, "ok", 0.5), ("second", T0 + 2, "ok", 0.4), ("third", T0 + 3, "ok", 0.3)]


def test_claims_go_most_urgent_first_and_a_holder_gets_theirs_back(world: World) -> None:
    routed(world, BAND, THREE)
    world.clock.now = T0 + 100
    mine = world.review.claim(ENDPOINT, RITA)
    assert mine is not None and mine.request_id == "first"
    assert mine.claimed_by == "rita"
    assert mine.claimed_at is not None and mine.claimed_at.timestamp() == T0 + 100
    assert mine.claim_expires_at is not None and mine.claim_expires_at.timestamp() == T0 + 160
    assert mine.choices == ["ok", "violation"]  # the model version's classes
    again = world.review.claim(ENDPOINT, RITA)
    assert again is not None and again.id == mine.id
    other = world.review.claim(ENDPOINT, SAM)
    assert other is not None and other.request_id == "second"
    assert world.review.remaining(ENDPOINT, RITA) == 2  # hers and the free one
    assert world.review.remaining(ENDPOINT, TOM) == 1


def test_an_abandoned_claim_lapses_and_the_item_returns_to_the_queue(world: World) -> None:
    routed(world, BAND, THREE[:1])
    world.clock.now = T0 + 100
    held = world.review.claim(ENDPOINT, RITA)
    assert held is not None
    world.clock.now = T0 + 159
    assert world.review.claim(ENDPOINT, SAM) is None  # still hers
    world.clock.now = T0 + 160
    taken = world.review.claim(ENDPOINT, SAM)
    assert taken is not None and taken.id == held.id and taken.claimed_by == "sam"
    with pytest.raises(Conflict, match="claimed by sam") as caught:
        world.review.decide(ENDPOINT, held.id, RITA, "ok")
    assert caught.value.field == "claim"


def test_a_lapsed_claim_cannot_decide(world: World) -> None:
    routed(world, BAND, THREE[:1])
    world.clock.now = T0 + 100
    held = world.review.claim(ENDPOINT, RITA)
    assert held is not None
    world.clock.now = T0 + 161
    with pytest.raises(Conflict, match=r"your claim on review item \d+ lapsed"):
        world.review.decide(ENDPOINT, held.id, RITA, "ok")
    assert world.review.item(ENDPOINT, held.id).decisions == []


@pytest.mark.parametrize(("reviewers", "items"), [(8, 8), (10, 6)])
def test_concurrent_claimers_never_share_an_item(world: World, reviewers: int, items: int) -> None:
    routed(world, BAND, [(f"r{n}", T0 + 1 + n, "ok", 0.5) for n in range(items)])
    world.clock.now = T0 + 100
    start = threading.Barrier(reviewers)
    got: dict[str, int | None] = {}
    failures: list[BaseException] = []

    def claim(name: str) -> None:
        try:
            start.wait()
            found = world.review.claim(ENDPOINT, Actor(name=name))
            got[name] = None if found is None else found.id
        except BaseException as exc:  # surfaced below: a thread's error is the test's
            failures.append(exc)

    threads = [threading.Thread(target=claim, args=(f"rev{n}",)) for n in range(reviewers)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert failures == []
    claimed = [item for item in got.values() if item is not None]
    assert len(claimed) == len(set(claimed)) == min(reviewers, items)
    holders = {i.id: i.claimed_by for i in world.review.items(ENDPOINT, status="open")}
    assert {holders[item] for item in claimed} == {n for n, i in got.items() if i is not None}


def test_a_decision_closes_the_item_and_becomes_reviewer_feedback(world: World) -> None:
    routed(world, BAND, THREE[:1])
    world.clock.now = T0 + 100
    held = world.review.claim(ENDPOINT, RITA)
    assert held is not None
    world.clock.now = T0 + 130
    done = world.review.decide(ENDPOINT, held.id, RITA, "violation", "links to a scam")
    assert (done.status, done.label) == ("closed", "violation")
    assert done.closed_at is not None and done.closed_at.timestamp() == T0 + 130
    assert done.claimed_by is None
    [decision] = done.decisions
    assert (decision.reviewer, decision.action, decision.label, decision.note) == (
        "rita",
        "decided",
        "violation",
        "links to a scam",
    )
    assert decision.claimed_at is not None and decision.claimed_at.timestamp() == T0 + 100
    log = world.platform.predictions.export(ENDPOINT, with_inputs=False).to_pylist()
    labelled = {row["request_id"]: row for row in log if row["label"] is not None}
    assert list(labelled) == ["first"]
    row = labelled["first"]
    assert (row["label"], row["label_source"], row["label_actor"]) == (
        "violation",
        "reviewer",
        "rita",
    )
    subject = f"endpoint:{ENDPOINT}"
    decided = world.client.events(subject=subject, kind="review_item.decided")
    closed = world.client.events(subject=subject, kind="review_item.closed")
    feedback = world.client.events(subject=subject, kind="feedback.received")
    assert [(e.actor, e.data["item"], e.data["label"]) for e in decided] == [
        ("rita", held.id, "violation")
    ]
    assert [(e.data["request_id"], e.data["label"], e.data["agreed"]) for e in closed] == [
        ("first", "violation", True)
    ]
    assert closed[0].data["prediction"] == "ok"
    assert [(e.data["source"], e.data["accepted"]) for e in feedback] == [("reviewer", 1)]
    assert world.review.claim(ENDPOINT, SAM) is None  # closed: nothing left


def test_labels_are_the_choices_compared_as_text(world: World) -> None:
    routed(world, BAND + "labels: [violation, ok, 1]\n", THREE[:2])
    world.clock.now = T0 + 100
    held = world.review.claim(ENDPOINT, RITA)
    assert held is not None and held.choices == ["violation", "ok", 1]
    with pytest.raises(InvalidInput, match="label 'spam' is not one of the choices") as caught:
        world.review.decide(ENDPOINT, held.id, RITA, "spam")
    assert caught.value.field == "label"
    with pytest.raises(InvalidInput, match="label must be a number, true/false or text") as caught:
        world.review.decide(ENDPOINT, held.id, RITA, None)
    assert caught.value.field == "label"
    with pytest.raises(InvalidInput, match="note must be text") as caught:
        world.review.decide(ENDPOINT, held.id, RITA, "ok", "x" * 2001)
    assert caught.value.field == "note"
    assert world.review.decide(ENDPOINT, held.id, RITA, "1").label == 1  # as the policy wrote it


def test_decisions_need_the_reviewer_s_claim(world: World) -> None:
    routed(world, BAND, THREE[:2])
    world.clock.now = T0 + 100
    with pytest.raises(Conflict, match="claim review item 1 before deciding"):
        world.review.decide(ENDPOINT, 1, RITA, "ok")
    held = world.review.claim(ENDPOINT, RITA)
    assert held is not None
    with pytest.raises(Conflict, match="claimed by rita"):
        world.review.decide(ENDPOINT, held.id, SAM, "ok")
    world.review.decide(ENDPOINT, held.id, RITA, "ok")
    with pytest.raises(Conflict, match="already closed"):
        world.review.decide(ENDPOINT, held.id, RITA, "ok")
    with pytest.raises(NotFound, match="review item 999 not found") as caught:
        world.review.decide(ENDPOINT, 999, RITA, "ok")
    assert caught.value.field == "item"
    with pytest.raises(NotFound):
        world.review.item(ENDPOINT, 999)


def test_two_reviewers_who_agree_close_a_sampled_item(world: World) -> None:
    routed(world, DOUBLE, THREE[:1])
    world.clock.now = T0 + 100
    item = world.review.claim(ENDPOINT, RITA)
    assert item is not None and item.reviews_needed == 2 and item.reason == "sample"
    first = world.review.decide(ENDPOINT, item.id, RITA, "ok")
    assert (first.status, first.label, first.claimed_by) == ("open", None, None)
    assert world.review.claim(ENDPOINT, RITA) is None  # she has decided it: not hers again
    assert world.review.claim(ENDPOINT, SAM) is not None
    done = world.review.decide(ENDPOINT, item.id, SAM, "ok")
    assert (done.status, done.label, done.reviews_needed) == ("closed", "ok", 2)
    assert [d.reviewer for d in done.decisions] == ["rita", "sam"]
    labels = world.platform.predictions.export(ENDPOINT, with_inputs=False).column("label")
    assert labels.to_pylist() == ["ok"]


def test_two_who_disagree_bring_a_third_whose_majority_closes_it(world: World) -> None:
    routed(world, DOUBLE, THREE[:1])
    world.clock.now = T0 + 100
    item = world.review.claim(ENDPOINT, RITA)
    assert item is not None
    world.review.decide(ENDPOINT, item.id, RITA, "violation")
    assert world.review.claim(ENDPOINT, SAM) is not None
    split = world.review.decide(ENDPOINT, item.id, SAM, "ok")
    assert (split.status, split.reviews_needed) == ("open", 3)
    assert world.review.claim(ENDPOINT, SAM) is None
    assert world.review.claim(ENDPOINT, TOM) is not None
    done = world.review.decide(ENDPOINT, item.id, TOM, "violation")
    assert (done.status, done.label) == ("closed", "violation")
    closed = world.client.events(subject=f"endpoint:{ENDPOINT}", kind="review_item.closed")
    assert [(e.actor, e.data["decisions"]) for e in closed] == [("tom", 3)]
    log = world.platform.predictions.export(ENDPOINT, with_inputs=False).to_pylist()
    assert [(row["label"], row["label_actor"]) for row in log] == [("violation", "tom")]


def test_a_skipped_item_is_released_and_not_offered_to_that_reviewer_again(
    world: World,
) -> None:
    routed(world, BAND, THREE[:2])
    world.clock.now = T0 + 100
    held = world.review.claim(ENDPOINT, RITA)
    assert held is not None and held.request_id == "first"
    skipped = world.review.skip(ENDPOINT, held.id, RITA)
    assert skipped.claimed_by is None and skipped.status == "open"
    assert [(d.reviewer, d.action) for d in skipped.decisions] == [("rita", "skipped")]
    following = world.review.claim(ENDPOINT, RITA)
    assert following is not None and following.request_id == "second"
    assert world.review.remaining(ENDPOINT, RITA) == 1  # the one she holds
    other = world.review.claim(ENDPOINT, SAM)
    assert other is not None and other.id == held.id  # back in the queue for others
    with pytest.raises(Conflict, match="already skipped"):
        world.review.skip(ENDPOINT, held.id, RITA)
    with pytest.raises(Conflict, match="already skipped"):
        world.review.decide(ENDPOINT, held.id, RITA, "ok")
    world.review.decide(ENDPOINT, other.id, SAM, "ok")
    with pytest.raises(Conflict, match="already closed"):
        world.review.skip(ENDPOINT, other.id, TOM)
    skips = world.client.events(subject=f"endpoint:{ENDPOINT}", kind="review_item.skipped")
    assert [(e.actor, e.data["item"]) for e in skips] == [("rita", held.id)]


def test_items_are_listed_by_status(world: World) -> None:
    routed(world, BAND, THREE)
    world.clock.now = T0 + 100
    held = world.review.claim(ENDPOINT, RITA)
    assert held is not None
    world.review.decide(ENDPOINT, held.id, RITA, "ok")
    assert [i.request_id for i in world.review.items(ENDPOINT, status="open")] == [
        "second",
        "third",
    ]
    assert [i.request_id for i in world.review.items(ENDPOINT, status="closed")] == ["first"]
    assert [i.request_id for i in world.review.items(ENDPOINT, limit=2)] == ["third", "second"]
    with pytest.raises(InvalidInput) as caught:
        world.review.items(ENDPOINT, status="done")
    assert caught.value.field == "status"
    with pytest.raises(InvalidInput) as caught:
        world.review.items(ENDPOINT, limit=0)
    assert caught.value.field == "limit"


@pytest.mark.parametrize(
    ("label", "choices", "expected"),
    [
        ("1", [0, 1], 1),
        ("TRUE", [False, True], True),  # true and false in any case are the booleans
        ("OK", ["ok", "violation"], None),  # other text is compared as written
        (2.5, None, 2.5),  # no choices (a regressor): any one label
        ("x" * 1000, None, "x" * 1000),
        ("x" * 1001, None, None),
        ("", None, None),
        (2**63, None, None),  # feedback could not carry it
        (float("inf"), None, None),
        ([1], None, None),
    ],
)
def test_a_label_is_one_choice_or_one_plain_value(
    label: object, choices: list[object] | None, expected: object
) -> None:
    if expected is None:
        with pytest.raises(InvalidInput) as caught:
            as_choice(label, choices)
        assert caught.value.field == "label"
    else:
        found = as_choice(label, choices)
        assert found == expected and type(found) is type(expected)
