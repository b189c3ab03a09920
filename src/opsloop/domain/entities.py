"""The entities every layer speaks: what the API returns, the SDK receives, the CLI prints.

Times are UTC ``datetime``s; metric timestamps are epoch milliseconds (they come in bulk).
"""

from __future__ import annotations

from datetime import UTC, datetime
from enum import StrEnum
from typing import Annotated, Any, Literal

from pydantic import AfterValidator, BaseModel, ConfigDict, Field


class Entity(BaseModel):
    model_config = ConfigDict(frozen=True)


class RunStatus(StrEnum):
    RUNNING = "RUNNING"
    FINISHED = "FINISHED"
    FAILED = "FAILED"
    KILLED = "KILLED"


class ActorKind(StrEnum):
    USER = "user"
    PIPELINE = "pipeline"
    MONITOR = "monitor"
    SYSTEM = "system"


class Actor(Entity):
    """Who did something: a person, a pipeline, a monitor. Recorded on every Event."""

    name: str
    kind: ActorKind = ActorKind.USER


class Project(Entity):
    name: str
    description: str = ""
    created_at: datetime


class Experiment(Entity):
    project: str
    name: str
    created_at: datetime


class DatasetInput(Entity):
    """A dataset version a run read."""

    project: str
    dataset: str
    version: int

    def __str__(self) -> str:
        return f"{self.project}/{self.dataset}@{self.version}"


class RunArtifact(Entity):
    path: str
    sha256: str
    size: int


class Run(Entity):
    id: str
    project: str
    experiment: str
    name: str
    status: RunStatus
    parent_id: str | None = None
    user: str
    start_time: datetime
    end_time: datetime | None = None
    duration_s: float | None = None
    params: dict[str, str] = {}
    tags: dict[str, str] = {}
    metrics: dict[str, float] = Field(default_factory=dict, description="latest value per key")
    inputs: list[DatasetInput] = []
    artifacts: list[RunArtifact] = []
    git_sha: str | None = None
    git_dirty: bool | None = None
    python_version: str | None = None
    packages: dict[str, str] = {}
    error: str | None = None


Whole64 = Annotated[int, Field(ge=0, lt=2**63)]


def storable(moment: datetime) -> datetime:
    """``moment``, if it can be stored: times are kept as epoch seconds and read back in UTC
    (naive means UTC), so one whose UTC reading falls outside the years 1 to 9999 could be
    written but never read. Raises ValueError otherwise."""
    aware = moment if moment.tzinfo is not None else moment.replace(tzinfo=UTC)
    try:
        datetime.fromtimestamp(aware.timestamp(), UTC)
    except (OverflowError, OSError, ValueError):
        raise ValueError("must be a time from year 1 to 9999 in UTC") from None
    return moment


# What a request may give as a time (a body field or a query parameter).
Moment = Annotated[datetime, AfterValidator(storable)]


class MetricSeries(BaseModel):
    """One metric's points, column by column (cheap to validate and to send in bulk)."""

    values: list[float]
    steps: list[Whole64]
    timestamps: list[Whole64] = Field(description="epoch milliseconds")


class ColumnProfile(Entity):
    name: str
    type: str
    kind: Literal["numeric", "categorical", "boolean", "datetime", "other"]
    count: int
    missing: int
    distinct: int | None = None
    min: float | str | None = None
    max: float | str | None = None
    mean: float | None = None
    std: float | None = None
    quantiles: dict[str, float] = {}
    histogram: dict[str, list[float]] = Field(
        default_factory=dict, description="'edges' (n+1) and 'counts' (n)"
    )
    top_values: list[dict[str, Any]] = []


class DatasetProfile(Entity):
    num_rows: int
    num_columns: int
    columns: list[ColumnProfile]

    def column(self, name: str) -> ColumnProfile:
        for column in self.columns:
            if column.name == name:
                return column
        raise KeyError(name)


class DatasetVersion(Entity):
    project: str
    dataset: str
    version: int
    sha256: str
    size: int
    num_rows: int
    num_columns: int
    profile: DatasetProfile
    parents: list[str] = Field(default=[], description="project/dataset@version it was built from")
    source: str = ""
    description: str = ""
    created_at: datetime
    created_by: str

    @property
    def ref(self) -> str:
        return f"{self.project}/{self.dataset}@{self.version}"


class Dataset(Entity):
    project: str
    name: str
    created_at: datetime
    latest_version: int | None = None


class ColumnSpec(Entity):
    name: str
    type: str


class Signature(Entity):
    """What a model takes and gives: named columns, or a 2-D tensor of one dtype."""

    inputs: list[ColumnSpec] = []
    input_tensor: dict[str, Any] | None = None
    output_type: str | None = None
    output_shape: list[int] | None = None
    classes: list[Any] | None = None


class Model(Entity):
    project: str
    name: str
    description: str = ""
    created_at: datetime
    latest_version: int | None = None
    aliases: dict[str, int] = {}


class ModelVersion(Entity):
    project: str
    model: str
    version: int
    flavor: str
    sha256: str
    size: int
    signature: Signature
    run_id: str | None = None
    description: str = ""
    created_at: datetime
    created_by: str
    aliases: list[str] = []

    @property
    def ref(self) -> str:
        return f"{self.project}/{self.model}@{self.version}"


class AliasMove(Entity):
    alias: str
    from_version: int | None
    to_version: int | None
    time: datetime
    actor: str
    event_id: int
    reason: str = ""


class Event(Entity):
    id: int
    time: datetime
    project: str | None
    kind: str
    subject: str
    actor: str
    actor_kind: ActorKind
    data: dict[str, Any] = {}
