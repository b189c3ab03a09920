"""What a firing alert does: roll back, start a pipeline, notify (webhooks on a real local
HTTP server, the log); failures recorded, never raised; every step an Event, in order."""

from __future__ import annotations

import json
import logging
import threading
import time
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import pytest

import opsloop
from opsloop.domain.alerts import parse_notifiers
from opsloop.domain.deployments import DeploymentAction, Slot
from opsloop.domain.entities import ActorKind
from opsloop.domain.errors import NotFound
from opsloop.services.alerts import AlertService
from opsloop.services.platform import Platform

from .conftest import free_port
from .test_alerts_service import ENDPOINT, World, make_world
from .test_deployment_service import DEPLOYER, approved, ref

ROLLBACK = '[{name: accuracy, when: "performance.accuracy < 0.8", action: rollback}]'
RETRAIN = '[{name: drift, when: "drift.share_drifted > 0.3", action: "pipeline retrain"}]'
NOTIFY = '[{name: drift, when: "drift.share_drifted > 0.3", severity: critical}]'


class Hook:
    """A webhook receiver on 127.0.0.1: keeps every JSON body; answers ``status``, after
    ``delay_s``."""

    def __init__(self) -> None:
        self.bodies: list[Any] = []
        self.status = 200
        self.delay_s = 0.0
        hook = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                length = int(self.headers["Content-Length"])
                hook.bodies.append(json.loads(self.rfile.read(length)))
                time.sleep(hook.delay_s)
                self.send_response(hook.status)
                self.send_header("Content-Length", "0")
                self.end_headers()

            def log_message(self, *args: Any) -> None:
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.server.daemon_threads = True
        self.url = f"http://127.0.0.1:{self.server.server_port}/services/T0/B0/secret"
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)
        self.thread.start()

    def close(self) -> None:
        self.server.shutdown()
        self.server.server_close()


@pytest.fixture
def hook() -> Iterator[Hook]:
    made = Hook()
    yield made
    made.close()


@pytest.fixture
def world(platform: Platform) -> World:
    return make_world(platform)


def events_of(world: World) -> list[tuple[str, str, ActorKind, dict[str, Any]]]:
    found = world.platform.events.query(subject=f"endpoint:{ENDPOINT}")
    return [(e.kind, e.actor, e.actor_kind, e.data) for e in found if e.actor != "dana"]


def test_rollback_rolls_the_endpoint_back(world: World) -> None:
    world.write("performance.accuracy", 1, 0.6)
    (fired,) = world.evaluate(ROLLBACK, window=1)
    endpoint = world.platform.deployments.get(ENDPOINT)
    assert endpoint.plan.primary == Slot(model="violation", version=world.versions[0])
    head = world.platform.deployments.history(ENDPOINT, limit=1)[0]
    assert (head.action, head.actor, head.actor_kind) == (
        DeploymentAction.ROLLBACK,
        f"monitor:{ENDPOINT}",
        ActorKind.MONITOR,
    )
    assert f"alert {fired.id} (accuracy): performance.accuracy = 0.6" in head.reason
    (record,) = fired.actions
    assert (record.action, record.ok, record.data) == (
        "rollback",
        True,
        {"deployment": 3, "restores": 1},
    )
    monitor = f"monitor:{ENDPOINT}"
    kinds = [(kind, actor, actor_kind) for kind, actor, actor_kind, _ in events_of(world)]
    assert kinds == [
        ("alert.fired", monitor, ActorKind.MONITOR),
        ("endpoint.rolled_back", monitor, ActorKind.MONITOR),
        ("alert.action", monitor, ActorKind.MONITOR),
    ]
    action = events_of(world)[-1][3]
    assert (action["alert"], action["action"], action["ok"], action["deployment"]) == (
        fired.id,
        "rollback",
        True,
        3,
    )


def test_a_rollback_with_nothing_to_go_back_to_is_recorded_not_raised(world: World) -> None:
    world.platform.deployments.rollback(ENDPOINT, DEPLOYER, reason="by hand first")
    world.write("performance.accuracy", 1, 0.6)
    (fired,) = world.evaluate(ROLLBACK, window=1)
    (record,) = fired.actions
    assert not record.ok
    assert "0 deployment(s) to roll back through" in record.detail
    kind, _, _, data = events_of(world)[-1]
    assert (kind, data["ok"]) == ("alert.action", False)
    assert world.service.get(fired.id).actions == fired.actions


