"""The REST API's happy paths, over real HTTP to a fresh app."""

from __future__ import annotations

import hashlib
import json
from typing import Any

import httpx
import pyarrow as pa
import pytest
from sklearn.linear_model import LogisticRegression

from opsloop import __version__
from opsloop.services import flavors
from opsloop.services.datasets import table_to_parquet

V1 = "/api/v1"


def series(values: list[float], start: int = 0) -> dict[str, list[Any]]:
    steps = list(range(start, start + len(values)))
    return {"values": values, "steps": steps, "timestamps": [1_000 + s for s in steps]}


def ok(response: httpx.Response, status: int = 200) -> Any:
    assert response.status_code == status, response.text
    return response.json()


def upload(api: httpx.Client, data: bytes) -> str:
    digest = hashlib.sha256(data).hexdigest()
    assert ok(api.put(f"{V1}/artifacts/{digest}", content=data)) == {
        "sha256": digest,
        "size": len(data),
    }
    return digest


def start_run(api: httpx.Client, **body: Any) -> dict[str, Any]:
    created: dict[str, Any] = ok(api.post(f"{V1}/runs", json={"project": "p", **body}), 201)
    return created


def model_blob(c: float = 1.0) -> bytes:
    model = LogisticRegression(C=c).fit([[0.0], [1.0], [2.0], [3.0]], [0, 0, 1, 1])
    return flavors.get("sklearn").save(model)


def test_health_reports_ok_and_the_version(api: httpx.Client) -> None:
    assert ok(api.get("/healthz")) == {"status": "ok", "version": __version__}


# -- projects --------------------------------------------------------------------------------


def test_projects_are_created_listed_and_read(api: httpx.Client) -> None:
    created = ok(api.post(f"{V1}/projects", json={"name": "p", "description": "posts"}), 201)
    assert (created["name"], created["description"]) == ("p", "posts")
    ok(api.post(f"{V1}/projects", json={"name": "another"}), 201)

    assert [p["name"] for p in ok(api.get(f"{V1}/projects"))] == ["another", "p"]
    assert ok(api.get(f"{V1}/projects/p")) == created
    assert ok(api.get(f"{V1}/projects/p/experiments")) == []


def test_a_run_creates_its_project_and_experiment(api: httpx.Client) -> None:
    start_run(api, experiment="sweep")
    start_run(api, experiment="baseline")
    assert [p["name"] for p in ok(api.get(f"{V1}/projects"))] == ["p"]
    experiments = ok(api.get(f"{V1}/projects/p/experiments"))
    assert sorted(e["name"] for e in experiments) == ["baseline", "sweep"]
    assert {e["project"] for e in experiments} == {"p"}


# -- runs ------------------------------------------------------------------------------------


def test_run_lifecycle_create_log_end_get_history(api: httpx.Client) -> None:
    run = start_run(
        api,
        name="lr",
        params={"C": 1.0, "penalty": "l2", "fit_intercept": True},
        tags={"team": "mod"},
        git_sha="abc123",
        git_dirty=False,
        python_version="3.11.9",
    )
    assert run["status"] == "RUNNING"
    assert run["params"] == {"C": "1.0", "penalty": "l2", "fit_intercept": "True"}
    assert (run["git_sha"], run["git_dirty"], run["python_version"]) == ("abc123", False, "3.11.9")
    run_id = run["id"]

    first = {"metrics": {"loss": series([0.9, 0.5, 0.4]), "val/acc": series([0.6])}}
    assert ok(api.post(f"{V1}/runs/{run_id}/log", json=first)) == {"metrics_written": 4}
    second = {"metrics": {"loss": series([0.3], start=3)}, "tags": {"stage": "fit"}}
    assert ok(api.post(f"{V1}/runs/{run_id}/log", json=second)) == {"metrics_written": 1}

    ended = ok(
        api.post(
            f"{V1}/runs/{run_id}/end",
            json={"metrics": {"f1": series([0.81])}, "params": {"epochs": 4}},
        )
    )
    assert ended["status"] == "FINISHED"
    assert ended["end_time"] is not None and ended["duration_s"] >= 0
    assert ended["metrics"] == {"loss": 0.3, "val/acc": 0.6, "f1": 0.81}

    fetched = ok(api.get(f"{V1}/runs/{run_id}"))
    assert fetched == ended
    assert fetched["params"]["epochs"] == "4"
    assert fetched["tags"] == {"team": "mod", "stage": "fit"}

    history = ok(api.get(f"{V1}/runs/{run_id}/metrics/loss"))
    assert history == {
        "values": [0.9, 0.5, 0.4, 0.3],
        "steps": [0, 1, 2, 3],
        "timestamps": [1000, 1001, 1002, 1003],
    }
    assert ok(api.get(f"{V1}/runs/{run_id}/metrics/val/acc"))["values"] == [0.6]


