"""A registered model version, loaded and ready to score batches of checked rows."""

from __future__ import annotations

from dataclasses import dataclass
from functools import cached_property
from typing import TYPE_CHECKING, Any

import numpy as np

from opsloop.domain.entities import ModelVersion
from opsloop.domain.errors import InvalidInput
from opsloop.services.serving.inputs import InputSchema

if TYPE_CHECKING:
    import pandas as pd


@dataclass(frozen=True)
class Scored:
    """A batch's answers, one per row; for a classifier also its class probabilities."""

    predictions: list[Any]
    probabilities: np.ndarray | None = None  # rows x classes, columns in ``classes`` order
    classes: list[str] | None = None  # the class labels as text: the keys of ``scores``

    @cached_property
    def scores(self) -> list[dict[str, float]] | None:
        """Per row, {class: probability}: what an endpoint answers and logs."""
        if self.probabilities is None or self.classes is None:
            return None
        keys = self.classes
        return [dict(zip(keys, row, strict=True)) for row in self.probabilities.tolist()]

    @cached_property
    def score(self) -> list[float] | None:
        """Per row, one number to watch: the positive class's probability for two classes,
        else the winning class's."""
        if self.probabilities is None:
            return None
        if self.probabilities.shape[1] == 2:
            return self.probabilities[:, 1].tolist()
        return self.probabilities.max(axis=1).tolist()


class LoadedModel:
    def __init__(self, version: ModelVersion, model: Any) -> None:
        self.version = version
        self.model = model
        self.ref = f"{version.model}@{version.version}"
        self.schema = InputSchema.of(version.signature)
        classes = getattr(model, "classes_", None)
        if classes is None:
            classes = version.signature.classes
        self.classes = None if classes is None else [_plain(c) for c in classes]
        self._class_keys = None if self.classes is None else [str(c) for c in self.classes]
        self._proba = self.classes is not None and _has_proba(model)

    def matrix(self, rows: list[list[Any]]) -> Any:
        """Checked rows as what the model was trained on: a DataFrame for named columns,
        a float array for a tensor."""
        schema = self.schema
        if schema is None:
            return np.asarray(rows)
        if not schema.named:
            return np.asarray(rows, dtype=np.float64 if schema.numeric else object)
        import pandas as pd

        if schema.numeric:
            return pd.DataFrame(np.asarray(rows, dtype=np.float64), columns=schema.names)
        return typed_frame(schema, pd.DataFrame.from_records(rows, columns=schema.names))

    def score(self, rows: list[list[Any]]) -> Scored:
        return self.score_features(self.matrix(rows), len(rows))

    def score_features(self, features: Any, rows: int) -> Scored:
        """Score what ``matrix`` (or ``batch.features``) built: ``rows`` rows."""
        if self._proba:
            probabilities = np.asarray(self.model.predict_proba(features), dtype=np.float64)
            if probabilities.ndim != 2 or probabilities.shape[1] != len(self._class_keys or []):
                raise InvalidInput(
                    f"model {self.ref} gave probabilities of shape {probabilities.shape} for "
                    f"{len(self._class_keys or [])} classes",
                    field="model",
                )
            classes = self.classes or []
            predictions = [classes[i] for i in probabilities.argmax(axis=1).tolist()]
            return Scored(predictions, probabilities, self._class_keys)
        raw = self.model.predict(features)
        if isinstance(raw, list | tuple):
            # One answer per row, as Python gives it: a ranking's lists may differ in length,
            # which no array can hold.
            if len(raw) != rows:
                raise InvalidInput(
                    f"model {self.ref} returned {len(raw)} answers for {rows} rows", field="model"
                )
            return Scored([_answer(value) for value in raw])
        output = np.asarray(raw)
        if output.ndim == 0 or output.shape[0] != rows:
            raise InvalidInput(
                f"model {self.ref} returned {output.shape} for {rows} rows", field="model"
            )
        values = output.tolist()  # plain Python already (a 2-D array: a list per row) ...
        if output.dtype == object:  # ... unless the array holds objects: lists, say
            values = [_answer(value) for value in values]
        return Scored(values)


def typed_frame(schema: InputSchema, frame: pd.DataFrame) -> pd.DataFrame:
    """``frame``'s columns in the dtypes the signature names (floats as float64, categories as
    pandas categoricals, which LightGBM maps back to its training categories)."""
    for name, kind in zip(schema.names, schema.types, strict=True):
        try:
            if kind in ("double", "float"):
                frame[name] = frame[name].astype("float64")
            elif kind == "category":
                frame[name] = frame[name].astype("category")
        except (TypeError, ValueError) as exc:
            raise InvalidInput(f"column {name!r} must be {kind}: {exc}", field=name) from None
    return frame


def _has_proba(model: Any) -> bool:
    try:
        return callable(getattr(model, "predict_proba", None))
    except AttributeError:  # e.g. a pipeline whose last step has no probabilities
        return False


def _plain(value: Any) -> Any:
    """A JSON-friendly Python value from a NumPy scalar."""
    return value.item() if hasattr(value, "item") else value


def _answer(value: Any) -> Any:
    """One row's answer as plain Python: a scalar, or a list (a ranking's item ids) of them."""
    if isinstance(value, np.ndarray):
        return value.tolist()
    if isinstance(value, list | tuple):
        return [_answer(item) for item in value]
    return _plain(value)