def test_the_monitor_does_not_roll_back_its_own_rollback(world: World) -> None:
    # three deployments: a second rollback would have somewhere to go
    world.platform.deployments.deploy(ref(approved(world.platform, ENDPOINT)), ENDPOINT, DEPLOYER)
    world.write("performance.accuracy", 1, 0.6)
    (first,) = world.evaluate(ROLLBACK, window=1)
    assert first.actions[0].ok
    world.write("performance.accuracy", 2, 0.9)
    world.evaluate(ROLLBACK, window=2)  # resolves
    world.write("performance.accuracy", 3, 0.6)
    (second,) = world.evaluate(ROLLBACK, window=3)
    (record,) = second.actions
    assert not record.ok
    assert "already a rollback by monitor:moderation" in record.detail
    endpoint = world.platform.deployments.get(ENDPOINT)
    assert endpoint.deployment == 4  # no fifth deployment
    assert endpoint.plan.primary == Slot(model="violation", version=world.versions[1])


def test_a_pipeline_action_starts_the_pipeline_once(world: World) -> None:
    world.write("drift.share_drifted", 1, 0.45)
    (fired,) = world.evaluate(RETRAIN, window=1)
    world.evaluate(RETRAIN, window=1)  # still firing: not started again
    (call,) = world.pipelines.calls
    name, options = call
    assert name == "retrain"
    assert options["trigger"] == "alert"
    assert options["detail"] == {
        "alert": fired.id,
        "rule": "drift",
        "metric": "drift.share_drifted",
        "value": 0.45,
        "endpoint": ENDPOINT,
    }
    assert options["params"] == {"endpoint": ENDPOINT}
    assert (options["actor"].name, options["actor"].kind) == (
        f"monitor:{ENDPOINT}",
        ActorKind.MONITOR,
    )
    (record,) = fired.actions
    assert (record.action, record.ok, record.data) == ("pipeline retrain", True, {"run": "run-1"})
    assert world.platform.deployments.get(ENDPOINT).deployment == 2  # nothing else done


HELD = threading.Event()


@opsloop.pipeline(name="t_alert_retrain")
def alert_retrain(endpoint: str, epochs: int = 3) -> None:
    hold()


@opsloop.step(cache=False)
def hold() -> str:
    HELD.wait(30)
    return "done"


def test_an_alert_firing_again_while_its_retrain_runs_starts_no_second_one(
    world: World,
) -> None:
    """Against the real pipeline service: the run is stored with its default ``epochs``, and
    the alert's second firing finds it all the same."""
    pipelines = world.platform.pipelines
    service = AlertService(
        world.platform.db, world.platform.deployments, start_pipeline=pipelines.start
    )
    rules = '[{name: drift, when: "drift.share_drifted > 0.3", action: "pipeline t_alert_retrain"}]'
    HELD.clear()
    try:
        world.write("drift.share_drifted", 1, 0.45)
        (first,) = world.evaluate(rules, window=1, service=service)
        world.write("drift.share_drifted", 2, 0.1)
        world.evaluate(rules, window=2, service=service)  # resolves
        world.write("drift.share_drifted", 3, 0.5)
        (second,) = world.evaluate(rules, window=3, service=service)
    finally:
        HELD.set()
        pipelines.wait()
    (run,) = pipelines.list("t_alert_retrain")
    assert run.params == {"endpoint": ENDPOINT, "epochs": 3}
    assert first.actions[0].data == {"run": run.id}
    assert second.id != first.id
    (record,) = second.actions
    assert record.ok
    assert record.detail == f"run {run.id} was already at work: not started again"
    assert record.data == {"run": run.id, "already_active": True}


def test_a_pipeline_that_cannot_start_is_recorded(world: World) -> None:
    world.pipelines.error = NotFound("pipeline 'retrain' not found", field="pipeline")
    world.write("drift.share_drifted", 1, 0.45)
    (fired,) = world.evaluate(RETRAIN, window=1)
    assert (fired.actions[0].ok, fired.actions[0].detail) == (
        False,
        "pipeline 'retrain' not found",
    )
    world.pipelines.error = RuntimeError("the user's code broke")
    world.write("drift.share_drifted", 2, 0.1)
    world.evaluate(RETRAIN, window=2)
    world.write("drift.share_drifted", 3, 0.5)
    (again,) = world.evaluate(RETRAIN, window=3)
    assert again.actions[0].detail == "RuntimeError: the user's code broke"
    without = AlertService(world.platform.db, world.platform.deployments)
    world.write("drift.share_drifted", 4, 0.1)
    without.evaluate(ENDPOINT, [], [], 4 * 3600.0)  # rule gone: resolves
    world.write("drift.share_drifted", 5, 0.5)
    (third,) = world.evaluate(RETRAIN, window=5, service=without)
    assert third.actions[0].detail == "this process has no pipeline runner"