def test_a_run_can_be_recorded_whole_in_one_request(api: httpx.Client) -> None:
    run_id = "0123456789abcdef0123456789abcdef"
    body = {
        "id": run_id,
        "name": "offline",
        "start_time": "2024-05-01T12:00:00Z",
        "params": {"C": 2},
        "metrics": {"loss": series([0.5, 0.25])},
        "end": "FINISHED",
    }
    run = start_run(api, **body)
    assert (run["id"], run["status"], run["metrics"]) == (run_id, "FINISHED", {"loss": 0.25})
    assert run["start_time"].startswith("2024-05-01T12:00:00")
    assert ok(api.get(f"{V1}/runs/{run_id}")) == run
    assert ok(api.get(f"{V1}/runs/{run_id}/metrics/loss"))["values"] == [0.5, 0.25]


def test_a_run_created_with_metrics_stays_running(api: httpx.Client) -> None:
    run = start_run(api, metrics={"loss": series([0.5])})
    assert (run["status"], run["metrics"]) == ("RUNNING", {"loss": 0.5})
    assert ok(api.post(f"{V1}/runs/{run['id']}/log", json={"metrics": {"loss": series([0.1], 1)}}))


@pytest.mark.parametrize("status", ["FAILED", "KILLED"])
def test_a_run_can_end_failed_or_killed_with_its_error(api: httpx.Client, status: str) -> None:
    run_id = start_run(api)["id"]
    ended = ok(api.post(f"{V1}/runs/{run_id}/end", json={"status": status, "error": "boom"}))
    assert (ended["status"], ended["error"]) == (status, "boom")


def test_a_run_is_found_by_a_unique_prefix(api: httpx.Client) -> None:
    run = start_run(api, name="found")
    assert ok(api.get(f"{V1}/runs/{run['id'][:8]}"))["id"] == run["id"]


def test_runs_record_their_inputs_and_artifacts(api: httpx.Client) -> None:
    table = upload(api, table_to_parquet(pa.table({"x": [1, 2, 3]})))
    ok(api.post(f"{V1}/projects/p/datasets/d/versions", json={"sha256": table}), 201)
    run_id = start_run(api)["id"]

    with_input = ok(api.post(f"{V1}/runs/{run_id}/inputs", json={"dataset": "p/d@1"}))
    assert with_input["inputs"] == [{"project": "p", "dataset": "d", "version": 1}]

    report = b"precision,recall\n0.8,0.7\n"
    sha = upload(api, report)
    body = {"path": "reports/metrics.csv", "sha256": sha}
    with_artifact = ok(api.post(f"{V1}/runs/{run_id}/artifacts", json=body))
    assert with_artifact["artifacts"] == [
        {"path": "reports/metrics.csv", "sha256": sha, "size": len(report)}
    ]


@pytest.fixture
def runs_to_search(api: httpx.Client) -> dict[str, str]:
    """Four runs in p: r0..r2 finished with f1 and C, 'broken' failed; one in experiment e2."""
    ids = {}
    for index, (c, f1) in enumerate([(0.1, 0.70), (1.0, 0.85), (10.0, 0.80)]):
        experiment = "e2" if index == 2 else "default"
        run = start_run(
            api, name=f"r{index}", experiment=experiment, params={"C": c}, tags={"team": "mod"}
        )
        ok(api.post(f"{V1}/runs/{run['id']}/end", json={"metrics": {"f1": series([f1])}}))
        ids[run["name"]] = run["id"]
    broken = start_run(api, name="broken")
    ok(api.post(f"{V1}/runs/{broken['id']}/end", json={"status": "FAILED", "error": "x"}))
    ids["broken"] = broken["id"]
    return ids


