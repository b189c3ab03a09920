"""What live traffic is compared with: the training data, or a baseline window of the log.

Preparing a reference is the expensive part of a pass (reading the dataset, scoring it with
the model, fitting the calibration), and it changes only when the data, the model or the
monitor does, so it is prepared once and kept in a small in-memory LRU keyed by those.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

import numpy as np
import pyarrow as pa

from opsloop.services.monitoring.estimate import Calibration
from opsloop.services.monitoring.inputs import (
    CATEGORICAL,
    Feature,
    logged_column,
    reference_column,
)
from opsloop.services.monitoring.performance import labelled, numbers
from opsloop.services.monitoring.served import CLASSIFICATION, RANKING, ServedModel, texts

if TYPE_CHECKING:
    from opsloop.services.drift import DriftReference
    from opsloop.services.monitoring.labels import LabelReference
    from opsloop.services.monitoring.window import Traffic
    from opsloop.services.serving.runtime import LoadedModel

SCORE_CHUNK_ROWS = 100_000
LISTS = "a ranking answers with lists of items: "
UNRANKED = {
    "prediction": LISTS + "no prediction drift",
    "estimate": LISTS + "no label-free estimate",
}


@dataclass
class Reference:
    """A prepared reference. A part it cannot serve says why in ``notes``."""

    source: str
    features: list[Feature]  # the monitored features the reference holds
    drift: DriftReference | None = None
    prediction: DriftReference | None = None
    label: LabelReference | None = None  # the target column's values, for label drift
    calibration: Calibration | None = None
    calibrated_on: str | None = None  # the data the calibration was fitted on
    held_out: bool = False  # whether the model never trained on that data
    notes: dict[str, str] = field(default_factory=dict)


def prediction_table(
    served: ServedModel | None, prediction: pa.Array | pa.ChunkedArray, score: np.ndarray
) -> pa.Table:
    """What prediction drift compares: the score and the class of a classifier that gives
    scores, the class of one that does not, the number a regressor predicts."""
    if (served is not None and served.task == CLASSIFICATION) or _is_text(prediction):
        columns: dict[str, pa.Array] = {}
        if not np.isnan(score).all():
            columns["score"] = pa.array(score, mask=np.isnan(score))
        columns["class"] = texts(prediction)
        return pa.table(columns)
    values = numbers(prediction)
    return pa.table({"prediction": pa.array(values, mask=np.isnan(values))})


@dataclass(frozen=True)
class HeldOut:
    """Data the model did not train on, with the truth, to fit the estimate's calibration."""

    source: str
    table: pa.Table
    target: str | None


def from_dataset(
    source: str,
    table: pa.Table,
    features: list[Feature],
    served: ServedModel | None,
    load: Callable[[], LoadedModel] | None,
    target: str | None,
    held_out: HeldOut | None = None,
) -> Reference:
    """A reference from a dataset version: its columns, and the model's answers on it.

    The calibration is fitted on ``held_out`` when given: on the training data itself a model
    that fits it closely looks surer of itself than it will be on new data, and the estimate
    comes out optimistic."""
    reference = Reference(source, [f for f in features if f.name in table.column_names])
    absent = [f.name for f in features if f.name not in table.column_names]
    if absent:
        reference.notes["drift"] = f"{source} has no column {', '.join(map(repr, absent))}"
    reference.drift = _prepare(
        {f.name: reference_column(table.column(f.name), f) for f in reference.features},
        reference.features,
    )
    truth = target
    if truth is None and served is not None:
        truth = _only_other_column(table, served, features)
    _labels(reference, table, truth, served, features)
    if served is not None and served.task == RANKING:
        # Its training data is rows of (user, item, grade): scoring them makes no sense.
        reference.notes.update(UNRANKED)
        return reference
    if served is None or load is None:
        reference.notes["prediction"] = "the endpoint has no primary model"
        reference.notes["estimate"] = "the endpoint has no primary model"
        return reference
    missing = [name for name in served.inputs if name not in table.column_names]
    if missing:
        unscored = f"{source} lacks model input {missing[0]!r}: it cannot be scored"
        reference.notes["prediction"] = reference.notes["estimate"] = unscored
        return reference
    model = load()
    predictions, probabilities = _score(model, table)
    score = np.full(table.num_rows, np.nan)
    if probabilities is not None:
        score = probabilities[:, 1] if probabilities.shape[1] == 2 else probabilities.max(axis=1)
    reference.prediction = _prediction(served, pa.array(predictions), score)
    if held_out is not None:
        missing = [name for name in served.inputs if name not in held_out.table.column_names]
        if missing:
            reference.notes["estimate"] = (
                f"{held_out.source} lacks model input {missing[0]!r}: it cannot be scored"
            )
            return reference
        calibration_table = held_out.table
        _, probabilities = _score(model, calibration_table)
        label = held_out.target or target or _only_other_column(calibration_table, served, features)
    else:
        calibration_table, label = table, truth
    reference.calibration, why = _calibrate_on_dataset(
        served, calibration_table, label, probabilities
    )
    if why:
        reference.notes["estimate"] = why if held_out is None else f"{why} ({held_out.source})"
    else:
        reference.calibrated_on = source if held_out is None else held_out.source
        reference.held_out = held_out is not None
    return reference


