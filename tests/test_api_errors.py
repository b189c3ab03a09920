"""The one JSON error shape of the REST API, and the rule that a refused write changes nothing."""

from __future__ import annotations

import hashlib
import json
from typing import Any

import httpx
import pyarrow as pa
import pytest
from sklearn.linear_model import LogisticRegression

from opsloop.services import flavors
from opsloop.services.datasets import table_to_parquet

V1 = "/api/v1"
MISSING_SHA = "0" * 64
RUN = "{run}"  # replaced by the seeded running run's id
FINISHED = "{finished}"  # replaced by the seeded finished run's id


def series(values: list[float], start: int = 0) -> dict[str, list[Any]]:
    steps = list(range(start, start + len(values)))
    return {"values": values, "steps": steps, "timestamps": [1_000 + s for s in steps]}


def upload(api: httpx.Client, data: bytes) -> str:
    digest = hashlib.sha256(data).hexdigest()
    response = api.put(f"{V1}/artifacts/{digest}", content=data)
    assert response.status_code == 200, response.text
    return digest


@pytest.fixture
def seeded(api: httpx.Client) -> dict[str, str]:
    """Project p with a running run (param C=1, metric loss), a finished run, model m@1 with
    alias champion, and dataset d@1."""
    assert api.post(f"{V1}/projects", json={"name": "p", "description": "first"}).is_success
    running = api.post(f"{V1}/runs", json={"project": "p", "name": "live", "params": {"C": 1}})
    run_id = running.json()["id"]
    logged = api.post(f"{V1}/runs/{run_id}/log", json={"metrics": {"loss": series([0.9, 0.5])}})
    assert logged.status_code == 200, logged.text
    finished = api.post(f"{V1}/runs", json={"project": "p", "name": "done"}).json()["id"]
    ended = api.post(f"{V1}/runs/{finished}/end", json={"metrics": {"f1": series([0.8])}})
    assert ended.status_code == 200, ended.text

    model = LogisticRegression().fit([[0.0], [1.0], [2.0], [3.0]], [0, 0, 1, 1])
    sha = upload(api, flavors.get("sklearn").save(model))
    registered = api.post(
        f"{V1}/projects/p/models/m/versions", json={"flavor": "sklearn", "sha256": sha}
    )
    assert registered.status_code == 201, registered.text
    moved = api.put(f"{V1}/projects/p/models/m/aliases/champion", json={"version": 1})
    assert moved.status_code == 200, moved.text

    table = upload(api, table_to_parquet(pa.table({"x": [1, 2, 3], "y": ["a", "b", "a"]})))
    made = api.post(f"{V1}/projects/p/datasets/d/versions", json={"sha256": table})
    assert made.status_code == 201, made.text
    return {"run": run_id, "finished": finished, "model_sha": sha, "table_sha": table}


def fill(path: str, seeded: dict[str, str]) -> str:
    return path.replace(RUN, seeded["run"]).replace(FINISHED, seeded["finished"])


def snapshot(api: httpx.Client, seeded: dict[str, str]) -> dict[str, Any]:
    """Everything a reader can see; the event log alone catches any write that slipped in."""
    paths = [
        "/events",
        "/projects",
        "/projects/p",
        "/projects/p/experiments",
        "/projects/p/runs",
        f"/runs/{seeded['run']}",
        f"/runs/{seeded['finished']}",
        f"/runs/{seeded['run']}/metrics/loss",
        "/models",
        "/projects/p/models/m/versions",
        "/projects/p/models/m/aliases/champion/history",
        "/datasets",
        "/projects/p/datasets/d/versions",
    ]
    return {path: api.get(V1 + path).json() for path in paths}


def assert_error(response: httpx.Response, status: int, code: str, field: str | None) -> None:
    assert response.status_code == status, response.text
    assert response.headers["content-type"].startswith("application/json")
    body = response.json()
    assert list(body) == ["error"], body
    error = body["error"]
    assert error["code"] == code, error
    assert isinstance(error["message"], str) and error["message"].strip(), error
    assert error.get("field") == field, error
    assert set(error) <= {"code", "message", "field", "detail"}, error