@pytest.mark.parametrize(
    ("query", "names", "total"),
    [
        ({"filter": "metrics.f1 >= 0.8", "order_by": "metrics.f1 desc"}, ["r1", "r2"], 2),
        ({"filter": "params.C = '10.0'"}, ["r2"], 1),
        ({"filter": "status = 'FAILED'"}, ["broken"], 1),
        ({"filter": "tags.team = 'mod' and metrics.f1 < 0.8"}, ["r0"], 1),
        ({"filter": "name like 'r%'", "order_by": "name asc"}, ["r0", "r1", "r2"], 3),
        ({"order_by": "metrics.f1 asc"}, ["r0", "r2", "r1", "broken"], 4),
        ({"order_by": "name asc", "limit": 2}, ["broken", "r0"], 4),
        ({"order_by": "name asc", "limit": 2, "offset": 2}, ["r1", "r2"], 4),
        ({"order_by": "name asc", "offset": 10}, [], 4),
        ({"experiment": "e2"}, ["r2"], 1),
        ({}, ["broken", "r2", "r1", "r0"], 4),  # newest first
    ],
)
def test_search_filters_orders_and_pages_with_a_total(
    api: httpx.Client,
    runs_to_search: dict[str, str],
    query: dict[str, Any],
    names: list[str],
    total: int,
) -> None:
    found = ok(api.get(f"{V1}/projects/p/runs", params=query))
    assert [r["name"] for r in found["runs"]] == names
    assert found["total"] == total


def test_search_results_carry_latest_metrics_and_params(
    api: httpx.Client, runs_to_search: dict[str, str]
) -> None:
    found = ok(api.get(f"{V1}/projects/p/runs", params={"filter": "name = 'r1'"}))
    (run,) = found["runs"]
    assert run["id"] == runs_to_search["r1"]
    assert (run["metrics"], run["params"], run["status"]) == (
        {"f1": 0.85},
        {"C": "1.0"},
        "FINISHED",
    )


# -- artifacts -------------------------------------------------------------------------------


@pytest.mark.parametrize("data", [b"", b"hello", bytes(range(256)) * 1000])
def test_artifacts_round_trip_byte_for_byte(api: httpx.Client, data: bytes) -> None:
    sha = upload(api, data)
    upload(api, data)  # the same blob again is fine
    response = api.get(f"{V1}/artifacts/{sha}")
    assert response.status_code == 200
    assert response.headers["content-type"] == "application/octet-stream"
    assert response.content == data


# -- datasets --------------------------------------------------------------------------------


def test_dataset_versions_are_made_read_and_listed(api: httpx.Client) -> None:
    first = pa.table({"score": [0.1, 0.5, 0.9, 0.4], "label": ["ok", "bad", "ok", "ok"]})
    sha1 = upload(api, table_to_parquet(first))
    v1 = ok(api.post(f"{V1}/projects/p/datasets/posts/versions", json={"sha256": sha1}), 201)
    assert (v1["version"], v1["num_rows"], v1["num_columns"], v1["sha256"]) == (1, 4, 2, sha1)
    assert [c["name"] for c in v1["profile"]["columns"]] == ["score", "label"]
    score = v1["profile"]["columns"][0]
    assert (score["kind"], score["min"], score["max"], score["count"]) == ("numeric", 0.1, 0.9, 4)

    again = ok(api.post(f"{V1}/projects/p/datasets/posts/versions", json={"sha256": sha1}), 201)
    assert again["version"] == 1  # the same bytes are not a new version

    second = pa.table({"score": [0.2, 0.3], "label": ["bad", "ok"]})
    sha2 = upload(api, table_to_parquet(second))
    body = {"sha256": sha2, "parents": ["p/posts@1"], "source": "relabel", "description": "v2"}
    v2 = ok(api.post(f"{V1}/projects/p/datasets/posts/versions", json=body), 201)
    assert (v2["version"], v2["num_rows"], v2["parents"], v2["source"]) == (
        2,
        2,
        ["p/posts@1"],
        "relabel",
    )
    assert v2["created_by"] == "tester"

    assert ok(api.get(f"{V1}/projects/p/datasets/posts/versions/1")) == v1
    assert ok(api.get(f"{V1}/projects/p/datasets/posts/versions/latest")) == v2
    listed = ok(api.get(f"{V1}/projects/p/datasets/posts/versions"))
    assert [v["version"] for v in listed] == [1, 2]

    datasets = ok(api.get(f"{V1}/datasets", params={"project": "p"}))
    assert [(d["project"], d["name"], d["latest_version"]) for d in datasets] == [("p", "posts", 2)]
    assert ok(api.get(f"{V1}/datasets")) == datasets


# -- models ----------------------------------------------------------------------------------


