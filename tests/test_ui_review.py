"""The review pages without a browser: the queues with their figures, one queue's desk for a
reviewer (the item they hold, what is left, no claim made by a page) and its item list for
everyone, bad parameters answered by a page naming them; and the service calls they use."""

from __future__ import annotations

import re
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import pytest

from opsloop.domain.entities import Actor
from opsloop.domain.settings import Settings
from opsloop.sdk.client import Client
from opsloop.sdk.models import register_model
from opsloop.server.app import create_app
from opsloop.server.ui.pages.review import brief, why

from ._asgi import SyncASGITransport
from ._review_world import ENDPOINT, RITA, SAM, T0, Clock, World, moderation_model, on_clock

POLICY = "uncertain: {low: 0.2, high: 0.8}\nclaim_ttl: 60s\n"
# (request id, time, prediction, score): a, b, c are in the band; z is not (never routed).
ROWS: list[tuple[str, float, str, float | None]] = [
    ("a", T0 + 1, "ok", 0.45),
    ("b", T0 + 2, "ok", 0.25),
    ("c", T0 + 3, "violation", 0.7),
    ("z", T0 + 4, "ok", 0.05),
]
PAGE = f"/ui/review/{ENDPOINT}"
API = f"/api/v1/endpoints/{ENDPOINT}/review"


@dataclass
class Site:
    world: World
    app: Any
    secrets: dict[str, str]  # token name -> secret
    opened: list[httpx.Client]

    def as_(self, who: str) -> httpx.Client:
        """A browser-like client logged in as ``who`` (the session cookie)."""
        http = httpx.Client(
            transport=SyncASGITransport(self.app),
            base_url="http://testserver",
            cookies={"opsloop_session": self.secrets[who]},
        )
        self.opened.append(http)
        return http

    def api(self, who: str, method: str, path: str, **options: Any) -> httpx.Response:
        with httpx.Client(
            transport=SyncASGITransport(self.app), base_url="http://testserver"
        ) as http:
            headers = {"Authorization": f"Bearer {self.secrets[who]}"}
            return http.request(method, API + path, headers=headers, **options)


@pytest.fixture
def site(tmp_path: Path) -> Iterator[Site]:
    """Auth on; ``moderation`` with three routed items (a, b, c) on a clock the test moves;
    tokens vic (viewer), rita and sam (reviewers)."""
    app = create_app(Settings.load(environ={}, home=tmp_path / "home", auth=True))
    platform = app.state.platform
    clock = Clock(T0)
    service = on_clock(app, clock)
    seeder = Client.over(platform, Actor(name="seeder"))
    opened: list[httpx.Client] = []
    try:
        model, frame = moderation_model()
        version = register_model(seeder, model, "mod/violation", input_example=frame.head())
        seeder.deploy(ENDPOINT, version.ref, force=True, reason="test")
        world = World(seeder, platform, service, clock, version)
        world.configure(POLICY)
        world.log(ROWS)
        world.route(T0 + 60)
        clock.now = T0 + 100
        roles = {"vic": "viewer", "rita": "reviewer", "sam": "reviewer"}
        secrets = {
            name: platform.auth.create(role, Actor(name="root"), name=name).secret
            for name, role in roles.items()
        }
        yield Site(world, app, secrets, opened)
    finally:
        for http in opened:
            http.close()
        seeder.close()
        platform.close()


def cells(html: str, row: str) -> dict[str, str]:
    """The figures of the queues table's row for endpoint ``row``, by data-figure."""
    found = re.search(rf'<tr data-endpoint="{row}">(.*?)</tr>', html, re.S)
    assert found, html
    return {
        name: re.sub(r"\s+", " ", re.sub(r"<[^>]+>", " ", value)).strip()
        for name, value in re.findall(r'data-figure="([^"]+)">(.*?)</td>', found.group(1), re.S)
    }


def desk_of(html: str) -> str:
    found = re.search(r'<div id="review-desk">(.*?)</section>', html, re.S)
    assert found, html
    return found.group(1)


