"""The OpenAPI document, fuzzed (Schemathesis) against a seeded app in process: no request gets
a 5xx, and every 4xx answers in opsloop's one error shape, a 422 naming the field to blame.

Every documented operation is fuzzed; none is left out. Generated path parameters, queries and
bodies are mixed with the names the store holds, so requests reach existing things (a deployed
endpoint with a canary, a model's versions and aliases, runs, an evaluation, a monitor and its
alert, a review queue with open items, a pipeline run and trigger, a token) and not only 404s.
Hypothesis is derandomized and keeps no example database, so a run is the same everywhere and
writes nothing here.
"""

from __future__ import annotations

import gc
import json
import time
from collections.abc import Iterator, Mapping, Sequence
from datetime import datetime
from pathlib import Path
from typing import Any

import pytest
import schemathesis
from hypothesis import HealthCheck, settings
from hypothesis import strategies as st
from schemathesis.checks import not_a_server_error

import opsloop
from opsloop.domain.names import parse_model_ref
from opsloop.domain.settings import Settings
from opsloop.sdk.alerts import list_alerts
from opsloop.sdk.client import Client
from opsloop.sdk.datasets import log_dataset
from opsloop.sdk.models import register_model
from opsloop.sdk.monitoring import run_monitor, set_monitor
from opsloop.sdk.review import set_review_policy
from opsloop.server.app import create_app
from opsloop.services.platform import Platform

from ._models import posts, spam_classifier

pytestmark = pytest.mark.slow

PIPELINE = "fuzz_double"
ENDPOINT = "moderation"
HOUR = 3600.0
MONITOR = "window: 1h\ntarget: spam\nalerts:\n  - {name: busy, when: 'service.requests >= 0'}\n"
REVIEW = "sample: 1\nclaim_ttl: 10m\n"
GATE = "target: spam\nrules:\n  - recall >= 0.1\n"
ERROR_KEYS = {"code", "message", "field", "detail"}
# Past the columns' and the clock's ranges: 32- and 64-bit ids, years 0 and 10000 in UTC.
EDGE_NUMBERS = [0, -1, 2**31, 2**63, 2**64]
EDGE_TIMES = ["0001-01-01T00:00:00+14:00", "9999-12-31T23:59:59-14:00"]


@opsloop.step
def fuzz_doubled(x: int) -> int:
    return 2 * x


@opsloop.pipeline(name=PIPELINE, project="p")
def fuzz_pipeline(x: int = 2) -> None:
    """Double a number (the pipeline the fuzzer starts and triggers)."""
    fuzz_doubled(x)


