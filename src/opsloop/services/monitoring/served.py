"""What an endpoint's primary is, as far as monitoring cares: task, classes, inputs.

Labels and predictions reach the log as JSON (``1``, ``"spam"``, ``true``); they are matched
to the model's classes by their text as Arrow writes it, the same on both sides, so the
label ``1`` finds the class ``1`` and ``true`` finds ``True``.
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from typing import Any

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from opsloop.domain.entities import ModelVersion
from opsloop.domain.errors import InvalidInput
from opsloop.services.serving.inputs import InputSchema

CLASSIFICATION = "classification"
REGRESSION = "regression"
RANKING = "ranking"
ITEM_TYPES = ("long", "string")  # what a ranking's item ids are, as a signature names them


@dataclass(frozen=True)
class ServedModel:
    version: ModelVersion
    task: str
    classes: list[Any] | None
    class_keys: pa.Array | None  # the classes as text, in class order
    positive: int | None  # index of the positive class of a binary classifier
    inputs: dict[str, str]  # name -> signature type, in signature order

    @classmethod
    def of(
        cls, version: ModelVersion, positive: Any = None, task: str | None = None
    ) -> ServedModel:
        """The version as monitoring sees it; ``task`` (the monitor's ``task:``) overrides
        what its signature says."""
        signature = version.signature
        classes = list(signature.classes) if signature.classes else None
        if task is None:
            task = task_of(version)
        if task == RANKING:
            classes = None  # a ranking's lists are no classes, whatever its labels were
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


def seen_ranking(
    served: ServedModel | None, declared: str | None, table: pa.Table
) -> ServedModel | None:
    """``served`` as a ranking when its logged answers are lists, unless the monitor declares
    a task (a model logged without an input example has no signature to say so)."""
    if served is None or declared is not None or served.task == RANKING or not table.num_rows:
        return served
    if not is_ranked(table.column("prediction")):
        return served
    return replace(served, task=RANKING, classes=None, class_keys=None, positive=None)


def ranks(served: ServedModel | None, table: pa.Table) -> bool:
    """Whether a pass measures the answers in ``table`` as a ranking: as the served model's
    task says (the monitor's ``task:``, else its signature, else ``seen_ranking``); with no
    model to ask, whether the answers logged are lists."""
    if served is not None:
        return served.task == RANKING
    return is_ranked(table.column("prediction"))


def task_of(version: ModelVersion) -> str:
    """What a version's signature says it does: a list of item ids per row (a 2-D output of
    whole numbers or text) ranks; classes or a text output classify; anything else regresses."""
    signature = version.signature
    shape = signature.output_shape or []
    if len(shape) >= 2 and signature.output_type in ITEM_TYPES:
        return RANKING
    if signature.classes or signature.output_type in ("string", "boolean", "category"):
        return CLASSIFICATION
    return REGRESSION


def is_ranked(values: pa.Array | pa.ChunkedArray) -> bool:
    """Whether logged predictions are lists (a ranking's): Arrow lists, or their JSON text,
    as the log's queries give lists back."""
    kind = values.type
    if pa.types.is_list(kind) or pa.types.is_large_list(kind):
        return True
    if not pa.types.is_string(kind) or values.null_count == len(values):
        return False
    present = values.drop_null()
    return bool(pc.all(pc.starts_with(present, "[")).as_py())


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