def refused_write(
    api: httpx.Client, seeded: dict[str, str], method: str, path: str, **request: Any
) -> httpx.Response:
    """Send a write that must fail, and check it left the store exactly as it was."""
    if request.get("json") is not None:
        request["json"] = json.loads(fill(json.dumps(request["json"]), seeded))
    before = snapshot(api, seeded)
    response = api.request(method, V1 + fill(path, seeded), **request)
    assert snapshot(api, seeded) == before, f"{method} {path} changed the store"
    return response


# -- not found -------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("path", "field"),
    [
        ("/projects/ghost", "project"),
        ("/projects/ghost/experiments", "project"),
        ("/projects/ghost/runs", "project"),
        ("/projects/p/runs?experiment=ghost", "experiment"),
        ("/runs/deadbeef00", "run_id"),
        ("/runs/deadbeef00/metrics/loss", "run_id"),
        (f"/runs/{RUN}/metrics/ghost", "key"),
        ("/models?project=ghost", "project"),
        ("/projects/ghost/models/m", "project"),
        ("/projects/p/models/ghost", "model"),
        ("/projects/p/models/ghost/versions", "model"),
        ("/projects/p/models/m/versions/9", "version"),
        ("/projects/p/models/m/versions/challenger", "alias"),
        ("/projects/p/models/ghost/aliases/champion/history", "model"),
        ("/datasets?project=ghost", "project"),
        ("/projects/ghost/datasets/d/versions/latest", "project"),
        ("/projects/p/datasets/ghost/versions", "dataset"),
        ("/projects/p/datasets/ghost/versions/latest", "dataset"),
        ("/projects/p/datasets/d/versions/9", "version"),
        (f"/artifacts/{MISSING_SHA}", "sha256"),
    ],
)
def test_reading_an_unknown_thing_is_not_found_naming_the_field(
    api: httpx.Client, seeded: dict[str, str], path: str, field: str
) -> None:
    assert_error(api.get(V1 + fill(path, seeded)), 404, "not_found", field)


@pytest.mark.parametrize(
    ("method", "path", "body", "field"),
    [
        ("POST", "/runs/deadbeef00/log", {"metrics": {"x": series([1.0])}}, "run_id"),
        ("POST", "/runs/deadbeef00/end", {}, "run_id"),
        ("POST", "/runs", {"project": "p", "parent_id": "deadbeef00"}, "parent_id"),
        ("PUT", "/projects/p/models/ghost/aliases/champion", {"version": 1}, "model"),
        ("PUT", "/projects/p/models/m/aliases/champion", {"version": 9}, "version"),
        ("DELETE", "/projects/p/models/m/aliases/challenger", None, "alias"),
        ("POST", "/projects/p/datasets/e/versions", {"sha256": MISSING_SHA}, "sha256"),
        (
            "POST",
            "/projects/p/models/m/versions",
            {"flavor": "sklearn", "sha256": MISSING_SHA},
            "sha256",
        ),
        ("POST", f"/runs/{RUN}/inputs", {"dataset": "p/ghost"}, "dataset"),
        ("POST", f"/runs/{RUN}/inputs", {"dataset": "p/d@9"}, "version"),
        ("POST", f"/runs/{RUN}/artifacts", {"path": "a.txt", "sha256": MISSING_SHA}, "sha256"),
    ],
)
def test_writing_to_an_unknown_thing_is_not_found_and_changes_nothing(
    api: httpx.Client,
    seeded: dict[str, str],
    method: str,
    path: str,
    body: dict[str, Any] | None,
    field: str,
) -> None:
    response = refused_write(api, seeded, method, path, json=body)
    assert_error(response, 404, "not_found", field)


