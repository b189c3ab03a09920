"""The measure of the loop: what ``opsloop report`` computes from the Event log.

The lifecycle stages and their maturity level, the hours each stage takes per month, the lead
time of every model version shipped, and the delivery, recovery, label and review figures.
docs/report.md says what each figure measures.
"""

from __future__ import annotations

from collections.abc import Iterable
from datetime import datetime
from enum import StrEnum
from typing import Literal

from pydantic import Field

from opsloop.domain.entities import Entity
from opsloop.domain.review import Spread


class Stage(StrEnum):
    """The lifecycle stages, in the loop's order."""

    DATA_COLLECTION = "data_collection"
    VALIDATION = "validation"
    TRAINING = "training"
    EVALUATION = "evaluation"
    REGISTRY = "registry"
    DEPLOYMENT = "deployment"
    MONITORING = "monitoring"
    RETRAINING = "retraining"
    ROLLBACK = "rollback"
    REVIEW = "review"

    @property
    def label(self) -> str:
        """The stage in words: ``data collection``."""
        return self.value.replace("_", " ")


class Level(StrEnum):
    """How a stage was handled in the period, from who performed it."""

    NOT_HANDLED = "not handled"
    MANUAL = "manual"
    AUTOMATED = "automated"


def level_of(by_people: int, by_machines: int) -> Level:
    """Automated when machines (pipelines, monitors, the system) did most of it, manual when
    people did at least half, not handled when nobody did it."""
    if by_people == 0 and by_machines == 0:
        return Level.NOT_HANDLED
    return Level.AUTOMATED if by_machines > by_people else Level.MANUAL


StageScope = Literal["project", "endpoint", "mixed"]


class SideHours(Entity):
    """One side's (people's or machines') share of a stage's time."""

    occurrences: int = Field(description="occurrences in the period")
    measured: int = Field(description="of those, how many have a measured duration")
    mean_s: float | None = Field(description="mean measured duration; None: none measured")
    hours_per_month: float | None = Field(
        description="occurrences per 30 days × mean_s, in hours; None: not measured"
    )


class StageHours(Entity):
    measures: str | None = Field(description="what a duration measures; None: not measured")
    people: SideHours
    machines: SideHours

    @property
    def hours_per_month(self) -> float | None:
        """Both sides together; None when neither side was measured."""
        sides = [self.people.hours_per_month, self.machines.hours_per_month]
        known = [hours for hours in sides if hours is not None]
        return sum(known) if known else None


class StageReport(Entity):
    """One row of the maturity map, with the stage's hours per month."""

    stage: Stage
    label: str = Field(description="the stage in words")
    level: Level
    by_people: int = Field(description="occurrences deciding the level that people performed")
    by_machines: int = Field(description="... that pipelines, monitors or the system performed")
    counted: str = Field(description="which occurrences decide the level")
    note: str = ""
    scope: StageScope = Field(
        description="what an endpoint filter narrows: nothing (project-wide), all, or part"
    )
    hours: StageHours


def by_people_hours(stages: Iterable[StageReport]) -> list[StageReport]:
    """The stages costing people the most hours per month first (where automating saves
    the most), then by machines' hours."""

    def cost(row: StageReport) -> tuple[float, float]:
        people, machines = row.hours.people.hours_per_month, row.hours.machines.hours_per_month
        return (-(people or 0.0), -(machines or 0.0))

    return sorted(stages, key=cost)


class LeadTime(Entity):
    """One model version's way to an endpoint: each milestone's time and the steps between.

    ``deployed_at`` is its first deployment on the endpoint (deploy, canary or shadow);
    ``promoted_at`` is when it first served as the primary (at once for a plain deploy)."""

    endpoint: str
    model: str
    version: int
    deployed_as: str
    data: str | None = Field(description="the newest dataset version its run read")
    data_at: datetime | None
    run_started_at: datetime | None
    registered_at: datetime | None
    evaluated_at: datetime | None
    deployed_at: datetime
    promoted_at: datetime | None
    data_to_run_s: float | None
    run_to_registered_s: float | None
    registered_to_evaluated_s: float | None
    evaluated_to_deployed_s: float | None
    deployed_to_promoted_s: float | None
    total_s: float | None = Field(description="data_at → promoted_at")


LEAD_STEPS = (
    "data_to_run_s",
    "run_to_registered_s",
    "registered_to_evaluated_s",
    "evaluated_to_deployed_s",
    "deployed_to_promoted_s",
    "total_s",
)
# Each step in words, as the terminal and the page title their columns.
LEAD_STEP_TITLES = dict(
    zip(
        LEAD_STEPS,
        (
            "data → run",
            "run → registered",
            "registered → evaluated",
            "evaluated → deployed",
            "deployed → promoted",
            "total",
        ),
        strict=True,
    )
)


class LeadTimeSummary(Entity):
    """The median (and p90) of each step over the versions shipped in the period."""

    data_to_run_s: Spread | None
    run_to_registered_s: Spread | None
    registered_to_evaluated_s: Spread | None
    evaluated_to_deployed_s: Spread | None
    deployed_to_promoted_s: Spread | None
    total_s: Spread | None


class Delivery(Entity):
    deployments: int = Field(description="deploy, canary, shadow and promote changes")
    by_action: dict[str, int]
    per_week: float
    rollbacks: int
    failed_changes: int = Field(description="changes of the period a rollback in it undid")
    change_failure_rate: float | None
    time_to_rollback: Spread | None = Field(
        description="from the undone deployment to its rollback"
    )
    alert_to_rollback: Spread | None = Field(
        description="from an alert firing to the rollback its action made"
    )


class Recovery(Entity):
    alerts_fired: int
    resolved: int = Field(description="of those, resolved by the period's end")
    still_firing: int
    time_to_recovery: Spread | None = Field(description="alert fired → resolved")


class Labels(Entity):
    labelled: int = Field(description="served predictions of the period that have a label")
    label_delay: Spread | None = Field(description="prediction → its latest label")


class ReviewFigures(Entity):
    routed: int = Field(description="items routed to review in the period")
    decided: int = Field(description="decisions made in the period")
    closed: int = Field(description="items closed in the period")
    backlog: int = Field(description="items open at the period's end")
    oldest_open_age_s: float | None
    time_to_decision: Spread | None = Field(description="routed → closed")
    handling_time: Spread | None = Field(description="claimed → decided")


class Report(Entity):
    project: str | None = Field(description="None: every project")
    endpoint: str | None
    since: datetime
    until: datetime
    days: float
    made_at: datetime
    events: int = Field(description="events read for the period")
    stages: list[StageReport]
    next_to_automate: Stage | None = Field(
        description="the manual stage with the most measured person-hours per month"
    )
    lead_times: list[LeadTime]
    lead_time: LeadTimeSummary
    delivery: Delivery
    recovery: Recovery
    labels: Labels
    review: ReviewFigures

    def stage(self, stage: Stage | str) -> StageReport:
        """One stage's row, by its value (``data_collection``) or its label."""
        wanted = Stage(str(stage).replace(" ", "_"))
        return next(row for row in self.stages if row.stage is wanted)
