"""The first model of a workload, made as a person would: the data logged, a slice of it
held out, a tracked run that trains on the rest, the gate, the deployment."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import opsloop

if TYPE_CHECKING:
    import pandas as pd

    from opsloop.domain.entities import DatasetVersion, ModelVersion


@dataclass(frozen=True)
class Logged:
    """A dataset's name and the source its version records."""

    name: str
    source: str


def first_model(
    frame: pd.DataFrame,
    *,
    project: str,
    endpoint: str,
    target: str,
    gate: str,
    time_column: str,
    holdout_from: str,
    whole: Logged,
    training: Logged,
    holdout: Logged,
    model: str,
    reason: str,
    train: Callable[[pd.DataFrame, str], Any],
    params: dict[str, Any],
    item: str | None = None,
) -> ModelVersion:
    """``frame`` (without its time column) logged as ``whole``; its rows before
    ``holdout_from`` as ``training`` and the rest as ``holdout``, both with ``whole`` as their
    parent. A run that uses ``training`` and logs ``params`` trains ``model``, which is gated
    on ``holdout`` and deployed to ``endpoint``. A ranking's rows name their ``item``: it is
    what the model answers with, not one of its inputs."""

    def log(rows: pd.DataFrame, logged: Logged, parents: list[str]) -> DatasetVersion:
        return opsloop.log_dataset(
            rows, logged.name, project=project, parents=parents, source=logged.source
        )

    times, table = frame[time_column], frame.drop(columns=[time_column])
    logged_whole = log(table, whole, [])
    training_rows = table[times < holdout_from]
    logged_training = log(training_rows, training, [logged_whole.ref])
    logged_holdout = log(table[times >= holdout_from], holdout, [logged_whole.ref])
    with opsloop.start_run(project=project, name="first-model") as run:
        run.use_dataset(logged_training)
        run.log_params(params)
        features = [c for c in training_rows.columns if c not in (target, item)]
        version = run.log_model(
            train(training_rows, target), model, input_example=training_rows[features].head()
        )
    opsloop.evaluate(version.ref, logged_holdout.ref, gate=gate, endpoint=endpoint)
    opsloop.deploy(version.ref, endpoint=endpoint, reason=reason)
    return version