def seed(client: Client, platform: Platform) -> dict[str, dict[str, list[Any]]]:
    """Fill the store the way the loop does; what was made, by where a request names it:
    ``path``, ``query`` and ``body`` keys (``name`` and ``run_id`` per kind of path)."""
    frame, spam = posts(rows=120)
    data = log_dataset(client, frame.assign(spam=spam), "posts", project="p")
    run = client.create_run(project="p", name="train", params={"C": 1.0})
    client.add_run_input(run.id, data.ref)
    client.log_batch(
        run.id,
        metrics={"loss": {"values": [0.9, 0.4], "steps": [0, 1], "timestamps": [1000, 1001]}},
    )
    finished = client.end_run(
        run.id, metrics={"f1": {"values": [0.8], "steps": [0], "timestamps": [1002]}}
    )
    running = client.create_run(project="p", name="live", tags={"team": "mod"})
    first, _ = spam_classifier(c=1.0)
    second, _ = spam_classifier(c=0.1)
    v1 = register_model(client, first, "p/violation", input_example=frame.head(), run_id=run.id)
    register_model(client, second, "p/violation", input_example=frame.head())
    client.set_alias("p", "violation", "champion", 1)
    evaluation = client.evaluate(parse_model_ref(v1.ref), data.ref, gate=GATE, endpoint=ENDPOINT)
    client.deploy(ENDPOINT, "p/violation@1", force=True, reason="seed")
    client.deploy(ENDPOINT, "p/violation@2", canary=10, force=True, reason="seed")

    rows = frame.head(20).to_dict("records")
    answer = client.predict(ENDPOINT, rows)
    ids = [p["id"] for p in answer["predictions"]]
    client.send_feedback(ENDPOINT, [{"id": i, "label": 1} for i in ids[:5]])
    # Two hours back, so the monitor has closed windows to compute (and an alert to fire).
    start = (time.time() // HOUR - 2) * HOUR
    platform.predictions.append_predictions(
        [
            {
                "request_id": f"past-{i}",
                "time": start + i,
                "endpoint": ENDPOINT,
                "project": "p",
                "model": "violation",
                "version": 1,
                "role": "primary",
                "deployment": 1,
                "inputs": row,
                "prediction": 0,
                "score": 0.2,
                "scores": {"0": 0.8, "1": 0.2},
                "latency_ms": 1.0,
            }
            for i, row in enumerate(rows)
        ]
    )
    set_monitor(client, ENDPOINT, MONITOR)
    run_monitor(client, ENDPOINT)
    alerts = list_alerts(client, ENDPOINT)
    assert alerts, "the seeded monitor fired no alert"

    # A review queue with open items: every prediction after the policy is sampled.
    set_review_policy(client, ENDPOINT, REVIEW)
    reviewed = client.predict(ENDPOINT, rows[:4])
    routed = platform.review.route_endpoint(ENDPOINT, time.time() + 10)
    assert routed.routed == len(reviewed["predictions"]), routed
    items = [item.id for item in platform.review.items(ENDPOINT)]

    pipeline_run = client.start_pipeline(PIPELINE, {"x": 3}, wait=True)
    trigger = client.create_pipeline_trigger(PIPELINE, "schedule", {"cron": "*/5 * * * *"})
    token = client.create_token("viewer", name="fuzz")

    model_sha = v1.sha256
    return {
        "path": {
            "project": ["p"],
            "dataset": ["posts"],
            "model": ["violation"],
            "version": ["1", "2", "latest", "champion"],
            "alias": ["champion", "challenger"],
            "endpoint": [ENDPOINT],
            "pipeline": [PIPELINE],
            "run": [finished.id, running.id, running.id[:8]],
            "pipeline_run": [pipeline_run.id],
            "key": ["loss", "f1"],
            "sha256": [data.sha256, model_sha],
            "evaluation_id": [evaluation.id],
            "token_id": [token.token.id],
            "trigger_id": [trigger.id],
            "alert_id": [alerts[0].id],
            "item_id": items,
        },
        "query": {
            "project": ["p"],
            "endpoint": [ENDPOINT],
            "pipeline": [PIPELINE],
            "experiment": ["default"],
            "subject": [f"run:{finished.id}"],
            "kind": ["run.started"],
            "status": ["succeeded"],
            "metric": ["service.requests"],
            "prefix": ["service."],
            "filter": ["metrics.f1 >= 0.5", "params.C = '1.0'"],
            "order_by": ["metrics.f1 desc"],
        },
        "body": {
            "project": ["p"],
            "name": ["fuzzed", "violation"],
            "experiment": ["default"],
            "metrics": [{"loss": {"values": [0.2], "steps": [7], "timestamps": [2000]}}],
            "tags": [{"team": "mod"}],
            "path": ["reports/fuzz.csv"],
            "model": ["p/violation@1", "p/violation@champion"],
            "dataset": [data.ref, "p/posts"],
            "sha256": [data.sha256, model_sha],
            "run_id": [finished.id],
            "endpoint": [ENDPOINT],
            "parents": [[data.ref]],
            "flavor": ["sklearn"],
            "target": ["spam"],
            "segment": ["exclaim"],
            "gate": [GATE],
            "config": [MONITOR, REVIEW],
            "label": [0, 1],
            "kind": ["schedule", "labels", "dataset"],
            "spec": [{"cron": "*/5 * * * *"}, {"endpoint": ENDPOINT, "count": 10}],
            "params": [{"x": 4}],
            "executor": ["inline"],
            "version": [1, 2],
            "steps": [1],
            "number": [1],
            "source": ["reviewer"],
            "role": ["viewer", "deployer"],
            "inputs": [rows[:2]],
            "feedback": [[{"id": ids[0], "label": 0}]],
        },
    }


def path_kind(path: str, parameter: str) -> str:
    """Which seeded names a path parameter takes: ``name`` and ``run_id`` mean different
    things under different paths."""
    if parameter == "name":
        if "/datasets/" in path:
            return "dataset"
        return "pipeline" if path.startswith("/api/v1/pipelines") else "endpoint"
    if parameter == "run_id":
        return "pipeline_run" if "/pipeline-runs/" in path else "run"
    return parameter


def mixed(generated: Any, known: Mapping[str, Sequence[Any]]) -> st.SearchStrategy[Any]:
    """Each generated value, or in its place a seeded name (for a key that names something) or
    a value past what the store keeps (for a number or a time)."""
    if not isinstance(generated, dict):
        return st.just(generated)
    return st.fixed_dictionaries(
        {key: st.sampled_from(choices(key, value, known)) for key, value in generated.items()}
    )


def choices(key: str, value: Any, known: Mapping[str, Sequence[Any]]) -> list[Any]:
    edges: list[Any] = []
    if isinstance(value, int) and not isinstance(value, bool):
        edges = EDGE_NUMBERS
    elif isinstance(value, str) and is_time(value):
        edges = EDGE_TIMES
    return [value, *known.get(key, ()), *edges]


def is_time(text: str) -> bool:
    try:
        datetime.fromisoformat(text.replace("Z", "+00:00"))
    except ValueError:
        return False
    return "T" in text


@pytest.fixture
def fuzz_schema(tmp_path: Path) -> Iterator[schemathesis.BaseSchema]:
    settings_ = Settings.load(environ={}, home=tmp_path / "home", actor="fuzzer", scheduler=False)
    client = Client(settings_)
    try:
        known = seed(client, client._transport.app.state.platform)  # type: ignore[attr-defined]
    finally:
        client.close()
    app = create_app(settings_)
    # Schemathesis runs the app's lifespan (serving host, pipelines) from the first request
    # and ends it when the test ends; the config is explicit so no stray schemathesis.toml
    # changes what runs.
    schema = schemathesis.openapi.from_asgi("/openapi.json", app, config=schemathesis.Config())

    @schema.hook
    def flatmap_path_parameters(
        context: schemathesis.HookContext, path_parameters: Any
    ) -> st.SearchStrategy[Any]:
        assert context.operation is not None
        path = context.operation.path
        by_kind = {
            key: known["path"][path_kind(path, key)]
            for key in (path_parameters or {})
            if path_kind(path, key) in known["path"]
        }
        return mixed(path_parameters, by_kind)

    @schema.hook
    def flatmap_query(context: schemathesis.HookContext, query: Any) -> st.SearchStrategy[Any]:
        return mixed(query, known["query"])

    @schema.hook
    def flatmap_body(context: schemathesis.HookContext, body: Any) -> st.SearchStrategy[Any]:
        return mixed(body, known["body"])

    yield schema
    app.state.platform.close()  # the lifespan closed it already, unless it never started
    # The lifespan froze everything alive for the collector (right for a server process); the
    # tests that follow in this process should have their garbage collected as usual.
    gc.unfreeze()


fuzzed = schemathesis.pytest.from_fixture("fuzz_schema")


@pytest.fixture(autouse=True)
def node_id_for_schemathesis(request: pytest.FixtureRequest) -> None:
    """Schemathesis (4.32) reads and rewrites ``Node._nodeid`` around each operation of a
    ``from_fixture`` schema; pytest 9.2 keeps the id elsewhere, so give it the attribute (the
    operations are still reported one by one, as subtests)."""
    request.node._nodeid = request.node.nodeid


def assert_error_shape(response: schemathesis.Response, case: schemathesis.Case) -> None:
    """A 4xx is ``{"error": {"code", "message", "field"?, "detail"?}}``; a 422 names its field."""
    if not 400 <= response.status_code < 500:
        return
    where = f"{case.method} {case.formatted_path} -> {response.status_code}: {response.text}"
    body = json.loads(response.content)
    assert isinstance(body, dict) and list(body) == ["error"], where
    error = body["error"]
    assert isinstance(error, dict) and set(error) <= ERROR_KEYS, where
    assert isinstance(error["code"], str) and error["code"], where
    assert isinstance(error["message"], str) and error["message"].strip(), where
    if response.status_code == 422:
        assert isinstance(error.get("field"), str) and error["field"], where


@settings(
    max_examples=50,
    derandomize=True,
    database=None,
    deadline=None,
    suppress_health_check=list(HealthCheck),
)
@fuzzed.parametrize()
def test_no_input_gets_a_server_error(case: schemathesis.Case) -> None:
    response = case.call_and_validate(checks=[not_a_server_error])
    assert_error_shape(response, case)