def test_an_unknown_route_is_not_found_in_the_same_shape(api: httpx.Client) -> None:
    assert_error(api.get(f"{V1}/nowhere"), 404, "not_found", None)


# -- conflicts -------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("method", "path", "body", "field"),
    [
        ("POST", "/projects", {"name": "p", "description": "second"}, "project"),
        ("POST", "/projects/p/models", {"name": "m", "description": "second"}, "model"),
        ("POST", f"/runs/{FINISHED}/log", {"metrics": {"f1": series([0.1], 5)}}, "run_id"),
        ("POST", f"/runs/{FINISHED}/log", {"tags": {"late": "yes"}}, "run_id"),
        ("POST", f"/runs/{FINISHED}/end", {"status": "FAILED", "error": "again"}, "run_id"),
        (
            "POST",
            f"/runs/{RUN}/log",
            {"params": {"C": 2}, "metrics": {"acc": series([0.5])}},
            "params.C",
        ),
        ("POST", f"/runs/{RUN}/end", {"params": {"C": "1.5"}}, "params.C"),
        ("POST", "/runs", {"project": "p", "id": RUN}, "id"),
    ],
)
def test_conflicting_writes_are_409_and_change_nothing(
    api: httpx.Client,
    seeded: dict[str, str],
    method: str,
    path: str,
    body: dict[str, Any],
    field: str,
) -> None:
    response = refused_write(api, seeded, method, path, json=body)
    assert_error(response, 409, "conflict", field)


def test_a_refused_param_change_keeps_the_first_value(
    api: httpx.Client, seeded: dict[str, str]
) -> None:
    run_id = seeded["run"]
    assert api.post(f"{V1}/runs/{run_id}/log", json={"params": {"C": 1}}).status_code == 200
    assert api.post(f"{V1}/runs/{run_id}/log", json={"params": {"C": 3}}).status_code == 409
    assert api.get(f"{V1}/runs/{run_id}").json()["params"] == {"C": "1"}


# -- invalid input ---------------------------------------------------------------------------


BIG = "x" * 6001