@pytest.fixture
def two_versions(api: httpx.Client) -> str:
    """Model p/m with versions 1 and 2 (2 made by run 'trainer'); returns that run's id."""
    created = ok(
        api.post(f"{V1}/projects/p/models", json={"name": "m", "description": "spam"}), 201
    )
    assert (created["name"], created["latest_version"], created["aliases"]) == ("m", None, {})
    run_id = start_run(api, name="trainer")["id"]
    for c, source in ((1.0, None), (2.0, run_id)):
        body = {"flavor": "sklearn", "sha256": upload(api, model_blob(c)), "run_id": source}
        ok(api.post(f"{V1}/projects/p/models/m/versions", json=body), 201)
    return run_id


def test_model_versions_are_numbered_and_read_by_number_and_latest(
    api: httpx.Client, two_versions: str
) -> None:
    listed = ok(api.get(f"{V1}/projects/p/models/m/versions"))
    assert [(v["version"], v["flavor"], v["run_id"]) for v in listed] == [
        (1, "sklearn", None),
        (2, "sklearn", two_versions),
    ]
    assert listed[0]["sha256"] != listed[1]["sha256"]
    assert ok(api.get(f"{V1}/projects/p/models/m/versions/1")) == listed[0]
    assert ok(api.get(f"{V1}/projects/p/models/m/versions/latest")) == listed[1]
    blob = api.get(f"{V1}/artifacts/{listed[1]['sha256']}").content
    assert hashlib.sha256(blob).hexdigest() == listed[1]["sha256"]

    model = ok(api.get(f"{V1}/projects/p/models/m"))
    assert (model["description"], model["latest_version"]) == ("spam", 2)
    assert [m["name"] for m in ok(api.get(f"{V1}/models", params={"project": "p"}))] == ["m"]


def test_aliases_move_resolve_and_keep_their_history(api: httpx.Client, two_versions: str) -> None:
    alias = f"{V1}/projects/p/models/m/aliases/champion"
    first = ok(api.put(alias, json={"version": 1}))
    assert (first["alias"], first["from_version"], first["to_version"]) == ("champion", None, 1)
    assert ok(api.get(f"{V1}/projects/p/models/m/versions/champion"))["version"] == 1

    moved = ok(api.put(alias, json={"version": 2, "reason": "better f1"}))
    assert (moved["from_version"], moved["to_version"], moved["reason"]) == (1, 2, "better f1")
    assert moved["actor"] == "tester"
    assert ok(api.get(f"{V1}/projects/p/models/m/versions/champion"))["version"] == 2
    assert ok(api.get(f"{V1}/projects/p/models/m"))["aliases"] == {"champion": 2}
    versions = ok(api.get(f"{V1}/projects/p/models/m/versions"))
    assert [v["aliases"] for v in versions] == [[], ["champion"]]

    removed = ok(api.delete(alias))
    assert (removed["from_version"], removed["to_version"]) == (2, None)
    assert api.get(f"{V1}/projects/p/models/m/versions/champion").status_code == 404
    assert ok(api.get(f"{V1}/projects/p/models/m"))["aliases"] == {}

    history = ok(api.get(f"{alias}/history"))
    assert [(m["from_version"], m["to_version"]) for m in history] == [
        (2, None),
        (1, 2),
        (None, 1),
    ]
    assert [m["reason"] for m in history] == ["", "better f1", ""]
    assert [m["to_version"] for m in ok(api.get(f"{alias}/history", params={"limit": 1}))] == [None]


def test_alias_history_is_per_alias(api: httpx.Client, two_versions: str) -> None:
    ok(api.put(f"{V1}/projects/p/models/m/aliases/champion", json={"version": 1}))
    ok(api.put(f"{V1}/projects/p/models/m/aliases/challenger", json={"version": 2}))
    history = ok(api.get(f"{V1}/projects/p/models/m/aliases/challenger/history"))
    assert [(m["alias"], m["to_version"]) for m in history] == [("challenger", 2)]


# -- events and actors -----------------------------------------------------------------------


def test_events_are_filtered_by_project_subject_and_kind(api: httpx.Client) -> None:
    run_id = start_run(api)["id"]
    ok(api.post(f"{V1}/runs/{run_id}/end", json={}))
    ok(api.post(f"{V1}/runs", json={"project": "other"}), 201)

    def kinds(**query: Any) -> list[str]:
        return [e["kind"] for e in ok(api.get(f"{V1}/events", params=query))]

    assert kinds(project="p") == [
        "project.created",
        "experiment.created",
        "run.started",
        "run.finished",
    ]
    assert kinds(subject=f"run:{run_id}") == ["run.started", "run.finished"]
    assert kinds(kind="project.created") == ["project.created", "project.created"]
    assert [e["project"] for e in ok(api.get(f"{V1}/events", params={"kind": "run.started"}))] == [
        "p",
        "other",
    ]
    everything = ok(api.get(f"{V1}/events"))
    assert len(everything) == 7
    after = ok(api.get(f"{V1}/events", params={"after_id": everything[4]["id"], "limit": 1}))
    assert after == [everything[5]]


