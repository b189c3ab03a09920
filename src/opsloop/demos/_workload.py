"""What each reference workload gives the demo's runner, the pace it runs at, and the table
helpers the workloads share."""

from __future__ import annotations

import os
from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Protocol

from opsloop.demos._traffic import Request

if TYPE_CHECKING:
    import pandas as pd

    from opsloop.domain.entities import ModelVersion


@dataclass(frozen=True)
class Pace:
    """How fast the loop turns. ``--fast`` squeezes a month of traffic into about half a
    minute; the full pace gives a person time to watch the UI while it happens."""

    window_s: int  # the monitor's window
    replay_s: float  # the whole replay, wall-clock
    label_delay_s: float  # prediction → its label
    tick_s: float  # the server's scheduler
    canary_timeout_s: float
    reviewer_handling_s: float

    @classmethod
    def of(cls, fast: bool) -> Pace:
        if fast:
            return cls(2, 32.0, 2.0, 0.2, 20.0, 0.05)
        return cls(5, 150.0, 5.0, 0.5, 180.0, 0.5)


PACE_VARIABLE = "OPSLOOP_DEMO_FAST"  # tells the demo's server which pace its pipelines keep


def pace_from_environment() -> Pace:
    return Pace.of(os.environ.get(PACE_VARIABLE) == "1")


@dataclass(frozen=True)
class Figure:
    """The live figure a workload judges its model by."""

    metric: str  # a monitor value, e.g. ``performance.accuracy``
    label: str  # how the summary names it
    higher_is_better: bool


class Workload(Protocol):
    name: str
    project: str
    endpoint: str
    pipeline: str  # the retrain pipeline's name
    pipelines_module: str  # imported by the server (OPSLOOP_PIPELINES)
    figure: Figure
    title: str  # one line: the data and the story
    alert: dict[str, Any]  # the monitor's alert rule that starts the retrain (one entry)
    label_share: float  # the share of traffic whose truth comes back as feedback
    review_choices: tuple[Any, ...]  # what a reviewer may answer, where the workload has review

    def load(self) -> Any:
        """The data, read offline from pip packages."""

    def first_model(self, data: Any) -> ModelVersion:
        """Train, gate and deploy the first model as a person would; its version."""

    def monitor_policy(self, pace: Pace) -> str: ...

    def review_policy(self) -> str | None: ...

    def traffic(self, data: Any) -> list[Request]:
        """The later data, in time order, as requests with their truth."""


def feature_names(frame: pd.DataFrame, target: str, time_column: str) -> list[str]:
    """The columns a model reads: all but the target and the data's time."""
    return [c for c in frame.columns if c not in (target, time_column)]


def requests_of(
    frame: pd.DataFrame, target: str, time_column: str, cast: Callable[[Any], Any]
) -> list[Request]:
    """``frame``'s rows as requests, in its order; the truth read through ``cast``."""
    live = frame[feature_names(frame, target, time_column)].astype(object)
    rows = live.where(live.notna(), None).to_dict(orient="records")  # missing is sent as null
    return [
        Request(row, cast(truth), happened.to_pydatetime())
        for row, truth, happened in zip(rows, frame[target], frame[time_column], strict=True)
    ]
