"""Request bodies of the REST API. Responses are the domain entities themselves."""

from __future__ import annotations

from typing import Annotated, Any

from pydantic import BaseModel, ConfigDict, Field, PlainValidator, WithJsonSchema

from opsloop.domain.entities import MetricSeries, Moment, RunStatus, Signature


def _scalar(value: Any) -> str | int | float | bool:
    if not isinstance(value, str | int | float | bool):
        raise ValueError("must be a string, a number or a boolean")
    return value


# One validator rather than a union: a wrong value gets one error naming its own field.
Scalar = Annotated[
    str | int | float | bool,
    PlainValidator(_scalar),
    WithJsonSchema({"type": ["string", "number", "boolean"]}),
]


class Body(BaseModel):
    model_config = ConfigDict(extra="forbid")


class ProjectCreate(Body):
    name: str
    description: str = ""


class RunCreate(Body):
    """A new run. It may carry its first batch, and even its end (a run recorded whole)."""

    project: str
    experiment: str = "default"
    name: str | None = None
    id: str | None = Field(default=None, description="32 hex digits; made by the server if absent")
    parent_id: str | None = None
    start_time: Moment | None = None
    params: dict[str, Scalar] = {}
    tags: dict[str, Scalar] = {}
    metrics: dict[str, MetricSeries] = {}
    git_sha: str | None = Field(default=None, max_length=64)
    git_dirty: bool | None = None
    python_version: str | None = Field(default=None, max_length=32)
    packages: dict[str, str] = {}
    end: RunStatus | None = Field(default=None, description="close the run at once: FINISHED...")
    error: str | None = None


class RunLog(Body):
    params: dict[str, Scalar] = {}
    tags: dict[str, Scalar] = {}
    metrics: dict[str, MetricSeries] = {}


class RunEnd(RunLog):
    status: RunStatus = RunStatus.FINISHED
    error: str | None = None


class LogResult(BaseModel):
    metrics_written: int


class RunInput(Body):
    dataset: str = Field(description="project/dataset[@version]")


class RunArtifactCreate(Body):
    path: str
    sha256: str


class RunList(BaseModel):
    runs: list[Any]
    total: int


class Uploaded(BaseModel):
    sha256: str
    size: int


class DatasetVersionCreate(Body):
    sha256: str
    parents: list[str] = []
    source: str = ""
    description: str = ""


class ModelCreate(Body):
    name: str
    description: str = ""


class ModelVersionCreate(Body):
    flavor: str
    sha256: str
    signature: Signature = Signature()
    run_id: str | None = None
    description: str = ""


class AliasSet(Body):
    version: int = Field(ge=1, le=2**31 - 1)
    reason: str = Field(default="", max_length=2000)


class DeployRequest(Body):
    model: str = Field(description="project/model@version (or @alias)")
    canary: float | None = Field(default=None, description="percent of traffic, above 0, below 100")
    shadow: bool = False
    force: bool = Field(default=False, description="deploy without a go verdict; needs a reason")
    reason: str = ""


class PromoteRequest(Body):
    reason: str = ""


class RollbackRequest(Body):
    steps: int = Field(default=1, description="how many deployments back")
    number: int | None = Field(default=None, description="or: the deployment number to restore")
    reason: str = ""


def _label(value: Any) -> Any:
    if value is None:
        raise ValueError(
            "must be a number, text, true/false, a list of item ids or an object of item grades"
        )
    return value


# The feedback service checks a label's shape (a ranking's items and grades too) and names
# the item that is wrong; here only its JSON schema is written down.
Label = Annotated[
    Any,
    PlainValidator(_label),
    WithJsonSchema(
        {
            "anyOf": [
                {"type": ["string", "number", "boolean"]},
                {"type": "array", "items": {"type": ["string", "integer"]}},
                {"type": "object", "additionalProperties": {"type": "number"}},
            ]
        }
    ),
]


class FeedbackItem(BaseModel):
    id: str
    label: Label


class FeedbackRequest(Body):
    feedback: list[FeedbackItem]
    source: str = Field(default="user", description="user, reviewer or system")


class PredictRequest(Body):
    """Documented here; the route reads the body itself (the hot path)."""

    inputs: list[dict[str, Any] | list[Any]] = Field(
        description="rows: objects keyed by feature name, or arrays in signature order"
    )
    ids: list[str] | None = Field(default=None, description="your id per row; made if absent")
    key: str | None = Field(
        default=None, description="routes a canary split stickily (e.g. a user id)"
    )


class PredictionOut(BaseModel):
    id: str
    prediction: Any
    scores: dict[str, float] | None = None


class PredictResponse(BaseModel):
    model: str = Field(description="project/model@version that answered")
    predictions: list[PredictionOut]


class TokenCreate(Body):
    role: str = Field(description="viewer, reviewer, deployer or admin")
    name: str | None = None
    endpoint: str | None = Field(default=None, description="limit the token to one endpoint")
    expires_at: Moment | None = None


class EvaluateRequest(Body):
    dataset: str = Field(description="project/dataset[@version] holding features and the truth")
    gate: str | None = Field(default=None, description="the gate policy, as YAML text")
    endpoint: str | None = Field(default=None, description="the endpoint the verdict is for")
    target: str | None = Field(default=None, description="the truth column (or in the gate)")
    segment: str | None = Field(default=None, description="a column for per-segment metrics")