@pytest.mark.parametrize(
    ("headers", "actor", "kind"),
    [
        ({}, "tester", "user"),
        ({"X-Opsloop-Actor": "alice"}, "alice", "user"),
        ({"X-Opsloop-Actor": "retrain", "X-Opsloop-Actor-Kind": "pipeline"}, "retrain", "pipeline"),
        ({"X-Opsloop-Actor": "drift", "X-Opsloop-Actor-Kind": "monitor"}, "drift", "monitor"),
    ],
)
def test_the_actor_header_is_recorded_on_events_and_runs(
    api: httpx.Client, headers: dict[str, str], actor: str, kind: str
) -> None:
    run = ok(api.post(f"{V1}/runs", json={"project": "p"}, headers=headers), 201)
    assert run["user"] == actor
    events = ok(api.get(f"{V1}/events", params={"project": "p"}))
    assert {(e["actor"], e["actor_kind"]) for e in events} == {(actor, kind)}


def test_a_bad_actor_kind_is_refused_and_writes_nothing(api: httpx.Client) -> None:
    headers = {"X-Opsloop-Actor": "bot", "X-Opsloop-Actor-Kind": "robot"}
    response = api.post(f"{V1}/projects", json={"name": "p"}, headers=headers)
    assert response.status_code == 422
    error = response.json()["error"]
    assert (error["code"], error["field"]) == ("invalid", "X-Opsloop-Actor-Kind")
    assert "pipeline" in error["message"]
    assert ok(api.get(f"{V1}/projects")) == []
    assert ok(api.get(f"{V1}/events")) == []


# -- OpenAPI ---------------------------------------------------------------------------------


API_ROUTES = {
    ("get", "/projects"),
    ("post", "/projects"),
    ("get", "/projects/{project}"),
    ("get", "/projects/{project}/experiments"),
    ("get", "/events"),
    ("post", "/runs"),
    ("get", "/runs/{run_id}"),
    ("post", "/runs/{run_id}/log"),
    ("post", "/runs/{run_id}/end"),
    ("get", "/runs/{run_id}/metrics/{key}"),
    ("post", "/runs/{run_id}/inputs"),
    ("post", "/runs/{run_id}/artifacts"),
    ("get", "/projects/{project}/runs"),
    ("put", "/artifacts/{sha256}"),
    ("get", "/artifacts/{sha256}"),
    ("get", "/datasets"),
    ("post", "/projects/{project}/datasets/{name}/versions"),
    ("get", "/projects/{project}/datasets/{name}/versions"),
    ("get", "/projects/{project}/datasets/{name}/versions/{version}"),
    ("post", "/projects/{project}/datasets/{name}/versions/{version}/validations"),
    ("get", "/report"),
    ("get", "/report.svg"),
    ("get", "/models"),
    ("post", "/projects/{project}/models"),
    ("get", "/projects/{project}/models/{model}"),
    ("post", "/projects/{project}/models/{model}/versions"),
    ("get", "/projects/{project}/models/{model}/versions"),
    ("get", "/projects/{project}/models/{model}/versions/{version}"),
    ("put", "/projects/{project}/models/{model}/aliases/{alias}"),
    ("delete", "/projects/{project}/models/{model}/aliases/{alias}"),
    ("get", "/projects/{project}/models/{model}/aliases/{alias}/history"),
    ("post", "/projects/{project}/models/{model}/versions/{version}/evaluations"),
    ("get", "/projects/{project}/models/{model}/versions/{version}/evaluations"),
    ("get", "/evaluations/{evaluation_id}"),
    ("get", "/endpoints"),
    ("get", "/endpoints/{name}"),
    ("get", "/endpoints/{name}/deployments"),
    ("post", "/endpoints/{name}/deployments"),
    ("post", "/endpoints/{name}/promote"),
    ("post", "/endpoints/{name}/rollback"),
    ("get", "/endpoints/{name}/predictions"),
    ("get", "/tokens"),
    ("post", "/tokens"),
    ("delete", "/tokens/{token_id}"),
    ("get", "/pipelines"),
    ("post", "/pipelines/{name}/runs"),
    ("get", "/pipeline-runs"),
    ("get", "/pipeline-runs/{run_id}"),
    ("post", "/pipelines/{name}/triggers"),
    ("get", "/pipelines/{name}/triggers"),
    ("get", "/pipeline-triggers"),
    ("delete", "/pipelines/{name}/triggers/{trigger_id}"),
    ("put", "/endpoints/{name}/monitor"),
    ("get", "/endpoints/{name}/monitor"),
    ("post", "/endpoints/{name}/monitor/run"),
    ("get", "/endpoints/{name}/monitor/values"),
    ("get", "/alerts"),
    ("get", "/alerts/{alert_id}"),
    ("post", "/alerts/{alert_id}/resolve"),
    ("put", "/endpoints/{name}/review/policy"),
    ("get", "/endpoints/{name}/review/policy"),
    ("get", "/endpoints/{name}/review/items"),
    ("get", "/endpoints/{name}/review/items/{item_id}"),
    ("post", "/endpoints/{name}/review/claim"),
    ("post", "/endpoints/{name}/review/items/{item_id}/decision"),
    ("post", "/endpoints/{name}/review/items/{item_id}/skip"),
    ("get", "/endpoints/{name}/review/stats"),
    ("post", "/endpoints/{name}/review/route"),
}
DATA_PLANE = {
    ("post", "/endpoints/{name}/predict"),
    ("post", "/endpoints/{name}/feedback"),
    ("get", "/metrics"),
}