def test_the_queues_page_shows_each_queue_with_its_figures(site: Site) -> None:
    world = site.world
    rita = site.as_("rita")
    taken = site.api("sam", "POST", "/claim").json()["item"]  # sam holds a
    site.api("sam", "POST", f"/items/{taken['id']}/decision", json={"label": "violation"})
    site.api("sam", "POST", "/claim")  # sam now holds the next one
    world.clock.now = T0 + 150  # sam's claim (taken at T0 + 100 for 60 s) is still live
    page = rita.get("/ui/review")
    assert page.status_code == 200 and page.headers["server-timing"].startswith("render;dur=")
    figures = cells(page.text, ENDPOINT)
    assert figures["backlog"] == "2"
    assert figures["remaining"] == "1"  # of the two open, sam holds one
    assert figures["oldest"] == "1 min 30 s"  # routed at T0 + 60, now T0 + 150
    assert figures["time-to-decision"] == "40.0 s / 40.0 s"  # closed at T0 + 100
    assert figures["model-agreement"] == "0% of 1"  # the model said ok; sam said violation
    assert figures["errors-caught"] == "100% 1 of 1"  # the one error known, found by sam
    assert figures["reviewer-agreement"] == "— of 0"  # nothing double-reviewed
    assert figures["decided-today"] == "1"
    assert f'href="/ui/review/{ENDPOINT}">Review</a>' in page.text
    viewer = site.as_("vic").get("/ui/review")
    assert cells(viewer.text, ENDPOINT)["remaining"] == "—"
    assert f'href="/ui/review/{ENDPOINT}">View</a>' in viewer.text
    assert ">Review</a>" not in viewer.text.split("<main>")[1]


def test_the_queues_page_without_a_policy_says_how_to_set_one(tmp_path: Path) -> None:
    app = create_app(Settings.load(environ={}, home=tmp_path / "home", actor="local"))
    with httpx.Client(transport=SyncASGITransport(app), base_url="http://testserver") as http:
        page = http.get("/ui/review")
        assert page.status_code == 200
        assert "No endpoint has a review policy yet" in page.text
        assert 'id="queues"' not in page.text
    app.state.platform.close()


def test_a_reviewer_sees_the_item_they_hold_with_what_decides_it(site: Site) -> None:
    claimed = site.api("rita", "POST", "/claim").json()
    item = claimed["item"]
    assert item["request_id"] == "a"  # the model is least sure of a: the most urgent
    page = site.as_("rita").get(PAGE)
    assert page.status_code == 200
    desk = desk_of(page.text)
    assert f'data-item="{item["id"]}" data-request="a"' in desk
    assert 'data-remaining="3"' in desk  # a, b and c, the one held included
    assert "<th>num_char</th><td>10.0</td>" in desk and "<th>exclaim</th><td>0</td>" in desk
    assert '<p class="prediction" id="review-prediction">ok</p>' in desk
    assert "score <strong>0.45</strong>" in desk
    assert "the model is unsure: its score lies in [0.2, 0.8]" in desk
    assert f"priority <strong>{item['priority']:.3g}</strong>" in desk
    labels = re.findall(r'<button type="button" class="choice"[^>]*>(.*?)</button>', desk)
    assert labels == ["<kbd>1</kbd> ok", "<kbd>2</kbd> violation"]  # the model's classes
    assert 'data-label="&#34;ok&#34;"' in desk  # the label as JSON, kept a string
    assert 'id="review-note"' in desk and 'id="review-decide"' in desk
    assert '<script src="/ui/static/review.js">' in page.text
    assert 'id="review-claiming"' not in desk


def test_a_page_never_claims_and_the_desk_follows_the_claims(site: Site) -> None:
    rita = site.as_("rita")
    page = rita.get(PAGE)
    assert 'id="review-claiming"' in desk_of(page.text)  # the script will claim
    assert 'data-remaining="3"' in page.text
    listed = site.api("vic", "GET", "/items", params={"status": "open"}).json()
    assert [one["claimed_by"] for one in listed] == [None, None, None]  # the GET claimed none
    first = site.api("rita", "POST", "/claim").json()["item"]
    fragment = rita.get(f"{PAGE}/desk")
    assert fragment.status_code == 200
    assert fragment.text.lstrip().startswith('<p class="counter">')
    assert f'data-item="{first["id"]}"' in fragment.text and "<html" not in fragment.text
    site.api("rita", "POST", f"/items/{first['id']}/decision", json={"label": "ok"})
    second = site.api("rita", "POST", "/claim").json()["item"]
    desk = rita.get(f"{PAGE}/desk").text
    assert f'data-item="{second["id"]}"' in desk and 'data-remaining="2"' in desk
    site.api("rita", "POST", f"/items/{second['id']}/skip")
    third = site.api("rita", "POST", "/claim").json()["item"]
    site.api("rita", "POST", f"/items/{third['id']}/decision", json={"label": "violation"})
    assert site.api("rita", "POST", "/claim").status_code == 204
    desk = rita.get(f"{PAGE}/desk").text
    assert 'id="review-empty"' in desk and 'data-remaining="0"' in desk
    assert 'id="review-item"' not in desk
    # sam has decided nothing: the item rita skipped is still his to take.
    assert 'data-remaining="1"' in site.as_("sam").get(f"{PAGE}/desk").text