@pytest.mark.parametrize(
    ("method", "path", "body", "field"),
    [
        # wrong types
        (
            "POST",
            f"/runs/{RUN}/log",
            {"metrics": {"loss": {"values": ["high"], "steps": [2], "timestamps": [2]}}},
            "metrics.loss.values.0",
        ),
        (
            "POST",
            f"/runs/{RUN}/log",
            {"metrics": {"loss": {"values": [1.0], "steps": ["two"], "timestamps": [2]}}},
            "metrics.loss.steps.0",
        ),
        ("POST", f"/runs/{RUN}/log", {"metrics": {"loss": [0.1, 0.2]}}, "metrics.loss"),
        ("POST", f"/runs/{RUN}/log", {"params": ["a", "b"]}, "params"),
        ("POST", "/runs", {"project": "p", "params": ["a", "b"]}, "params"),
        ("POST", "/runs", {"project": "p", "params": {"obj": [1, 2]}}, "params.obj"),
        ("POST", f"/runs/{RUN}/log", {"params": {"obj": {"a": 1}}}, "params.obj"),
        ("POST", "/projects", {"name": 3}, "name"),
        ("POST", "/runs", {"experiment": "e"}, "project"),
        ("PUT", "/projects/p/models/m/aliases/champion", {"version": 0}, "version"),
        ("PUT", "/projects/p/models/m/aliases/champion", {"version": -1}, "version"),
        ("PUT", "/projects/p/models/m/aliases/champion", {"version": "x"}, "version"),
        ("PUT", "/projects/p/models/m/aliases/champion", {}, "version"),
        ("POST", f"/runs/{RUN}/end", {"status": "DONE"}, "status"),
        ("POST", f"/runs/{RUN}/end", {"status": "RUNNING"}, "status"),
        ("POST", "/runs", {"project": "p", "end": "RUNNING"}, "end"),
        ("POST", "/runs", {"project": "p", "end": "DONE"}, "end"),
        ("POST", "/runs", {"project": "p", "id": "not-hex"}, "id"),
        ("POST", "/runs", {"project": "p", "id": "A" * 32}, "id"),
        ("POST", "/runs", {"project": "p", "start_time": "2999-01-01T00:00:00Z"}, "start_time"),
        ("POST", "/runs", {"project": "p", "start_time": "soon"}, "start_time"),
        # times that read as year 0 or 10000 in UTC: once stored they could not be read back
        (
            "POST",
            "/runs",
            {"project": "p", "start_time": "0001-01-01T00:00:00+14:00"},
            "start_time",
        ),
        (
            "POST",
            "/tokens",
            {"role": "viewer", "expires_at": "9999-12-31T23:59:59-14:00"},
            "expires_at",
        ),
        # unknown fields (extra=forbid)
        ("POST", "/projects", {"name": "q", "colour": "red"}, "colour"),
        ("POST", "/runs", {"project": "p", "metricz": {}}, "metricz"),
        ("POST", f"/runs/{RUN}/log", {"metricz": {}}, "metricz"),
        ("POST", f"/runs/{RUN}/end", {"reason": "done"}, "reason"),
        ("POST", "/projects/p/models", {"name": "n", "stage": "prod"}, "stage"),
        ("PUT", "/projects/p/models/m/aliases/champion", {"version": 1, "by": "me"}, "by"),
        # names
        ("POST", "/projects", {"name": ""}, "project"),
        ("POST", "/projects", {"name": "a/b"}, "project"),
        ("POST", "/projects", {"name": ".."}, "project"),
        ("POST", "/projects", {"name": "a\\b"}, "project"),
        ("POST", "/runs", {"project": ""}, "project"),
        ("POST", "/runs", {"project": "a/b"}, "project"),
        ("POST", "/runs", {"project": "p", "experiment": "a/b"}, "experiment"),
        ("POST", "/runs", {"project": "p", "name": ""}, "name"),
        ("POST", "/projects/p/models", {"name": ""}, "model"),
        ("POST", "/projects/p/models", {"name": "a/b"}, "model"),
        ("PUT", "/projects/p/models/m/aliases/latest", {"version": 1}, "alias"),
        ("PUT", "/projects/p/models/m/aliases/7", {"version": 1}, "alias"),
        ("POST", f"/runs/{RUN}/log", {"metrics": {"../up": series([1.0])}}, "metrics key"),
        # sizes and values
        ("POST", "/runs", {"project": "q", "params": {"big": BIG}}, "params.big"),
        ("POST", "/runs", {"project": "q", "tags": {"big": BIG}}, "tags.big"),
        (
            "POST",
            "/runs",
            {"project": "q", "metrics": {"loss": {"values": [1], "steps": [], "timestamps": []}}},
            "metrics.loss",
        ),
        ("POST", f"/runs/{RUN}/log", {"params": {"big": BIG}}, "params.big"),
        (
            "POST",
            f"/runs/{RUN}/log",
            {
                "metrics": {
                    "acc": series([0.5]),
                    "loss": {"values": [1, 2], "steps": [3], "timestamps": [3]},
                }
            },
            "metrics.loss",
        ),
        (
            "POST",
            f"/runs/{RUN}/log",
            {"metrics": {"loss": {"values": [1.0], "steps": [-1], "timestamps": [3]}}},
            "metrics.loss.steps.0",
        ),
        (
            "POST",
            f"/runs/{RUN}/log",
            {"metrics": {"loss": {"values": [1.0], "steps": [2**70], "timestamps": [3]}}},
            "metrics.loss.steps.0",
        ),
        (
            "POST",
            f"/runs/{RUN}/log",
            {"metrics": {"loss": {"values": [1.0], "steps": [1], "timestamps": [2**64]}}},
            "metrics.loss.timestamps.0",
        ),
        # references
        ("POST", "/projects/p/models/m/versions", {"flavor": "nope", "sha256": "{sha}"}, "flavor"),
        ("POST", "/projects/p/models/m/versions", {"flavor": "sklearn", "sha256": "xyz"}, "sha256"),
        ("POST", f"/runs/{RUN}/artifacts", {"path": "../x", "sha256": "{sha}"}, "path"),
        ("POST", f"/runs/{RUN}/inputs", {"dataset": "no-project"}, "dataset"),
        ("POST", "/projects/p/datasets/e/versions", {"sha256": "{sha}"}, "sha256"),
    ],
)
def test_invalid_bodies_are_422_naming_the_field_and_change_nothing(
    api: httpx.Client,
    seeded: dict[str, str],
    method: str,
    path: str,
    body: dict[str, Any],
    field: str,
) -> None:
    if body.get("sha256") == "{sha}":  # a blob that exists but is not a Parquet table
        body = {**body, "sha256": seeded["model_sha"]}
    response = refused_write(api, seeded, method, path, json=body)
    assert_error(response, 422, "invalid", field)