def test_openapi_lists_every_api_route(api: httpx.Client) -> None:
    spec = ok(api.get("/openapi.json"))
    documented = {
        (method, path.removeprefix(V1))
        for path, operations in spec["paths"].items()
        if path.startswith(V1)
        for method in operations
    }
    assert documented == API_ROUTES
    outside = {
        (method, path)
        for path, operations in spec["paths"].items()
        if not path.startswith(V1) and path != "/healthz"
        for method in operations
    }
    assert outside == DATA_PLANE
    assert "get" in spec["paths"]["/healthz"]
    for path, operations in spec["paths"].items():
        for method, operation in operations.items():
            assert operation.get("responses"), (method, path)


@pytest.mark.parametrize(
    ("path", "properties", "nested"),
    [
        (V1 + "/runs/{run_id}/log", {"params", "tags", "metrics"}, "metrics"),
        (V1 + "/runs/{run_id}/end", {"params", "tags", "metrics", "status", "error"}, "metrics"),
        (V1 + "/runs", {"project", "experiment", "name", "id", "params", "metrics", "end"}, None),
        ("/endpoints/{name}/feedback", {"feedback", "source"}, "feedback"),
        ("/endpoints/{name}/predict", {"inputs", "ids", "key"}, None),
    ],
)
def test_openapi_documents_the_hand_parsed_bodies(
    api: httpx.Client, path: str, properties: set[str], nested: str | None
) -> None:
    spec = ok(api.get("/openapi.json"))
    body = spec["paths"][path]["post"]["requestBody"]
    assert body["required"] is True
    schema = body["content"]["application/json"]["schema"]
    assert set(schema["properties"]) >= properties
    assert schema.get("additionalProperties") is False
    assert "$ref" not in json.dumps(schema)  # written out: no component to point at
    if nested == "metrics":
        metric = schema["properties"]["metrics"]["additionalProperties"]
        assert set(metric["required"]) == {"values", "steps", "timestamps"}
    if nested == "feedback":
        item = schema["properties"]["feedback"]["items"]
        assert set(item["required"]) == {"id", "label"}


def resolve(spec: dict[str, Any], ref: str) -> dict[str, Any]:
    assert ref.startswith("#/"), ref
    node: Any = spec
    for part in ref[2:].split("/"):
        assert part in node, f"{ref} does not resolve"
        node = node[part]
    return dict(node)


def all_refs(node: Any) -> list[str]:
    if isinstance(node, dict):
        found = [node["$ref"]] if isinstance(node.get("$ref"), str) else []
        return found + [ref for value in node.values() for ref in all_refs(value)]
    if isinstance(node, list):
        return [ref for value in node for ref in all_refs(value)]
    return []


def test_every_reference_in_the_openapi_document_resolves(api: httpx.Client) -> None:
    spec = ok(api.get("/openapi.json"))
    refs = set(all_refs(spec))
    assert "#/components/schemas/MetricSeries" in refs
    for ref in refs:
        resolve(spec, ref)