def test_a_lapsed_claim_is_not_shown_as_held(site: Site) -> None:
    site.api("rita", "POST", "/claim")
    rita = site.as_("rita")
    assert 'id="review-item"' in rita.get(f"{PAGE}/desk").text
    site.world.clock.now = T0 + 161  # the 60 s claim lapsed
    desk = rita.get(f"{PAGE}/desk").text
    assert 'id="review-item"' not in desk and 'id="review-claiming"' in desk


def test_a_viewer_reads_the_queue_without_controls(site: Site) -> None:
    site.api("rita", "POST", "/claim")
    vic = site.as_("vic")
    page = vic.get(PAGE)
    assert page.status_code == 200
    assert 'id="read-only"' in page.text
    for control in ('id="review"', "review.js", 'class="choice"', "review-decide", "review-note"):
        assert control not in page.text, control
    rows = re.findall(r'<tr data-item="\d+">.*?<code>(\w+)</code>', page.text, re.S)
    assert rows == ["a", "c", "b"]  # most urgent first: the model's chance of being wrong
    assert "<td>rita <span" in page.text  # who holds a
    site.world.clock.now = T0 + 161  # rita's claim lapsed: nobody holds a
    assert "<td>rita <span" not in vic.get(PAGE).text
    refused = vic.get(f"{PAGE}/desk")
    assert refused.status_code == 403 and "needs reviewer" in refused.text


def test_the_list_shows_closed_items_and_pages(site: Site) -> None:
    item = site.api("rita", "POST", "/claim").json()["item"]
    site.api("rita", "POST", f"/items/{item['id']}/decision", json={"label": "violation"})
    vic = site.as_("vic")
    opened = vic.get(PAGE).text
    assert re.findall(r"<code>(\w+)</code></td>", opened) == ["c", "b"]
    closed = vic.get(PAGE, params={"status": "closed"}).text
    assert re.findall(r"<code>(\w+)</code></td>", closed) == ["a"]
    assert "<td>violation</td>" in closed
    world = site.world
    more: list[tuple[str, float, str, float | None]] = [
        (f"p{n:02}", T0 + 100 + n, "ok", 0.5) for n in range(60)
    ]
    world.log(more)
    world.route(T0 + 300)
    first = vic.get(PAGE).text
    assert len(re.findall(r'<tr data-item="', first)) == 50
    assert "open items 1–50 of 62" in first and 'id="page-next"' in first
    second = vic.get(PAGE, params={"page": "2"}).text
    shown = re.findall(r"<code>(\w+)</code></td>", second)
    assert len(shown) == 12 and not set(shown) & set(re.findall(r"<code>(\w+)</code></td>", first))
    assert "open items 51–62 of 62" in second and 'id="page-next"' not in second
    past = vic.get(PAGE, params={"page": "9"})
    assert past.status_code == 422 and "page 9 is past the last page (2)" in past.text
    past_closed = vic.get(PAGE, params={"page": "2", "status": "closed"})  # one closed item
    assert past_closed.status_code == 422
    assert "page 2 is past the last page (1)" in past_closed.text


@pytest.mark.parametrize(
    ("params", "named"),
    [
        ({"status": "done"}, "status must be open or closed"),
        ({"page": "0"}, "page must be a whole number"),
        ({"page": "two"}, "page must be a whole number"),
        ({"page": "²"}, "page must be a whole number"),
        ({"page": "99999999999999999999"}, "page must be a whole number"),
    ],
)
def test_bad_parameters_are_a_page_naming_them(
    site: Site, params: dict[str, str], named: str
) -> None:
    page = site.as_("vic").get(PAGE, params=params)
    assert page.status_code == 422 and page.headers["content-type"].startswith("text/html")
    assert named in page.text


