"""Pipelines, their runs and triggers: what a run recorded, step by step, and what starts one."""

from __future__ import annotations

import math
from datetime import datetime
from enum import StrEnum
from typing import Any

import orjson
from pydantic import Field

from opsloop.domain.entities import Entity
from opsloop.domain.errors import InvalidInput
from opsloop.domain.names import check_name, parse_dataset_ref

MAX_PARAMS_BYTES = 64_000
MAX_LABEL_COUNT = 10_000_000


class PipelineStatus(StrEnum):
    QUEUED = "queued"
    RUNNING = "running"
    SUCCEEDED = "succeeded"
    FAILED = "failed"

    @property
    def finished(self) -> bool:
        return self in (PipelineStatus.SUCCEEDED, PipelineStatus.FAILED)


class StepStatus(StrEnum):
    RUNNING = "running"
    SUCCEEDED = "succeeded"
    FAILED = "failed"
    CACHED = "cached"


class TriggerType(StrEnum):
    """What started a run."""

    MANUAL = "manual"
    SCHEDULE = "schedule"
    DATA = "data"
    ALERT = "alert"


class TriggerKind(StrEnum):
    """What a stored trigger watches."""

    SCHEDULE = "schedule"  # spec: {"cron": "*/5 * * * *"} (UTC)
    LABELS = "labels"  # spec: {"endpoint": E, "count": N}: N newly labelled predictions
    DATASET = "dataset"  # spec: {"dataset": "project/name"}: a new version of it

    @property
    def trigger_type(self) -> TriggerType:
        return TriggerType.SCHEDULE if self is TriggerKind.SCHEDULE else TriggerType.DATA


class StepOutput(Entity):
    """A step's return value, cloudpickled into the artifact store."""

    sha256: str
    size: int
    type: str = Field(description="the value's type, module.name")
    summary: str = Field(description="a short description: shape, ref or repr")


class StepRun(Entity):
    position: int = Field(description="1, 2, ... in the order the pipeline called its steps")
    name: str
    status: StepStatus
    cache_key: str | None = None
    attempts: int = Field(description="executions; 0 when the output came from the cache")
    started_at: datetime | None = None
    ended_at: datetime | None = None
    duration_s: float | None = None
    output: StepOutput | None = None
    error: str | None = Field(default=None, description="the traceback of the last attempt")
    log: str | None = Field(
        default=None, description="captured output (bounded); null in listings, which omit it"
    )


class PipelineRun(Entity):
    id: str
    pipeline: str
    project: str | None = None
    status: PipelineStatus
    trigger: TriggerType
    trigger_detail: dict[str, Any] = Field(default_factory=dict)
    params: dict[str, Any] = Field(default_factory=dict)
    executor: str
    actor: str = Field(description="who started it: a person, the scheduler, an alert")
    created_at: datetime
    started_at: datetime | None = None
    ended_at: datetime | None = None
    duration_s: float | None = None
    error: str | None = None
    steps: list[StepRun] = Field(default_factory=list)

    @property
    def finished(self) -> bool:
        return self.status.finished


class PipelineTrigger(Entity):
    id: int
    pipeline: str
    kind: TriggerKind
    spec: dict[str, Any]
    params: dict[str, Any] = Field(default_factory=dict)
    state: dict[str, Any] = Field(
        default_factory=dict, description="when it last fired, what it counted"
    )
    enabled: bool = True
    created_at: datetime
    created_by: str

    def describe(self) -> str:
        if self.kind is TriggerKind.SCHEDULE:
            return f"cron {self.spec['cron']} (UTC)"
        if self.kind is TriggerKind.LABELS:
            return f"every {self.spec['count']} new labels on endpoint {self.spec['endpoint']}"
        return f"each new version of dataset {self.spec['dataset']}"


class PipelineParam(Entity):
    name: str
    required: bool
    default: Any = None


