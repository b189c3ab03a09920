"""The review queue over real HTTP with tokens and roles, and through the SDK functions."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import pytest

from opsloop.domain.auth import Role
from opsloop.domain.entities import Actor
from opsloop.domain.errors import Conflict, InvalidInput, NotFound
from opsloop.domain.settings import Settings
from opsloop.sdk.client import Client
from opsloop.sdk.models import register_model
from opsloop.sdk.review import (
    claim_review,
    decide_review,
    get_review_policy,
    review_item,
    review_items,
    review_stats,
    route_reviews,
    set_review_policy,
    skip_review,
)
from opsloop.server.access import API_PREFIX, needed_role
from opsloop.server.app import create_app

from ._asgi import SyncASGITransport
from ._review_world import (
    ENDPOINT,
    T0,
    Clock,
    World,
    make_world,
    moderation_model,
    on_clock,
)

POLICY = "uncertain: {low: 0.2, high: 0.8}\nclaim_ttl: 60s\n"
ROWS = [("a", T0 + 1, "ok", 0.5), ("b", T0 + 2, "ok", 0.4), ("c", T0 + 3, "violation", 0.7)]
BASE = f"/api/v1/endpoints/{ENDPOINT}/review"


@dataclass
class Secured:
    http: httpx.Client
    world: World
    secrets: dict[str, str]  # token name -> secret

    def call(self, who: str, method: str, path: str, **options: Any) -> httpx.Response:
        headers = {"Authorization": f"Bearer {self.secrets[who]}"}
        return self.http.request(method, BASE + path, headers=headers, **options)


@pytest.fixture
def secured(tmp_path: Path) -> Iterator[Secured]:
    """An app with auth on: three routed items; tokens vic (viewer), rita and sam
    (reviewers), dee (deployer)."""
    app = create_app(Settings.load(environ={}, home=tmp_path / "home", auth=True))
    platform = app.state.platform
    clock = Clock(T0)
    service = on_clock(app, clock)
    seeder = Client.over(platform, Actor(name="seeder"))
    try:
        model, frame = moderation_model()
        version = register_model(seeder, model, "mod/violation", input_example=frame.head())
        seeder.deploy(ENDPOINT, version.ref, force=True, reason="test")
        world = World(seeder, platform, service, clock, version)
        world.configure(POLICY)
        world.log(ROWS)
        world.route(T0 + 60)
        world.clock.now = T0 + 100
        roles = {"vic": "viewer", "rita": "reviewer", "sam": "reviewer", "dee": "deployer"}
        secrets = {
            name: platform.auth.create(role, Actor(name="root"), name=name).secret
            for name, role in roles.items()
        }
        with httpx.Client(transport=SyncASGITransport(app), base_url="http://testserver") as http:
            yield Secured(http, world, secrets)
    finally:
        seeder.close()
        platform.close()


def error(response: httpx.Response, status: int, code: str) -> dict[str, Any]:
    assert response.status_code == status, response.text
    body: dict[str, Any] = response.json()["error"]
    assert body["code"] == code
    return body


def test_a_reviewer_claims_and_decides_and_a_viewer_may_only_read(secured: Secured) -> None:
    claimed = secured.call("rita", "POST", "/claim")
    assert claimed.status_code == 200, claimed.text
    item = claimed.json()["item"]
    assert (item["request_id"], item["claimed_by"], claimed.json()["remaining"]) == ("a", "rita", 3)
    assert item["inputs"] == {"num_char": 10.0, "exclaim": 0}
    path = f"/items/{item['id']}/decision"
    refused = secured.call("vic", "POST", path, json={"label": "ok"})
    assert "this needs reviewer" in error(refused, 403, "forbidden")["message"]
    assert secured.call("vic", "POST", "/claim").status_code == 403
    assert secured.call("vic", "POST", f"/items/{item['id']}/skip").status_code == 403
    bad = secured.call("rita", "POST", path, json={"label": "spam"})
    assert error(bad, 422, "invalid")["field"] == "label"
    done = secured.call("rita", "POST", path, json={"label": "violation", "note": "scam"})
    assert done.status_code == 200, done.text
    assert (done.json()["status"], done.json()["label"]) == ("closed", "violation")
    assert done.json()["decisions"][0]["reviewer"] == "rita"  # the token's name
    for path in ("/items", f"/items/{item['id']}", "/stats", "/policy"):
        assert secured.call("vic", "GET", path).status_code == 200, path
    closed = secured.call("vic", "GET", "/items", params={"status": "closed"}).json()
    assert [one["id"] for one in closed] == [item["id"]]


def test_a_lapsed_claim_is_409_and_nothing_left_is_204(secured: Secured) -> None:
    item = secured.call("rita", "POST", "/claim").json()["item"]
    secured.world.clock.now = T0 + 161
    late = secured.call("rita", "POST", f"/items/{item['id']}/decision", json={"label": "ok"})
    body = error(late, 409, "conflict")
    assert body["field"] == "claim" and "lapsed" in body["message"]
    for _ in range(3):
        taken = secured.call("sam", "POST", "/claim").json()["item"]
        decided = secured.call("sam", "POST", f"/items/{taken['id']}/decision", json={"label": 1})
        assert error(decided, 422, "invalid")["field"] == "label"  # 1 is no class
        assert secured.call("sam", "POST", f"/items/{taken['id']}/skip").status_code == 200
    empty = secured.call("sam", "POST", "/claim")
    assert (empty.status_code, empty.content) == (204, b"")


def test_unknown_items_are_404_and_bad_paths_422(secured: Secured) -> None:
    assert error(secured.call("vic", "GET", "/items/999"), 404, "not_found")["field"] == "item"
    missing = secured.call("rita", "POST", "/items/999/decision", json={"label": "ok"})
    assert error(missing, 404, "not_found")["field"] == "item"
    assert error(secured.call("vic", "GET", "/items/0"), 422, "invalid")["field"] == "item_id"
    limited = secured.call("vic", "GET", "/items", params={"limit": 0})
    assert error(limited, 422, "invalid")["field"] == "limit"
    listed = secured.call("vic", "GET", "/items", params={"status": "done"})
    assert error(listed, 422, "invalid")["field"] == "status"
    empty = secured.call("rita", "POST", "/items/1/decision", json={})
    assert error(empty, 422, "invalid")["field"] == "label"
    elsewhere = secured.http.get(
        "/api/v1/endpoints/elsewhere/review/items",
        headers={"Authorization": f"Bearer {secured.secrets['vic']}"},
    )
    assert error(elsewhere, 404, "not_found")["field"] == "endpoint"
    year_zero = {"since": "0001-01-01T00:00:00+14:00"}  # before year 1 in UTC: never storable
    stats = secured.call("vic", "GET", "/stats", params=year_zero)
    assert error(stats, 422, "invalid")["field"] == "since"


def test_deployers_set_the_policy_and_route(secured: Secured) -> None:
    assert secured.call("rita", "PUT", "/policy", json={"config": POLICY}).status_code == 403
    assert secured.call("rita", "POST", "/route").status_code == 403
    bad = secured.call("dee", "PUT", "/policy", json={"config": "sample: 0.1\nsample: 2\n"})
    assert error(bad, 422, "invalid")["field"] == "policy"
    bad = secured.call("dee", "PUT", "/policy", json={"config": "rules:\n  - {name: a}\n"})
    assert "policy key 'rules[0]' (line 2)" in error(bad, 422, "invalid")["message"]
    put = secured.call("dee", "PUT", "/policy", json={"config": POLICY + "sample: 0.5\n"})
    assert put.status_code == 200 and put.json()["updated_by"] == "dee"
    secured.world.log([("d", T0 + 70, "ok", 0.5)])
    secured.world.clock.now = T0 + 200
    routed = secured.call("dee", "POST", "/route")
    assert routed.status_code == 200, routed.text
    assert routed.json()["routed"] == 1 and routed.json()["endpoint"] == ENDPOINT
    events = secured.world.client.events(kind="review.routed")
    assert [(e.actor, e.data["routed"]) for e in events] == [("review", 3), ("dee", 1)]


# -- the SDK functions ----------------------------------------------------------------------


@pytest.fixture
def world(sqlite_settings: Settings) -> Iterator[World]:
    yield from make_world(sqlite_settings)


def test_the_sdk_functions(world: World, tmp_path: Path) -> None:
    client = world.client
    path = tmp_path / "review.yaml"
    path.write_text(POLICY)
    world.clock.now = T0
    assert set_review_policy(client, ENDPOINT, path).source == POLICY
    assert set_review_policy(client, ENDPOINT, str(path)).config.claim_ttl_s == 60
    assert get_review_policy(client, ENDPOINT).updated_by == "tester"
    world.log(ROWS)
    world.clock.now = T0 + 60
    assert route_reviews(client, ENDPOINT).routed == 3
    assert [i.request_id for i in review_items(client, ENDPOINT, status="open")] == [
        "a",
        "b",
        "c",
    ]
    world.clock.now = T0 + 100
    claim = claim_review(client, ENDPOINT)
    assert claim is not None and claim.remaining == 3 and claim.item.claimed_by == "tester"
    done = decide_review(client, ENDPOINT, claim.item.id, "violation", note="scam")
    assert done.status == "closed" and done.decisions[0].note == "scam"
    following = claim_review(client, ENDPOINT)
    assert following is not None and following.remaining == 2
    assert skip_review(client, ENDPOINT, following.item.id).decisions[0].action == "skipped"
    assert review_item(client, ENDPOINT, claim.item.id).label == "violation"
    last = claim_review(client, ENDPOINT)
    assert last is not None and last.item.request_id == "c"
    with pytest.raises(InvalidInput):
        decide_review(client, ENDPOINT, last.item.id, "maybe")
    skip_review(client, ENDPOINT, last.item.id)
    assert claim_review(client, ENDPOINT) is None
    stats = review_stats(client, ENDPOINT)
    assert (stats.backlog, stats.closed, stats.decided_today) == (2, 1, {"tester": 1})
    with pytest.raises(NotFound):
        review_item(client, ENDPOINT, 999)
    with pytest.raises(Conflict):
        skip_review(client, ENDPOINT, claim.item.id)


ROLES = {
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


def test_every_review_route_is_served_with_its_role(sqlite_settings: Settings) -> None:
    app = create_app(sqlite_settings)
    try:
        paths = app.openapi()["paths"]
        served = {
            (method.upper(), path.removeprefix(API_PREFIX))
            for path, item in paths.items()
            if "/review/" in path
            for method in item
        }
        assert served == set(ROLES)
        for (method, path), role in ROLES.items():
            assert needed_role(method, API_PREFIX + path) is role, (method, path)
    finally:
        app.state.platform.close()