def test_unknown_endpoints_and_endpoints_without_a_policy_are_404_pages(site: Site) -> None:
    vic = site.as_("vic")
    missing = vic.get("/ui/review/nothing")
    assert missing.status_code == 404 and "endpoint &#39;nothing&#39; not found" in missing.text
    site.world.client.deploy("other", site.world.version.ref, force=True, reason="test")
    bare = vic.get("/ui/review/other")
    assert bare.status_code == 404 and "has no review policy" in bare.text
    assert vic.get("/ui/review/bad name!").status_code == 422
    assert site.as_("rita").get("/ui/review/other/desk").status_code == 404


def test_pages_need_a_login(site: Site) -> None:
    with httpx.Client(transport=SyncASGITransport(site.app), base_url="http://testserver") as http:
        for path in ("/ui/review", PAGE, f"{PAGE}/desk"):
            answer = http.get(path)
            assert answer.status_code == 303 and answer.headers["location"].startswith("/login")


def test_with_auth_off_the_local_user_reviews(tmp_path: Path) -> None:
    settings = Settings.load(environ={}, home=tmp_path / "home", actor="local")
    app = create_app(settings)
    platform = app.state.platform
    clock = Clock(T0)
    service = on_clock(app, clock)
    seeder = Client.over(platform, Actor(name="seeder"))
    try:
        model, frame = moderation_model()
        version = register_model(seeder, model, "mod/violation", input_example=frame.head())
        seeder.deploy(ENDPOINT, version.ref, force=True, reason="test")
        world = World(seeder, platform, service, clock, version)
        world.configure("uncertain: {low: 0.2, high: 0.8}\nlabels: [spam, fine, unsure]\n")
        world.log(ROWS)
        world.route(T0 + 60)
        with httpx.Client(transport=SyncASGITransport(app), base_url="http://testserver") as http:
            assert http.post(API + "/claim").json()["item"]["claimed_by"] == "local"
            page = http.get(PAGE)
            desk = desk_of(page.text)
            labels = re.findall(r'class="choice"[^>]*><kbd>(\d)</kbd> (\w+)</button>', desk)
            assert labels == [("1", "spam"), ("2", "fine"), ("3", "unsure")]  # the policy's
            assert "admin (auth off)" in page.text
    finally:
        seeder.close()
        platform.close()


# -- what the page asks of the service ------------------------------------------------------


def test_held_only_reads_the_live_claim(site: Site) -> None:
    review = site.world.review
    assert review.held(ENDPOINT, RITA) is None
    assert review.items(ENDPOINT, status="open")[0].claimed_by is None  # held claimed nothing
    claimed = review.claim(ENDPOINT, RITA)
    assert claimed is not None
    held = review.held(ENDPOINT, RITA)
    assert held is not None and held.id == claimed.id and held.choices == ["ok", "violation"]
    assert review.held(ENDPOINT, SAM) is None
    assert review.held(ENDPOINT, RITA, now=T0 + 161) is None  # lapsed


def test_policies_and_an_offset_into_the_items(site: Site) -> None:
    review = site.world.review
    assert [policy.endpoint for policy in review.policies()] == [ENDPOINT]
    everything = [item.request_id for item in review.items(ENDPOINT, status="open")]
    assert everything == ["a", "c", "b"]
    later = review.items(ENDPOINT, status="open", limit=1, offset=1)
    assert [item.request_id for item in later] == ["c"]
    assert review.items(ENDPOINT, offset=3) == []
    from opsloop.domain.errors import InvalidInput

    for offset in (-1, True, 10**7):
        with pytest.raises(InvalidInput, match="offset"):
            review.items(ENDPOINT, offset=offset)


def test_the_words_for_a_reason_and_inputs(site: Site) -> None:
    from opsloop.domain.review import ReviewConfig

    config = ReviewConfig.parse(
        "uncertain: {low: 0.3, high: 0.7}\nsample: 0.05\n"
        "rules:\n  - {name: removal, prediction: violation, score_above: 0.9}\n"
    )
    assert why("uncertain", config) == "the model is unsure: its score lies in [0.3, 0.7]"
    assert why("sample", config) == "a random 5.00% sample, for quality control"
    assert why("rule:removal", config) == "rule removal: prediction is violation, score above 0.9"
    assert why("rule:gone", config) == "rule gone (no longer in the policy)"
    assert brief({"a": 1, "b": "x"}) == "a=1, b=x"
    assert brief({"text": "y" * 200}).endswith("…") and len(brief({"text": "y" * 200})) == 80