def test_notify_only_notifies(world: World, caplog: pytest.LogCaptureFixture) -> None:
    world.write("drift.share_drifted", 1, 0.5)
    with caplog.at_level(logging.INFO, logger="opsloop.alerts"):
        (fired,) = world.evaluate(NOTIFY, parse_notifiers(["log"]), window=1)
        world.write("drift.share_drifted", 2, 0.2)
        world.evaluate(NOTIFY, parse_notifiers(["log"]), window=2)
    assert world.pipelines.calls == []
    assert world.platform.deployments.get(ENDPOINT).deployment == 2
    assert [(r.action, r.ok) for r in fired.actions] == [("notify log", True)]
    fired_line, resolved_line = caplog.records
    assert fired_line.levelno == logging.ERROR  # critical
    assert fired_line.getMessage().startswith(
        "[CRITICAL] moderation: alert drift fired: drift.share_drifted = 0.5"
    )
    assert resolved_line.levelno == logging.INFO
    assert resolved_line.getMessage().startswith("[RESOLVED] moderation: alert drift")


def test_webhooks_receive_json_and_slack_payloads(world: World, hook: Hook) -> None:
    notifiers = parse_notifiers(
        [{"webhook": hook.url}, {"webhook": hook.url, "format": "slack", "timeout_s": 5}]
    )
    world.write("performance.accuracy", 1, 0.6)
    (fired,) = world.evaluate(ROLLBACK, notifiers, window=1)
    assert [(r.action, r.ok) for r in fired.actions] == [
        ("rollback", True),
        (f"notify webhook http://127.0.0.1:{hook.server.server_port}/… (json)", True),
        (f"notify webhook http://127.0.0.1:{hook.server.server_port}/… (slack)", True),
    ]
    as_json, as_slack = hook.bodies
    assert as_json["event"] == "alert.fired"
    alert = as_json["alert"]
    assert (alert["id"], alert["rule"], alert["state"], alert["value"]) == (
        fired.id,
        "accuracy",
        "firing",
        0.6,
    )
    # the notification tells what the action did
    assert alert["actions"][0]["action"] == "rollback"
    assert "rollback: done (deployment 3 restores deployment 1" in as_json["text"]
    assert set(as_slack) == {"text"}
    assert as_slack["text"] == as_json["text"]
    assert as_slack["text"].startswith(
        "[WARNING] moderation: alert accuracy fired: performance.accuracy = 0.6"
    )
    # no record, event or log line holds the hook's secret path
    assert all("secret" not in json.dumps(data) for *_, data in events_of(world))
    world.write("performance.accuracy", 2, 0.9)
    world.evaluate(ROLLBACK, notifiers, window=2)
    resolved_json, resolved_slack = hook.bodies[2:]
    assert resolved_json["event"] == "alert.resolved"
    assert resolved_json["alert"]["state"] == "resolved"
    assert resolved_slack["text"].startswith("[RESOLVED] moderation: alert accuracy")


def test_a_webhook_that_is_down_or_failing_is_recorded(
    world: World, hook: Hook, caplog: pytest.LogCaptureFixture
) -> None:
    down = f"http://127.0.0.1:{free_port()}/hook"  # nothing listens there
    hook.status = 500
    notifiers = parse_notifiers([{"webhook": down}, {"webhook": hook.url}, "log"])
    world.write("drift.share_drifted", 1, 0.5)
    with caplog.at_level(logging.WARNING, logger="opsloop.alerts"):
        (fired,) = world.evaluate(NOTIFY, notifiers, window=1)
    refused, failing, logged = fired.actions
    assert not refused.ok and refused.detail.startswith("could not post")
    assert (failing.ok, failing.detail, failing.data) == (
        False,
        "the webhook answered HTTP 500",
        {"status": 500},
    )
    assert logged.ok  # the notifiers after a failed one still run
    failures = [e for e in events_of(world) if e[0] == "alert.action" and not e[3]["ok"]]
    assert len(failures) == 2
    assert any("could not post" in r.getMessage() for r in caplog.records)


def test_a_slow_webhook_times_out(world: World, hook: Hook) -> None:
    hook.delay_s = 1.0
    notifiers = parse_notifiers([{"webhook": hook.url, "timeout_s": 0.2}])
    world.write("drift.share_drifted", 1, 0.5)
    (fired,) = world.evaluate(NOTIFY, notifiers, window=1)
    (record,) = fired.actions
    assert (record.ok, record.detail) == (False, "no answer within 0.2 s")
