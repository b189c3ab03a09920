"""API tokens and roles, seen from outside: real HTTP requests to an app with auth on."""

from __future__ import annotations

import json
import os
import shutil
import sqlite3
import time
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import httpx
import pytest
from typer.testing import CliRunner

from opsloop.cli.main import app as cli
from opsloop.domain.entities import Actor
from opsloop.domain.settings import Settings
from opsloop.sdk.client import Client
from opsloop.sdk.models import register_model
from opsloop.server.app import create_app

from ._asgi import SyncASGITransport
from ._models import spam_classifier

ROW = {"num_char": 12.0, "exclaim": 7, "links": 0.0}
PREDICT = {"inputs": [ROW]}
DEPLOY_V2 = {"model": "mod/violation@2", "force": True, "reason": "test"}
CLEAN_ENV: dict[str, str | None] = {
    key: None for key in os.environ if key.startswith("OPSLOOP_")
} | {"OPSLOOP_ACTOR": "cli-user"}


@pytest.fixture(scope="module")
def seeded_home(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """mod/violation versions 1 and 2; endpoints moderation and other serving version 1.
    Written with auth off (local store access), closed before any test opens it."""
    home = tmp_path_factory.mktemp("seed") / "home"
    client = Client(Settings.load(environ={}, home=home, actor="seeder"))
    try:
        model, frame = spam_classifier()
        for _ in range(2):
            register_model(client, model, "mod/violation", input_example=frame.head())
        for endpoint in ("moderation", "other"):
            client.deploy(endpoint, "mod/violation@1", force=True, reason="seed")
    finally:
        client.close()
    return home


@dataclass
class Server:
    http: httpx.Client
    home: Path
    admin: str  # the bootstrap admin token's secret
    admin_name: str

    def call(
        self, method: str, path: str, secret: str | None = None, **options: Any
    ) -> httpx.Response:
        headers = dict(options.pop("headers", {}))
        if secret is not None:
            headers["Authorization"] = f"Bearer {secret}"
        return self.http.request(method, path, headers=headers, **options)

    def issue(self, role: str, **body: Any) -> tuple[str, dict[str, Any]]:
        """A token made through the API by the admin: (secret, stored token)."""
        made = self.call("POST", "/api/v1/tokens", self.admin, json={"role": role, **body})
        assert made.status_code == 201, made.text
        return made.json()["secret"], made.json()["token"]


@pytest.fixture
def server(seeded_home: Path, tmp_path: Path) -> Iterator[Server]:
    home = tmp_path / "home"
    shutil.copytree(seeded_home, home)
    app = create_app(Settings.load(environ={}, home=home, auth=True))
    issued = app.state.platform.auth.create("admin", Actor(name="root"))
    transport = SyncASGITransport(app)
    with httpx.Client(transport=transport, base_url="http://testserver") as http:
        yield Server(http, home, issued.secret, issued.token.name)
    app.state.platform.close()


def error_of(response: httpx.Response, status: int) -> str:
    assert response.status_code == status, response.text
    error = response.json()["error"]
    assert error["code"] == {401: "unauthorized", 403: "forbidden"}[status]
    return str(error["message"])


# -- who are you: 401 -----------------------------------------------------------------------


@pytest.mark.parametrize(
    ("method", "path"),
    [("GET", "/api/v1/endpoints"), ("POST", "/endpoints/moderation/predict")],
)
def test_no_token_is_401_with_the_error_shape(server: Server, method: str, path: str) -> None:
    response = server.call(method, path, json=PREDICT)
    assert "Authorization: Bearer" in error_of(response, 401)
    assert set(response.json()) == {"error"}


@pytest.mark.parametrize(
    ("header", "words"),
    [
        ("Bearer nonsense", "malformed"),
        ("Bearer opl_", "malformed"),
        ("Bearer opl_abc", "malformed"),
        ("Bearer opl_000000000000_secret", "not valid"),
        ("Basic dXNlcjpwYXNz", "needs a token"),
        ("Bearer ", "needs a token"),
    ],
)
def test_bad_tokens_are_401_saying_why(server: Server, header: str, words: str) -> None:
    response = server.call("GET", "/api/v1/endpoints", headers={"Authorization": header})
    assert words in error_of(response, 401)


def test_a_wrong_secret_for_a_real_id_is_401(server: Server) -> None:
    secret, token = server.issue("viewer")
    forged = f"opl_{token['id']}_{'x' * 43}"
    assert forged != secret
    for path in ("/api/v1/endpoints", "/endpoints/moderation/predict"):
        method = "GET" if path.startswith("/api") else "POST"
        answer = server.call(method, path, forged, json=PREDICT)
        assert "not valid" in error_of(answer, 401)
    assert server.call("GET", "/api/v1/endpoints", secret).status_code == 200


def test_a_revoked_token_stops_working_at_once(server: Server) -> None:
    secret, token = server.issue("deployer", name="ci")
    assert server.call("GET", "/api/v1/endpoints", secret).status_code == 200  # now cached
    assert server.call("POST", "/endpoints/moderation/predict", secret, json=PREDICT).is_success
    revoked = server.call("DELETE", f"/api/v1/tokens/{token['id']}", server.admin)
    assert revoked.status_code == 200, revoked.text
    assert revoked.json()["revoked_at"] is not None
    for method, path in [("GET", "/api/v1/endpoints"), ("POST", "/endpoints/moderation/predict")]:
        answer = server.call(method, path, secret, json=PREDICT)
        assert "'ci' was revoked" in error_of(answer, 401)
    listed = server.call("GET", "/api/v1/tokens", server.admin).json()
    assert token["id"] not in [t["id"] for t in listed]
    with_revoked = server.call("GET", "/api/v1/tokens?revoked=true", server.admin).json()
    assert token["id"] in [t["id"] for t in with_revoked]


def test_revoking_an_unknown_token_is_404(server: Server) -> None:
    answer = server.call("DELETE", "/api/v1/tokens/000000000000", server.admin)
    assert answer.status_code == 404
    assert answer.json()["error"]["code"] == "not_found"


def test_an_expired_token_is_refused(server: Server, monkeypatch: pytest.MonkeyPatch) -> None:
    expires = datetime.now(UTC) + timedelta(minutes=5)
    secret, _ = server.issue("viewer", name="brief", expires_at=expires.isoformat())
    assert server.call("GET", "/api/v1/endpoints", secret).status_code == 200  # now cached
    later = time.time() + 600
    monkeypatch.setattr("opsloop.services.auth.now", lambda: later)
    answer = server.call("GET", "/api/v1/endpoints", secret)
    assert "'brief' has expired" in error_of(answer, 401)


def test_a_token_cannot_be_made_already_expired(server: Server) -> None:
    past = (datetime.now(UTC) - timedelta(seconds=1)).isoformat()
    answer = server.call(
        "POST", "/api/v1/tokens", server.admin, json={"role": "viewer", "expires_at": past}
    )
    assert answer.status_code == 422, answer.text
    assert answer.json()["error"]["field"] == "expires_at"


def test_an_unknown_role_is_refused(server: Server) -> None:
    answer = server.call("POST", "/api/v1/tokens", server.admin, json={"role": "root"})
    assert answer.status_code == 422, answer.text
    assert answer.json()["error"]["field"] == "role"


def test_health_needs_no_token(server: Server) -> None:
    assert server.call("GET", "/healthz").json()["status"] == "ok"


# -- what may you do: 403 -------------------------------------------------------------------

WRITES = [
    ("/api/v1/endpoints/moderation/deployments", DEPLOY_V2),
    ("/api/v1/endpoints/moderation/promote", {"reason": "x"}),
    ("/api/v1/endpoints/moderation/rollback", {"reason": "x"}),
]


@pytest.mark.parametrize("role", ["viewer", "reviewer"])
@pytest.mark.parametrize(("path", "body"), WRITES)
def test_readers_cannot_change_deployments(
    server: Server, role: str, path: str, body: dict[str, Any]
) -> None:
    secret, token = server.issue(role)
    message = error_of(server.call("POST", path, secret, json=body), 403)
    assert f"token {token['name']!r} has role {role}; this needs deployer" in message
    history = server.call("GET", "/api/v1/endpoints/moderation/deployments", secret).json()
    assert len(history) == 1  # nothing happened


def test_a_viewer_can_read_and_predict(server: Server) -> None:
    secret, _ = server.issue("viewer")
    endpoints = server.call("GET", "/api/v1/endpoints", secret)
    assert endpoints.status_code == 200
    assert {e["name"] for e in endpoints.json()} == {"moderation", "other"}
    assert server.call("GET", "/api/v1/endpoints/moderation/deployments", secret).is_success
    answer = server.call("POST", "/endpoints/moderation/predict", secret, json=PREDICT)
    assert answer.status_code == 200, answer.text
    assert answer.json()["model"] == "mod/violation@1"


def test_a_deployer_can_deploy_and_roll_back(server: Server) -> None:
    secret, _ = server.issue("deployer")
    deployed = server.call("POST", WRITES[0][0], secret, json=DEPLOY_V2)
    assert deployed.status_code == 201, deployed.text
    assert deployed.json()["version"] == 2
    predicted = server.call("POST", "/endpoints/moderation/predict", secret, json=PREDICT)
    assert predicted.json()["model"] == "mod/violation@2"
    back = server.call("POST", WRITES[2][0], secret, json={"reason": "undo"})
    assert back.status_code == 201, back.text
    assert back.json()["action"] == "rollback"
    predicted = server.call("POST", "/endpoints/moderation/predict", secret, json=PREDICT)
    assert predicted.json()["model"] == "mod/violation@1"


@pytest.mark.parametrize(("role", "status"), [("viewer", 403), ("reviewer", 200)])
def test_feedback_needs_a_reviewer(server: Server, role: str, status: int) -> None:
    secret, token = server.issue(role)
    answer = server.call("POST", "/endpoints/moderation/predict", secret, json=PREDICT)
    (prediction,) = answer.json()["predictions"]
    labels = {"feedback": [{"id": prediction["id"], "label": 1}]}
    sent = server.call("POST", "/endpoints/moderation/feedback", secret, json=labels)
    if status == 403:
        assert "has role viewer; this needs reviewer" in error_of(sent, 403)
    else:
        assert sent.status_code == 200, sent.text
        assert sent.json()["accepted"] == 1
        events = server.call("GET", "/api/v1/events?kind=feedback.received", secret).json()
        assert [e["actor"] for e in events] == [token["name"]]


@pytest.mark.parametrize("role", ["viewer", "reviewer", "deployer"])
@pytest.mark.parametrize(
    ("method", "path", "body"),
    [
        ("GET", "/api/v1/tokens", None),
        ("POST", "/api/v1/tokens", {"role": "viewer"}),
        ("DELETE", "/api/v1/tokens/{own}", None),
    ],
)
def test_only_an_admin_manages_tokens(
    server: Server, role: str, method: str, path: str, body: Any
) -> None:
    secret, token = server.issue(role)
    answer = server.call(method, path.format(own=token["id"]), secret, json=body)
    assert f"has role {role}; this needs admin" in error_of(answer, 403)
    assert token["id"] in [
        t["id"] for t in server.call("GET", "/api/v1/tokens", server.admin).json()
    ]


def test_a_deployer_cannot_mint_an_admin_token(server: Server) -> None:
    secret, _ = server.issue("deployer")
    minted = server.call("POST", "/api/v1/tokens", secret, json={"role": "admin"})
    assert minted.status_code == 403, minted.text


def test_an_admin_may_do_everything(server: Server) -> None:
    assert server.call("GET", "/api/v1/tokens", server.admin).status_code == 200
    deployed = server.call("POST", WRITES[0][0], server.admin, json=DEPLOY_V2)
    assert deployed.status_code == 201, deployed.text
    assert server.call(
        "POST", "/endpoints/moderation/predict", server.admin, json=PREDICT
    ).is_success


# -- one endpoint only ----------------------------------------------------------------------


def test_a_scoped_token_works_on_its_endpoint_only(server: Server) -> None:
    secret, token = server.issue("viewer", name="mod-only", endpoint="moderation")
    assert token["endpoint"] == "moderation"
    mine = server.call("POST", "/endpoints/moderation/predict", secret, json=PREDICT)
    assert mine.status_code == 200, mine.text
    elsewhere = server.call("POST", "/endpoints/other/predict", secret, json=PREDICT)
    assert "may only be used on endpoint 'moderation'" in error_of(elsewhere, 403)
    for path in (
        "/api/v1/endpoints",
        "/api/v1/projects",
        "/api/v1/endpoints/other",
        "/api/v1/endpoints/other/deployments",
        "/api/v1/events",
    ):
        assert "'moderation'" in error_of(server.call("GET", path, secret), 403), path


def test_a_scoped_deployer_cannot_deploy_elsewhere(server: Server) -> None:
    secret, _ = server.issue("deployer", endpoint="moderation")
    other = server.call("POST", "/api/v1/endpoints/other/deployments", secret, json=DEPLOY_V2)
    assert "may only be used on endpoint 'moderation'" in error_of(other, 403)
    mine = server.call("POST", WRITES[0][0], secret, json=DEPLOY_V2)
    assert mine.status_code == 201, mine.text


def test_a_scoped_role_still_applies(server: Server) -> None:
    secret, _ = server.issue("viewer", endpoint="moderation")
    answer = server.call("POST", WRITES[0][0], secret, json=DEPLOY_V2)
    assert "this needs deployer" in error_of(answer, 403)


def test_a_scoped_token_does_not_reach_datasets_named_like_its_endpoint(server: Server) -> None:
    secret, _ = server.issue("viewer", endpoint="moderation")
    answer = server.call("GET", "/api/v1/projects/mod/datasets/moderation/versions", secret)
    assert answer.status_code == 403, answer.text


# -- who did it -----------------------------------------------------------------------------


def test_the_actor_recorded_is_the_tokens_name_not_the_header(server: Server) -> None:
    secret, _ = server.issue("deployer", name="ci-bot")
    spoof = {"X-Opsloop-Actor": "mallory"}
    deployed = server.call("POST", WRITES[0][0], secret, json=DEPLOY_V2, headers=spoof)
    assert deployed.status_code == 201, deployed.text
    assert deployed.json()["actor"] == "ci-bot"
    history = server.call("GET", "/api/v1/endpoints/moderation/deployments", secret).json()
    assert history[0]["actor"] == "ci-bot"
    events = server.call("GET", "/api/v1/events?subject=endpoint:moderation", secret).json()
    assert "ci-bot" in {e["actor"] for e in events}
    assert "mallory" not in {e["actor"] for e in events}
    created = server.call("GET", "/api/v1/events?kind=token.created", server.admin).json()
    assert {e["actor"] for e in created} == {"root", server.admin_name}  # bootstrap, then API


def test_a_token_cannot_pass_its_work_off_as_a_pipelines(server: Server) -> None:
    secret, _ = server.issue("deployer", name="ci-bot")
    before = server.call("GET", "/api/v1/endpoints/moderation/deployments", secret).json()
    claim = {"X-Opsloop-Actor-Kind": "pipeline"}
    refused = server.call("POST", WRITES[0][0], secret, json=DEPLOY_V2, headers=claim)
    assert "a token acts as a user, not as a pipeline" in error_of(refused, 403)
    after = server.call("GET", "/api/v1/endpoints/moderation/deployments", secret).json()
    assert after == before  # nothing deployed
    as_user = {"X-Opsloop-Actor-Kind": "user"}
    deployed = server.call("POST", WRITES[0][0], secret, json=DEPLOY_V2, headers=as_user)
    assert deployed.status_code == 201, deployed.text


# -- secrets --------------------------------------------------------------------------------


def test_secrets_are_never_stored_or_listed(server: Server) -> None:
    secret, token = server.issue("deployer", name="ci")
    assert secret.startswith(f"opl_{token['id']}_")
    raw = secret.split("_", 2)[2]
    listed = server.call("GET", "/api/v1/tokens", server.admin)
    assert raw not in listed.text
    assert server.admin.split("_", 2)[2] not in listed.text
    assert all("secret" not in key for t in listed.json() for key in t)
    assert {t["name"] for t in listed.json()} >= {"ci"}
    with sqlite3.connect(server.home / "opsloop.db") as db:
        stored = db.execute("SELECT * FROM tokens WHERE id = ?", (token["id"],)).fetchone()
        (stored_hash,) = db.execute(
            "SELECT secret_hash FROM tokens WHERE id = ?", (token["id"],)
        ).fetchone()
    assert stored_hash != raw
    assert raw not in json.dumps(stored) and secret not in json.dumps(stored)
    on_disk = b"".join(p.read_bytes() for p in server.home.glob("opsloop.db*"))
    assert raw.encode() not in on_disk


# -- auth off -------------------------------------------------------------------------------


def test_with_auth_off_no_token_is_needed(api: httpx.Client) -> None:
    made = api.post("/api/v1/projects", json={"name": "p"}, headers={"X-Opsloop-Actor": "alice"})
    assert made.status_code == 201, made.text
    events = api.get("/api/v1/events").json()
    assert [e["actor"] for e in events] == ["alice"]


# -- the CLI --------------------------------------------------------------------------------


def test_server_refuses_a_public_bind_with_auth_off(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    import uvicorn

    def must_not_run(*_: Any, **__: Any) -> None:
        raise AssertionError("the server started")

    monkeypatch.setattr(uvicorn.Server, "run", must_not_run)
    monkeypatch.setattr("opsloop.server.app.create_app", must_not_run)
    result = CliRunner().invoke(
        cli,
        ["--home", str(tmp_path / "h"), "server", "--host", "0.0.0.0", "--no-auth"],
        env=CLEAN_ENV,
    )
    assert result.exit_code != 0
    assert not isinstance(result.exception, AssertionError), result.exception
    assert result.stderr.startswith("error:"), result.stderr
    assert "authentication off" in result.stderr
    assert len(result.stderr.strip().splitlines()) == 1, result.stderr
    assert "Traceback" not in result.output


def test_cli_creates_a_token_then_lists_it(tmp_path: Path) -> None:
    home = tmp_path / "h"
    made = CliRunner().invoke(
        cli,
        ["--home", str(home), "tokens", "create", "--role", "deployer", "--name", "ci"],
        env=CLEAN_ENV,
    )
    assert made.exit_code == 0, (made.output, made.exception)
    secret = made.stdout.strip()
    assert secret.startswith("opl_")
    assert "not shown again" in made.stderr
    listed = CliRunner().invoke(
        cli, ["--home", str(home), "tokens", "list", "--json"], env=CLEAN_ENV
    )
    assert listed.exit_code == 0, (listed.output, listed.exception)
    tokens = json.loads(listed.stdout)
    assert [(t["name"], t["role"], t["created_by"]) for t in tokens] == [
        ("ci", "deployer", "cli-user")
    ]
    assert secret.split("_", 2)[2] not in listed.stdout
    assert secret.startswith(f"opl_{tokens[0]['id']}_")


def test_the_cli_bootstraps_a_token_when_auth_is_configured(tmp_path: Path) -> None:
    home = tmp_path / "h"
    home.mkdir()
    (home / "config.toml").write_text("auth = true\n")
    made = CliRunner().invoke(
        cli, ["--home", str(home), "tokens", "create", "--role", "admin"], env=CLEAN_ENV
    )
    assert made.exit_code == 0, made.stderr
    assert made.stdout.startswith("opl_")
