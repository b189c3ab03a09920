"""Endpoints and their deployments: which model versions serve which share of the traffic."""

from __future__ import annotations

from datetime import datetime
from enum import StrEnum

from pydantic import Field

from opsloop.domain.entities import ActorKind, Entity


class Slot(Entity):
    """One model version in a traffic plan."""

    model: str
    version: int

    @property
    def ref(self) -> str:
        return f"{self.model}@{self.version}"


class TrafficPlan(Entity):
    """Who answers an endpoint's requests: the primary, a canary taking ``canary_share``
    percent of them, and a shadow that sees a copy of every request but is never returned."""

    primary: Slot | None = None
    canary: Slot | None = None
    canary_share: float = Field(default=0.0, ge=0, le=100, description="percent")
    shadow: Slot | None = None

    def describe(self) -> str:
        """The plan in one line: ``violation@3 (90%), canary violation@4 (10%), shadow
        violation@5``."""
        if self.primary is None:
            return "nothing"
        if self.canary is None:
            parts = [self.primary.ref]
        else:
            share = self.canary_share
            parts = [
                f"{self.primary.ref} ({100 - share:g}%)",
                f"canary {self.canary.ref} ({share:g}%)",
            ]
        if self.shadow is not None:
            parts.append(f"shadow {self.shadow.ref}")
        return ", ".join(parts)


class DeploymentAction(StrEnum):
    DEPLOY = "deploy"
    CANARY = "canary"
    SHADOW = "shadow"
    PROMOTE = "promote"
    ROLLBACK = "rollback"


class Deployment(Entity):
    """One change of an endpoint's traffic plan: who, when, why, and on which verdict."""

    endpoint: str
    number: int = Field(description="1, 2, ... per endpoint")
    action: DeploymentAction
    plan: TrafficPlan
    model: str | None = Field(default=None, description="the version this change is about")
    version: int | None = None
    base: int | None = Field(
        default=None, description="the deployment this one was made on top of (rollback target)"
    )
    restores: int | None = Field(default=None, description="for a rollback: the plan it restored")
    evaluation_id: int | None = None
    verdict: str | None = None
    forced: bool = False
    reason: str = ""
    actor: str
    actor_kind: ActorKind
    time: datetime


class Endpoint(Entity):
    name: str
    project: str
    description: str = ""
    created_at: datetime
    updated_at: datetime
    plan: TrafficPlan
    deployment: int | None = Field(default=None, description="number of the current deployment")


class FeedbackReceipt(Entity):
    """What became of a batch of labels: stored, or unknown to the endpoint."""

    endpoint: str
    accepted: int
    unknown: int
    unknown_ids: list[str] = Field(default_factory=list, description="the first 100")
