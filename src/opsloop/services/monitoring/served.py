"""What an endpoint's primary is, as far as monitoring cares: task, classes, inputs.

Labels and predictions reach the log as JSON (``1``, ``"spam"``, ``true``); they are matched
to the model's classes by their text as Arrow writes it, the same on both sides, so the
label ``1`` finds the class ``1`` and ``true`` finds ``True``.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from opsloop.domain.entities import ModelVersion
from opsloop.domain.errors import InvalidInput
from opsloop.services.serving.inputs import InputSchema

CLASSIFICATION = "classification"
REGRESSION = "regression"


@dataclass(frozen=True)
class ServedModel:
    version: ModelVersion
    task: str
    classes: list[Any] | None
    class_keys: pa.Array | None  # the classes as text, in class order
    positive: int | None  # index of the positive class of a binary classifier
    inputs: dict[str, str]  # name -> signature type, in signature order

    @classmethod
    def of(cls, version: ModelVersion, positive: Any = None) -> ServedModel:
        signature = version.signature
        classes = list(signature.classes) if signature.classes else None
        task = CLASSIFICATION
        if classes is None and signature.output_type not in ("string", "boolean", "category"):
            task = REGRESSION
        keys = None if classes is None else texts(_array(classes))
        chosen = None
        if classes is not None and keys is not None and len(classes) <= 2:
            chosen = len(classes) - 1
            if positive is not None:
                wanted = texts(_array([positive]))[0].as_py()
                matches = [i for i, key in enumerate(keys.to_pylist()) if key == wanted]
                if not matches:
                    raise InvalidInput(
                        f"monitor key 'positive': {positive!r} is not one of the classes of "
                        f"{version.ref} ({', '.join(map(str, classes))})",
                        field="monitor",
                    )
                chosen = matches[0]
        schema = InputSchema.of(signature)
        inputs = {} if schema is None else dict(zip(schema.names, schema.types, strict=True))
        return cls(version, task, classes, keys, chosen, inputs)

    @property
    def key(self) -> str:
        """Names this exact model (a version's bytes never change, but a store may be reset)."""
        return f"{self.version.ref}#{self.version.sha256}"

    @property
    def binary(self) -> bool:
        return self.positive is not None

    def codes(self, values: pa.Array | pa.ChunkedArray) -> np.ndarray:
        """Each value's class index; -1 for a value that is no class (or missing)."""
        assert self.class_keys is not None
        found = pc.index_in(texts(values), value_set=self.class_keys)
        return np.asarray(found.fill_null(-1).to_numpy(zero_copy_only=False), dtype=np.int64)

    def positive_score(self, score: np.ndarray) -> np.ndarray:
        """The positive class's probability from a logged binary ``score``, which is always
        the probability of the second class."""
        return score if self.positive == 1 else 1.0 - score


def texts(values: pa.Array | pa.ChunkedArray) -> pa.Array:
    """Values as Arrow text (``1.0`` is ``"1"``, ``True`` is ``"true"``)."""
    if isinstance(values, pa.ChunkedArray):
        values = values.combine_chunks()
    if pa.types.is_dictionary(values.type):
        values = values.dictionary_decode()
    if pa.types.is_string(values.type):
        return values
    try:
        return values.cast(pa.string())
    except (pa.ArrowNotImplementedError, pa.ArrowInvalid):
        return pa.array([None if v is None else str(v) for v in values.to_pylist()], pa.string())


def _array(values: list[Any]) -> pa.Array:
    try:
        return pa.array(values)
    except (pa.ArrowInvalid, pa.ArrowTypeError):  # mixed kinds: their text
        return pa.array([str(v) for v in values], pa.string())
