"""The web UI's pages without a visitor: login and its cookies, the CSRF rule for writes made
with the session cookie, redirects that stay on this server, errors shown as pages."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from opsloop.domain.entities import Actor
from opsloop.domain.settings import Settings
from opsloop.server.app import create_app

from ._asgi import SyncASGITransport


@pytest.fixture
def visitor(tmp_path: Path) -> Iterator[tuple[httpx.Client, dict[str, str]]]:
    app = create_app(Settings.load(environ={}, home=tmp_path / "home", auth=True))
    platform = app.state.platform
    secrets = {
        role: platform.auth.create(role, Actor(name="root"), name=f"{role}-1").secret
        for role in ("viewer", "deployer")
    }
    transport = SyncASGITransport(app)
    with httpx.Client(transport=transport, base_url="http://testserver") as http:
        yield http, secrets
    platform.close()


def test_pages_send_who_is_not_logged_in_to_the_login_and_back(
    visitor: tuple[httpx.Client, dict[str, str]],
) -> None:
    http, secrets = visitor
    first = http.get("/ui/endpoints?project=mod")
    assert first.status_code == 303
    assert first.headers["location"] == "/login?next=/ui/endpoints%3Fproject%3Dmod"
    logged = http.post("/login", data={"token": secrets["viewer"], "next": "/ui/endpoints"})
    assert (logged.status_code, logged.headers["location"]) == (303, "/ui/endpoints")
    assert {"opsloop_session", "opsloop_csrf"} <= set(http.cookies.keys())
    set_cookie = logged.headers.get_list("set-cookie")
    session = next(c for c in set_cookie if c.startswith("opsloop_session="))
    assert "HttpOnly" in session and "SameSite=strict" in session
    page = http.get("/ui/endpoints")
    assert page.status_code == 200 and "viewer-1" in page.text
    assert page.headers["server-timing"].startswith("render;dur=")


@pytest.mark.parametrize("target", ["https://evil.example/", "//evil.example/x", "/\\evil"])
def test_a_login_only_sends_people_to_pages_of_this_server(
    visitor: tuple[httpx.Client, dict[str, str]], target: str
) -> None:
    http, secrets = visitor
    logged = http.post("/login", data={"token": secrets["viewer"], "next": target})
    assert logged.headers["location"] == "/"


def test_a_bad_token_stays_on_the_login_page_saying_why(
    visitor: tuple[httpx.Client, dict[str, str]],
) -> None:
    http, _ = visitor
    refused = http.post("/login", data={"token": "opl_nonsense", "next": "/"})
    assert refused.status_code == 401
    assert "malformed" in refused.text
    assert "opsloop_session" not in http.cookies


def test_a_write_with_the_session_cookie_needs_the_csrf_header(
    visitor: tuple[httpx.Client, dict[str, str]],
) -> None:
    http, secrets = visitor
    http.post("/login", data={"token": secrets["deployer"], "next": "/"})
    forged = http.post("/api/v1/projects", json={"name": "forged"})
    assert forged.status_code == 403
    assert forged.json()["error"]["field"] == "X-Opsloop-CSRF"
    wrong = http.post("/api/v1/projects", json={"name": "forged"}, headers={"X-Opsloop-CSRF": "no"})
    assert wrong.status_code == 403
    csrf = {"X-Opsloop-CSRF": http.cookies["opsloop_csrf"]}
    made = http.post("/api/v1/projects", json={"name": "real"}, headers=csrf)
    assert made.status_code == 201, made.text
    names = [p["name"] for p in http.get("/api/v1/projects").json()]
    assert names == ["real"]  # reads need no header; the forged writes wrote nothing
    (event,) = http.get("/api/v1/events", params={"kind": "project.created"}).json()
    assert event["actor"] == "deployer-1"


def test_an_error_on_a_page_is_a_page_and_on_the_api_json(
    visitor: tuple[httpx.Client, dict[str, str]],
) -> None:
    http, secrets = visitor
    http.post("/login", data={"token": secrets["viewer"], "next": "/"})
    page = http.get("/ui/endpoints/nothing")
    assert page.status_code == 404
    assert page.headers["content-type"].startswith("text/html")
    assert "endpoint &#39;nothing&#39; not found" in page.text
    api = http.get("/api/v1/endpoints/nothing")
    assert api.status_code == 404 and api.json()["error"]["code"] == "not_found"


def test_logging_out_forgets_the_session(visitor: tuple[httpx.Client, dict[str, str]]) -> None:
    http, secrets = visitor
    http.post("/login", data={"token": secrets["viewer"], "next": "/"})
    csrf = {"X-Opsloop-CSRF": http.cookies["opsloop_csrf"]}
    out = http.post("/logout", headers=csrf)
    assert (out.status_code, out.headers["location"]) == (303, "/login")
    assert http.get("/").status_code == 303


def test_with_auth_off_pages_need_no_login(tmp_path: Path) -> None:
    app = create_app(Settings.load(environ={}, home=tmp_path / "home", actor="local"))
    with httpx.Client(transport=SyncASGITransport(app), base_url="http://testserver") as http:
        page = http.get("/")
        assert page.status_code == 200 and "admin (auth off)" in page.text
        assert http.get("/login").headers["location"] == "/"
        assert http.get("/ui/static/vendor/uPlot.iife.min.js").status_code == 200
    app.state.platform.close()


def test_the_overview_shows_each_endpoint_its_own_open_alerts(tmp_path: Path) -> None:
    from opsloop.sdk.client import Client

    from .test_alerts_api import seed

    settings = Settings.load(environ={}, home=tmp_path / "home", actor="local")
    client = Client(settings)
    seed(client)  # moderation: the accuracy alert (critical) is firing, drift's resolved
    client.deploy("quiet", "mod/violation@1", force=True, reason="second endpoint")
    client.close()
    app = create_app(settings)
    with httpx.Client(transport=SyncASGITransport(app), base_url="http://testserver") as http:
        for path in ("/", "/ui/endpoints"):
            rows = http.get(path).text.split("<tr>")
            moderation = next(row for row in rows if ">moderation</a>" in row)
            quiet = next(row for row in rows if ">quiet</a>" in row)
            assert 'class="state critical"' in moderation
            assert 'href="/ui/endpoints/moderation#alerts">1</a>' in moderation
            assert 'class="state ok"' in quiet and "#alerts" not in quiet
    app.state.platform.close()


def test_a_token_limited_to_one_endpoint_opens_no_page(tmp_path: Path) -> None:
    """As with the API, which answers such a token 403 on everything but its endpoint's
    predictions and feedback: refused at the login, and its cookie set by hand opens nothing."""
    app = create_app(Settings.load(environ={}, home=tmp_path / "home", auth=True))
    scoped = app.state.platform.auth.create(
        "reviewer", Actor(name="root"), name="kiosk", endpoint="moderation"
    ).secret
    with httpx.Client(transport=SyncASGITransport(app), base_url="http://testserver") as http:
        refused = http.post("/login", data={"token": scoped, "next": "/ui/review"})
        assert refused.status_code == 403
        assert "limited to one endpoint" in refused.text and "moderation" in refused.text
        assert "opsloop_session" not in http.cookies
        http.cookies.set("opsloop_session", scoped)
        for path in ("/", "/ui/runs", "/ui/review/moderation"):
            page = http.get(path)
            assert page.status_code == 403, path
            assert "may only be used on endpoint" in page.text
    app.state.platform.close()