def from_log(
    source: str,
    traffic: Traffic,
    features: list[Feature],
    served: ServedModel | None,
    min_labels: int,
) -> Reference:
    """A reference from a baseline window of the endpoint's own log: its logged inputs and
    answers, calibrated on the labels that came for it."""
    rows = traffic.table
    reference = Reference(source, features)
    if rows.num_rows == 0:
        why = f"{source} has no predictions"
        reference.notes.update(drift=why, prediction=why, estimate=why)
        return reference
    reference.drift = _prepare({f.name: logged_column(rows, f).values for f in features}, features)
    _labels(reference, rows.filter(labelled(rows)), "label", served, features)
    if served is not None and served.task == RANKING:
        reference.notes.update(UNRANKED)
        return reference
    score = numbers(rows.column("score"))
    reference.prediction = _prediction(served, rows.column("prediction"), score)
    if served is None or served.class_keys is None or np.isnan(score).all():
        reference.notes["estimate"] = "the model gives no class scores"
        return reference
    has_label = labelled(rows) & ~np.isnan(score)
    if has_label.sum() < min_labels:
        reference.notes["estimate"] = (
            f"{source} has {int(has_label.sum())} labelled predictions, fewer than "
            f"min_labels ({min_labels})"
        )
        return reference
    reference.calibrated_on, reference.held_out = source, True
    truth = served.codes(rows.column("label").filter(has_label))
    if served.binary:
        outcome = truth == served.positive
        reference.calibration = Calibration.fit(
            served.positive_score(score[has_label]), outcome, binary=True
        )
    else:
        right = truth == served.codes(rows.column("prediction").filter(has_label))
        reference.calibration = Calibration.fit(score[has_label], right, binary=False)
    return reference


def _labels(
    reference: Reference,
    table: pa.Table,
    target: str | None,
    served: ServedModel | None,
    features: list[Feature],
) -> None:
    """The reference's labels for ``drift.label``, or the note that says why there are none."""
    from opsloop.services.monitoring.labels import LABEL, prepare

    if any(feature.name == LABEL for feature in features):
        reference.notes[LABEL] = "a monitored feature is named 'label': its drift is drift.label"
        return
    if target is None:
        reference.notes[LABEL] = "say which reference column holds the label (target:)"
        return
    if target not in table.column_names:
        reference.notes[LABEL] = f"the reference has no target column {target!r}"
        return
    source = reference.source if target == LABEL else f"{reference.source} column {target!r}"
    reference.label, why = prepare(table.column(target), served, source)
    if why is not None:
        reference.notes[LABEL] = why


def _prepare(columns: dict[str, pa.Array], features: list[Feature]) -> DriftReference | None:
    from opsloop.services.drift import DriftReference

    if not columns:
        return None
    categorical = [f.name for f in features if f.kind == CATEGORICAL and f.name in columns]
    return DriftReference.prepare(pa.table(columns), list(columns), categorical=categorical)


def _prediction(
    served: ServedModel | None, prediction: pa.Array | pa.ChunkedArray, score: np.ndarray
) -> DriftReference | None:
    from opsloop.services.drift import DriftReference

    table = prediction_table(served, prediction, score)
    categorical = [name for name in table.column_names if name == "class"]
    return DriftReference.prepare(table, table.column_names, categorical=categorical)


def _score(model: LoadedModel, table: pa.Table) -> tuple[list[Any], np.ndarray | None]:
    from opsloop.services.serving.batch import features

    predictions: list[Any] = []
    probabilities: list[np.ndarray] = []
    for offset in range(0, table.num_rows, SCORE_CHUNK_ROWS):
        chunk = table.slice(offset, SCORE_CHUNK_ROWS)
        scored = model.score_features(features(model, chunk.to_pandas()), chunk.num_rows)
        predictions.extend(scored.predictions)
        if scored.probabilities is not None:
            probabilities.append(scored.probabilities)
    return predictions, np.concatenate(probabilities) if probabilities else None


def _calibrate_on_dataset(
    served: ServedModel,
    table: pa.Table,
    target: str | None,
    probabilities: np.ndarray | None,
) -> tuple[Calibration | None, str | None]:
    if probabilities is None or served.class_keys is None:
        return None, "the model gives no class scores"
    if target is None:
        return None, "say which reference column holds the label (target:)"
    if target not in table.column_names:
        return None, f"the reference has no target column {target!r}"
    truth = served.codes(table.column(target))
    known = truth >= 0
    if not known.any():
        return None, f"no value of {target!r} is one of the model's classes"
    if served.binary:
        score = probabilities[known, served.positive]
        return Calibration.fit(score, truth[known] == served.positive, binary=True), None
    right = probabilities[known].argmax(axis=1) == truth[known]
    return Calibration.fit(probabilities[known].max(axis=1), right, binary=False), None


def _only_other_column(table: pa.Table, served: ServedModel, features: list[Feature]) -> str | None:
    """The label column when the reference holds exactly one column besides the inputs."""
    taken = set(served.inputs) | {f.name for f in features}
    others = [name for name in table.column_names if name not in taken]
    return others[0] if len(others) == 1 else None


def _is_text(values: pa.Array | pa.ChunkedArray) -> bool:
    return bool(pa.types.is_string(values.type) or pa.types.is_boolean(values.type))
