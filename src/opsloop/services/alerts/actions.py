"""What a firing alert does: roll the endpoint back, or start a pipeline. Each returns the
outcome as a record; a failure (nothing to roll back to, an unknown pipeline) is an outcome,
never an exception out of the monitor's pass."""

from __future__ import annotations

import logging
from collections.abc import Callable
from typing import Any

from opsloop.domain.alerts import ActionRecord, Alert
from opsloop.domain.deployments import DeploymentAction
from opsloop.domain.entities import Actor, ActorKind
from opsloop.domain.errors import OpsloopError
from opsloop.services.deployments import DeploymentService
from opsloop.store.repos._time import at, now

logger = logging.getLogger("opsloop.alerts")

StartPipeline = Callable[..., Any]


def monitor_actor(endpoint: str) -> Actor:
    return Actor(name=f"monitor:{endpoint}", kind=ActorKind.MONITOR)


def rollback(deployments: DeploymentService, alert: Alert) -> ActionRecord:
    """Restore the endpoint's previous traffic plan. Not again when the plan it serves is
    already a rollback this monitor made: walking further back through the history, alert
    after alert, is a person's call."""
    actor = monitor_actor(alert.endpoint)

    def act() -> tuple[str, dict[str, Any]]:
        history = deployments.history(alert.endpoint, limit=1)
        head = history[0] if history else None
        if (
            head is not None
            and head.action is DeploymentAction.ROLLBACK
            and head.actor == actor.name
        ):
            raise OpsloopError(
                f"not rolled back again: deployment {head.number} is already a rollback by "
                f"{actor.name}; roll back by hand to go further"
            )
        done = deployments.rollback(alert.endpoint, actor, reason=_reason(alert))
        return (
            f"deployment {done.number} restores deployment {done.restores}: {done.plan.describe()}",
            {"deployment": done.number, "restores": done.restores},
        )

    return _attempt("rollback", alert, act)


def start_pipeline(start: StartPipeline | None, pipeline: str, alert: Alert) -> ActionRecord:
    """Queue a run of ``pipeline`` with trigger ``alert`` (it runs on its own thread), unless
    one for the same endpoint is still queued or running."""

    def act() -> tuple[str, dict[str, Any]]:
        if start is None:
            raise OpsloopError("this process has no pipeline runner")
        run = start(
            pipeline,
            trigger="alert",
            detail={
                "alert": alert.id,
                "rule": alert.rule,
                "metric": alert.metric,
                "value": alert.value,
                "endpoint": alert.endpoint,
            },
            params={"endpoint": alert.endpoint},
            actor=monitor_actor(alert.endpoint),
            unless_active=True,
        )
        run_id = run.id
        if run.trigger_detail.get("alert") != alert.id:
            return f"run {run_id} was already at work: not started again", {
                "run": run_id,
                "already_active": True,
            }
        return f"run {run_id} queued", {"run": run_id}

    return _attempt(f"pipeline {pipeline}", alert, act)


def _attempt(
    action: str, alert: Alert, act: Callable[[], tuple[str, dict[str, Any]]]
) -> ActionRecord:
    try:
        detail, data = act()
    except OpsloopError as exc:
        logger.warning("alert %s on %s: %s failed: %s", alert.id, alert.endpoint, action, exc)
        return ActionRecord(action=action, ok=False, detail=exc.headline, time=at(now()))
    except Exception as exc:  # a bug in a user's pipeline code must not stop the monitor
        logger.exception("alert %s on %s: %s failed", alert.id, alert.endpoint, action)
        detail = f"{type(exc).__name__}: {exc}"[:500]
        return ActionRecord(action=action, ok=False, detail=detail, time=at(now()))
    return ActionRecord(action=action, ok=True, detail=detail, time=at(now()), data=data)


def _reason(alert: Alert) -> str:
    value = "no value" if alert.value is None else f"{alert.value:.6g}"
    return f"alert {alert.id} ({alert.rule}): {alert.metric} = {value} ({alert.condition})"