@pytest.mark.parametrize(
    ("path", "text", "field"),
    [
        (
            f"/runs/{RUN}/log",
            '{"metrics": {"loss": {"values": [NaN], "steps": [2], "timestamps": [2]}}}',
            "metrics.loss",
        ),
        (
            f"/runs/{RUN}/log",
            '{"metrics": {"ok": {"values": [1.0], "steps": [0], "timestamps": [0]},'
            ' "loss": {"values": [0.4, Infinity], "steps": [2, 3], "timestamps": [2, 3]}}}',
            "metrics.loss",
        ),
        (
            f"/runs/{RUN}/end",
            '{"metrics": {"loss": {"values": [-Infinity], "steps": [2], "timestamps": [2]}}}',
            "metrics.loss",
        ),
        ("/runs", '{"project": "q", "params": {"lr": NaN}}', "params.lr"),
        (
            "/runs",
            '{"project": "q", "metrics": {"loss": {"values": [NaN], "steps": [0],'
            ' "timestamps": [0]}}, "end": "FINISHED"}',
            "metrics.loss",
        ),
        (f"/runs/{RUN}/log", "not json", "body"),
        (f"/runs/{RUN}/log", "", "body"),
        (f"/runs/{RUN}/log", "[1, 2]", "body"),
        (f"/runs/{RUN}/end", '{"status": ', "body"),
        ("/projects", "not json", "body"),
        ("/runs", '{"project": ', "body"),
    ],
)
def test_raw_json_text_that_is_not_allowed_is_422(
    api: httpx.Client, seeded: dict[str, str], path: str, text: str, field: str
) -> None:
    headers = {"Content-Type": "application/json"}
    response = refused_write(api, seeded, "POST", path, content=text, headers=headers)
    assert_error(response, 422, "invalid", field)


def test_an_upload_that_does_not_match_its_name_is_refused_and_not_stored(
    api: httpx.Client,
) -> None:
    data = b"the real bytes"
    claimed = hashlib.sha256(b"other bytes").hexdigest()
    assert_error(api.put(f"{V1}/artifacts/{claimed}", content=data), 422, "invalid", "sha256")
    assert_error(api.get(f"{V1}/artifacts/{claimed}"), 404, "not_found", "sha256")
    actual = hashlib.sha256(data).hexdigest()
    assert_error(api.get(f"{V1}/artifacts/{actual}"), 404, "not_found", "sha256")