class PipelineInfo(Entity):
    """A pipeline this process knows (registered with ``@opsloop.pipeline``)."""

    name: str
    project: str | None = None
    description: str = ""
    module: str
    params: list[PipelineParam] = Field(default_factory=list)


def check_params(params: Any, field: str = "params") -> dict[str, Any]:
    """A JSON object of parameters (what a run is recorded with)."""
    if params is None:
        return {}
    if not isinstance(params, dict) or not all(isinstance(key, str) for key in params):
        raise InvalidInput(f"{field} must be an object with text keys", field=field)
    try:
        size = len(orjson.dumps(params))
    except TypeError as exc:
        raise InvalidInput(f"{field} must be JSON values: {exc}", field=field) from None
    if size > MAX_PARAMS_BYTES:
        raise InvalidInput(f"{field} must be at most {MAX_PARAMS_BYTES} bytes of JSON", field=field)
    for key, value in params.items():
        if isinstance(value, float) and not math.isfinite(value):
            raise InvalidInput(f"{field}.{key} must be a finite number", field=f"{field}.{key}")
    return params


def check_trigger(kind: Any, spec: Any) -> tuple[TriggerKind, dict[str, Any]]:
    """A trigger's kind and spec, checked and normalised; InvalidInput names what is wrong."""
    try:
        checked = TriggerKind(kind)
    except ValueError:
        kinds = ", ".join(k.value for k in TriggerKind)
        raise InvalidInput(f"trigger kind must be one of {kinds}", field="kind") from None
    if not isinstance(spec, dict):
        raise InvalidInput("trigger spec must be an object", field="spec")
    expected = {
        TriggerKind.SCHEDULE: {"cron"},
        TriggerKind.LABELS: {"endpoint", "count"},
        TriggerKind.DATASET: {"dataset"},
    }[checked]
    if set(spec) != expected:
        keys = ", ".join(sorted(expected))
        raise InvalidInput(f"a {checked.value} trigger's spec has exactly: {keys}", field="spec")
    if checked is TriggerKind.SCHEDULE:
        return checked, {"cron": check_cron(spec["cron"])}
    if checked is TriggerKind.LABELS:
        count = spec["count"]
        if (
            not isinstance(count, int)
            or isinstance(count, bool)
            or not 1 <= count <= MAX_LABEL_COUNT
        ):
            raise InvalidInput(
                f"label count must be a whole number from 1 to {MAX_LABEL_COUNT}",
                field="spec.count",
            )
        return checked, {"endpoint": check_name(spec["endpoint"], "spec.endpoint"), "count": count}
    ref = parse_dataset_ref(spec["dataset"], "spec.dataset")
    if ref.version is not None:
        raise InvalidInput(
            "a dataset trigger watches project/name, without a version", field="spec.dataset"
        )
    return checked, {"dataset": str(ref)}


def check_cron(text: Any) -> str:
    """Five-field cron syntax (minute hour day month weekday), read in UTC."""
    from croniter import CroniterBadDateError, croniter

    if not isinstance(text, str) or len(text.split()) != 5 or not croniter.is_valid(text):
        raise InvalidInput(
            f"cron {text!r} must be five fields: minute hour day-of-month month day-of-week "
            "(e.g. '*/5 * * * *')",
            field="spec.cron",
        )
    try:  # a date that never comes (the 31st of February): the search for it gives up
        next_cron_time(text, 0.0)
    except CroniterBadDateError:
        raise InvalidInput(f"cron {text!r} never comes due", field="spec.cron") from None
    return " ".join(text.split())


def next_cron_time(cron: str, after: float) -> float:
    """The first time ``cron`` is due strictly after ``after`` (epoch seconds, UTC)."""
    from croniter import croniter

    return float(croniter(cron, after).get_next(float))


def last_line(error: str | None) -> str:
    """An error's last non-blank line (a traceback's is the exception itself)."""
    lines = [line for line in (error or "").splitlines() if line.strip()]
    return lines[-1].strip() if lines else ""
