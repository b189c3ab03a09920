"""Endpoints and their traffic plans: deploy (behind a gate), canary, shadow, promote, roll back.

Every change is a Deployment record and an Event, written in one transaction with the plan it
sets, and moves the model's ``champion`` alias when the primary changes. The rule "a deploy
needs a go verdict for that endpoint unless forced, and a forced deploy says why" lives here
and nowhere else.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from typing import Any

from sqlalchemy import Connection

from opsloop.domain.deployments import Deployment, DeploymentAction, Endpoint, Slot, TrafficPlan
from opsloop.domain.entities import Actor
from opsloop.domain.errors import Conflict, InvalidInput
from opsloop.domain.names import ModelRef, check_name
from opsloop.services.projects import ProjectService
from opsloop.services.registry import RegistryService
from opsloop.store.database import Database, retry_races
from opsloop.store.repos import endpoints, evaluations, events, models, projects
from opsloop.store.repos._time import at, now

CHAMPION = "champion"
MAX_REASON = 2_000
HISTORY_LIMIT = 1_000


def subject_of(endpoint: str) -> str:
    return f"endpoint:{endpoint}"


class DeploymentService:
    def __init__(self, db: Database, projects: ProjectService, registry: RegistryService) -> None:
        self.db = db
        self.project_service = projects
        self.registry = registry
        self._listeners: list[Callable[[str], None]] = []

    def on_change(self, listener: Callable[[str], None]) -> None:
        """Call ``listener(endpoint)`` after each committed change (the serving host in the
        same process reloads at once instead of waiting for its next poll)."""
        self._listeners.append(listener)

    # -- reading ---------------------------------------------------------------------------

    def get(self, name: str) -> Endpoint:
        with self.db.read() as conn:
            return endpoints.get(conn, check_name(name, "endpoint"))

    def list_endpoints(self, project: str | None = None) -> list[Endpoint]:
        with self.db.read() as conn:
            if project is not None:
                projects.get_id(conn, check_name(project, "project"))
            return endpoints.list_all(conn, project)

    def history(self, name: str, limit: int = HISTORY_LIMIT) -> list[Deployment]:
        with self.db.read() as conn:
            endpoint_id = endpoints.get_id(conn, check_name(name, "endpoint"))
            return endpoints.history(conn, endpoint_id, name, limit)

    def current_numbers(self) -> dict[str, int | None]:
        with self.db.read() as conn:
            return endpoints.current_numbers(conn)

    # -- changing --------------------------------------------------------------------------

    def deploy(
        self,
        ref: ModelRef,
        endpoint: str,
        actor: Actor,
        *,
        canary: float | None = None,
        shadow: bool = False,
        force: bool = False,
        reason: str = "",
    ) -> Deployment:
        """Serve ``ref`` on ``endpoint``: as the primary, as a canary taking ``canary``
        percent of requests, or as a shadow. Needs a go verdict for this endpoint, or
        ``force`` with a ``reason`` (recorded as such)."""
        check_name(endpoint, "endpoint")
        reason = _check_reason(reason)
        if canary is not None and shadow:
            raise InvalidInput("choose a canary share or a shadow, not both", field="canary")
        if canary is not None and not (
            isinstance(canary, int | float) and math.isfinite(canary) and 0 < canary < 100
        ):
            raise InvalidInput(
                "canary share must be a percentage above 0 and below 100", field="canary"
            )
        if force and not reason:
            raise InvalidInput("a forced deploy needs a reason (--reason)", field="reason")
        version = self.registry.resolve(ref)
        slot = Slot(model=version.model, version=version.version)
        action = (
            DeploymentAction.CANARY
            if canary is not None
            else DeploymentAction.SHADOW
            if shadow
            else DeploymentAction.DEPLOY
        )

        def change(conn: Connection) -> Deployment:
            endpoint_id, current = self._endpoint_for_change(conn, endpoint, version.project, actor)
            model_id = models.get_id(conn, version.project, version.model)
            verdict = evaluations.latest_verdict(
                conn, models.version_id(conn, model_id, version.version), endpoint
            )
            approved = verdict is not None and verdict[1] == "go"
            if not approved and not force:
                raise Conflict(
                    _refusal(version.ref, endpoint, verdict),
                    field="verdict",
                    detail={"evaluation_id": None if verdict is None else verdict[0]},
                )
            plan = _plan_for(action, current, slot, canary, endpoint)
            return self._record(
                conn,
                endpoint_id,
                current,
                action,
                plan,
                actor,
                reason,
                slot=slot,
                evaluation=verdict,
                forced=not approved,
            )

        return self._write(endpoint, change)

    def promote(self, endpoint: str, actor: Actor, reason: str = "") -> Deployment:
        """Make the canary the primary, for all traffic."""
        check_name(endpoint, "endpoint")
        reason = _check_reason(reason)

        def change(conn: Connection) -> Deployment:
            endpoint_id, current = self._endpoint_for_change(conn, endpoint, None, actor)
            if current.plan.canary is None:
                raise Conflict(f"endpoint {endpoint!r} has no canary to promote", field="endpoint")
            plan = TrafficPlan(primary=current.plan.canary, shadow=current.plan.shadow)
            return self._record(
                conn,
                endpoint_id,
                current,
                DeploymentAction.PROMOTE,
                plan,
                actor,
                reason,
                slot=current.plan.canary,
            )

        return self._write(endpoint, change)

    def rollback(
        self,
        endpoint: str,
        actor: Actor,
        *,
        steps: int = 1,
        number: int | None = None,
        reason: str = "",
    ) -> Deployment:
        """Restore the plan of ``steps`` deployments back (following what earlier rollbacks
        undid, so rolling back twice goes two back), or of deployment ``number``."""
        check_name(endpoint, "endpoint")
        reason = _check_reason(reason)
        if not isinstance(steps, int) or isinstance(steps, bool) or steps < 1:
            raise InvalidInput("steps must be a whole number from 1", field="steps")
        if number is not None and (
            not isinstance(number, int) or isinstance(number, bool) or number < 1
        ):
            raise InvalidInput("deployment number must be a whole number from 1", field="number")

        def change(conn: Connection) -> Deployment:
            endpoint_id, current = self._endpoint_for_change(conn, endpoint, None, actor)
            if current.deployment is None:
                raise Conflict(f"endpoint {endpoint!r} has no deployments", field="endpoint")
            head = endpoints.get_deployment(conn, endpoint_id, endpoint, current.deployment)
            if number is not None:
                if number >= head.number:
                    raise InvalidInput(
                        f"deployment {number} is not before the current one ({head.number})",
                        field="number",
                    )
                target = endpoints.get_deployment(conn, endpoint_id, endpoint, number)
            else:
                target = head
                for walked in range(steps):
                    if target.base is None:
                        raise Conflict(
                            f"endpoint {endpoint!r} has only {walked} deployment(s) to roll "
                            f"back through",
                            field="steps",
                        )
                    target = endpoints.get_deployment(conn, endpoint_id, endpoint, target.base)
            return self._record(
                conn,
                endpoint_id,
                current,
                DeploymentAction.ROLLBACK,
                target.plan,
                actor,
                reason,
                slot=target.plan.primary,
                base=target.base,
                restores=target.number,
            )

        return self._write(endpoint, change)

    # -- the shared path of every change ---------------------------------------------------

    def _write(self, endpoint: str, change: Callable[[Connection], Deployment]) -> Deployment:
        def attempt() -> Deployment:
            with self.db.begin() as conn:
                return change(conn)

        made = retry_races(attempt, f"changing endpoint {endpoint}")
        for listener in self._listeners:
            listener(endpoint)
        return made

    def _endpoint_for_change(
        self, conn: Connection, name: str, project: str | None, actor: Actor
    ) -> tuple[int, Endpoint]:
        """The endpoint's id (locked) and state; a deploy (which names ``project``) creates
        the endpoint the first time, other changes need it to exist."""
        if project is None:
            endpoint_id = endpoints.get_id(conn, name)
        else:
            endpoint_id = endpoints.find_id(conn, name) or self._create(conn, name, project, actor)
        endpoints.lock(conn, endpoint_id)
        current = endpoints.get(conn, name)
        if project is not None and current.project != project:
            raise InvalidInput(
                f"endpoint {name!r} serves project {current.project!r}, not {project!r}",
                field="endpoint",
            )
        return endpoint_id, current

    def _create(self, conn: Connection, name: str, project: str, actor: Actor) -> int:
        project_id = self.project_service.ensure(conn, project, actor)
        created = now()
        endpoint_id = endpoints.insert(conn, name, project_id, "", created)
        events.append(
            conn,
            kind="endpoint.created",
            subject=subject_of(name),
            project=project,
            actor=actor.name,
            actor_kind=actor.kind,
            time=created,
        )
        return endpoint_id

    def _record(
        self,
        conn: Connection,
        endpoint_id: int,
        current: Endpoint,
        action: DeploymentAction,
        plan: TrafficPlan,
        actor: Actor,
        reason: str,
        *,
        slot: Slot | None,
        evaluation: tuple[int, str | None] | None = None,
        forced: bool = False,
        base: int | None = None,
        restores: int | None = None,
    ) -> Deployment:
        endpoint, project = current.name, current.project
        if plan == current.plan:
            raise Conflict(
                f"endpoint {endpoint!r} already serves that plan ({plan.describe()})",
                field="endpoint",
            )
        changed_at = now()
        record = Deployment(
            endpoint=endpoint,
            number=(current.deployment or 0) + 1,  # the endpoint row holds the newest
            action=action,
            plan=plan,
            model=None if slot is None else slot.model,
            version=None if slot is None else slot.version,
            base=current.deployment if action is not DeploymentAction.ROLLBACK else base,
            restores=restores,
            evaluation_id=None if evaluation is None else evaluation[0],
            verdict=None if evaluation is None else evaluation[1],
            forced=forced,
            reason=reason,
            actor=actor.name,
            actor_kind=actor.kind,
            time=at(changed_at),
        )
        endpoints.insert_deployment(conn, endpoint_id, record)
        data: dict[str, Any] = record.model_dump(
            mode="json", exclude={"endpoint", "actor", "actor_kind", "time"}
        )
        data["previous_plan"] = current.plan.model_dump(mode="json")
        events.append(
            conn,
            kind=f"endpoint.{_EVENT_KINDS[action]}",
            subject=subject_of(endpoint),
            project=project,
            actor=actor.name,
            actor_kind=actor.kind,
            time=changed_at,
            data=data,
        )
        primary = plan.primary
        if primary is not None and primary != current.plan.primary:
            model_id = models.get_id(conn, project, primary.model)
            if models.alias_target(conn, model_id, CHAMPION) != primary.version:
                self.registry.move_alias(
                    conn,
                    project,
                    primary.model,
                    CHAMPION,
                    primary.version,
                    actor,
                    reason=f"{action.value} on endpoint {endpoint} (deployment {record.number})",
                )
        return record


_EVENT_KINDS = {
    DeploymentAction.DEPLOY: "deployed",
    DeploymentAction.CANARY: "canary_started",
    DeploymentAction.SHADOW: "shadow_started",
    DeploymentAction.PROMOTE: "promoted",
    DeploymentAction.ROLLBACK: "rolled_back",
}


def _plan_for(
    action: DeploymentAction,
    current: Endpoint,
    slot: Slot,
    canary: float | None,
    endpoint: str,
) -> TrafficPlan:
    if action is DeploymentAction.DEPLOY:
        return TrafficPlan(primary=slot)
    if current.plan.primary is None:
        raise Conflict(
            f"endpoint {endpoint!r} has no primary yet: deploy one before a {action.value}",
            field="endpoint",
        )
    if slot == current.plan.primary:
        raise Conflict(f"{slot.ref} is already the primary of {endpoint!r}", field="endpoint")
    if action is DeploymentAction.CANARY:
        return current.plan.model_copy(update={"canary": slot, "canary_share": float(canary or 0)})
    return current.plan.model_copy(update={"shadow": slot})


def _refusal(ref: str, endpoint: str, verdict: tuple[int, str | None] | None) -> str:
    if verdict is None:
        return (
            f"{ref} has no gate verdict for endpoint {endpoint!r}: evaluate it with a gate "
            f"for this endpoint, or deploy with --force and a --reason"
        )
    return (
        f"{ref} got a no-go verdict for endpoint {endpoint!r} (evaluation {verdict[0]}): "
        f"fix what failed, or deploy with --force and a --reason"
    )


def _check_reason(reason: str) -> str:
    if not isinstance(reason, str) or len(reason) > MAX_REASON:
        raise InvalidInput(
            f"reason must be text of at most {MAX_REASON} characters", field="reason"
        )
    return reason.strip()