@pytest.mark.parametrize(
    ("query", "field"),
    [
        ({"filter": "metrics.f1 >"}, "filter"),
        ({"filter": "bogus = 1"}, "filter"),
        ({"filter": "metrics.f1 = 'high'"}, "filter"),
        ({"filter": "metrics.f1 ~ 3"}, "filter"),
        ({"filter": "name like 3"}, "filter"),
        ({"filter": "metrics. = 1"}, "filter"),
        ({"filter": "params.C = '1' and"}, "filter"),
        ({"order_by": "name sideways"}, "order_by"),
        ({"order_by": "bogus desc"}, "order_by"),
        ({"order_by": "name asc extra"}, "order_by"),
        ({"limit": "0"}, "limit"),
        ({"limit": "10001"}, "limit"),
        ({"limit": "many"}, "limit"),
        ({"offset": "-1"}, "offset"),
    ],
)
def test_malformed_searches_are_422_naming_the_parameter(
    api: httpx.Client, seeded: dict[str, str], query: dict[str, str], field: str
) -> None:
    assert_error(api.get(f"{V1}/projects/p/runs", params=query), 422, "invalid", field)


@pytest.mark.parametrize(
    ("path", "field"),
    [
        ("/projects/p/datasets/d/versions/x", "version"),
        ("/artifacts/xyz", "sha256"),
        (f"/artifacts/{'A' * 64}", "sha256"),
        ("/events?limit=0", "limit"),
        ("/events?after_id=-1", "after_id"),
        ("/events?since=yesterday", "since"),
        ("/events?since=0001-01-01T00:00:00%2B14:00", "since"),
        ("/events?until=9999-12-31T23:59:59-14:00", "until"),
        ("/projects/p/models/m/aliases/champion/history?limit=0", "limit"),
    ],
)
def test_malformed_reads_are_422_naming_the_parameter(
    api: httpx.Client, seeded: dict[str, str], path: str, field: str
) -> None:
    assert_error(api.get(V1 + path), 422, "invalid", field)


GARBAGE = ["null", "[]", '"text"', "42", '{"": 1}', '{"a": NaN}', "\xff\xfe"]


def write_routes(api: httpx.Client) -> list[tuple[str, str]]:
    spec = api.get("/openapi.json").json()
    found = []
    for path, operations in spec["paths"].items():
        for method in operations:
            if method in ("post", "put") and path.startswith(V1):
                found.append((method.upper(), path))
    return found


def test_no_write_route_answers_garbage_with_a_server_error(
    api: httpx.Client, seeded: dict[str, str]
) -> None:
    names = {
        "{project}": "p",
        "{model}": "m",
        "{name}": "d",
        "{alias}": "champion",
        "{run_id}": seeded["run"],
        "{sha256}": MISSING_SHA,
    }
    routes = write_routes(api)
    assert len(routes) >= 9
    for method, template in routes:
        path = template
        for placeholder, value in names.items():
            path = path.replace(placeholder, value)
        for text in GARBAGE:
            response = api.request(
                method,
                path,
                content=text.encode("latin-1"),
                headers={"Content-Type": "application/json"},
            )
            assert 400 <= response.status_code < 500, (method, path, text, response.text)
            assert set(response.json()["error"]) >= {"code", "message"}


@pytest.mark.parametrize(
    ("path", "field"),
    [
        ("/api/v1/projects/p/models/m/versions/\u00b2", "version"),
        (f"/api/v1/projects/p/models/m/versions/{2**70}", "version"),
        (f"/api/v1/projects/p/datasets/d/versions/{2**70}", "version"),
        ("/api/v1/projects/p/datasets/d/versions/\u00b2", "version"),
        (f"/api/v1/projects/p/runs?offset={2**70}", "offset"),
        (f"/api/v1/evaluations/{2**70}", "evaluation_id"),
        (f"/api/v1/evaluations/{2**31}", "evaluation_id"),
        ("/api/v1/evaluations/0", "evaluation_id"),
    ],
)
def test_out_of_range_numbers_in_urls_are_422(api: httpx.Client, path: str, field: str) -> None:
    api.post("/api/v1/projects", json={"name": "p"})
    response = api.get(path)
    assert response.status_code == 422, response.text
    assert response.json()["error"]["field"] == field
