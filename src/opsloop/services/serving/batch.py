"""Batch scoring: a whole table through a model, chunk by chunk, with the same input rules
as the endpoints (every column the signature names must be there, with its type)."""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING, Any

import numpy as np

from opsloop.domain.errors import InvalidInput
from opsloop.services.serving.runtime import LoadedModel, typed_frame

if TYPE_CHECKING:
    import pandas as pd
    import pyarrow as pa

CHUNK_ROWS = 50_000


def features(model: LoadedModel, frame: pd.DataFrame) -> Any:
    """The columns ``model`` takes, in its order and types, from a DataFrame."""
    schema = model.schema
    if schema is None:
        return frame
    if not schema.named:
        if frame.shape[1] != schema.width:
            raise InvalidInput(
                f"the input has {frame.shape[1]} columns, the model takes {schema.width}",
                field="input",
            )
        return frame.to_numpy(dtype=np.float64 if schema.numeric else object)
    missing = [name for name in schema.names if name not in frame.columns]
    if missing:
        raise InvalidInput(
            f"the input has no column {missing[0]!r} (the model takes {schema.listed})",
            field=missing[0],
        )
    return typed_frame(schema, frame[schema.names].copy())


def score_table(
    model: LoadedModel,
    table: pa.Table,
    *,
    chunk_rows: int = CHUNK_ROWS,
    progress: Callable[[int], None] | None = None,
) -> pa.Table:
    """``table`` with ``prediction`` (and ``score``, ``score.<class>`` for classifiers) added;
    a ranking's ``prediction`` is a list of item ids per row."""
    import pyarrow as pa

    if table.num_rows == 0:
        raise InvalidInput("the input has no rows", field="input")
    pieces: list[pa.Table] = []
    for offset in range(0, table.num_rows, chunk_rows):
        chunk = table.slice(offset, chunk_rows)
        scored = model.score_features(features(model, chunk.to_pandas()), chunk.num_rows)
        out = chunk.append_column("prediction", answers(scored.predictions))
        if scored.probabilities is not None and scored.classes is not None:
            out = out.append_column("score", pa.array(scored.score, pa.float64()))
            for i, key in enumerate(scored.classes):
                out = out.append_column(f"score.{key}", pa.array(scored.probabilities[:, i]))
        pieces.append(out)
        if progress is not None:
            progress(chunk.num_rows)
    # Chunks may type their lists differently (a chunk of empty lists has no item type).
    try:
        return pa.concat_tables(pieces, promote_options="permissive")
    except (pa.ArrowInvalid, pa.ArrowTypeError):  # lists in one chunk, text in another
        where = pieces[0].schema.get_field_index("prediction")
        pieces = [
            piece.set_column(where, "prediction", as_json_text(piece[where])) for piece in pieces
        ]
        return pa.concat_tables(pieces, promote_options="permissive")


def answers(values: list[Any]) -> pa.Array:
    """A model's answers as one column: typed when Arrow can type them (numbers, text, lists
    of item ids), else each answer's JSON text, as the prediction log keeps such values."""
    import pyarrow as pa

    try:
        return pa.array(values)
    except (pa.ArrowInvalid, pa.ArrowTypeError, OverflowError):
        return as_json_text(values)


def as_json_text(values: Any) -> pa.Array:
    """Values as their JSON text, as the prediction log keeps lists and objects (text stays as
    it is, a missing value missing)."""
    import orjson
    import pyarrow as pa

    if isinstance(values, pa.ChunkedArray | pa.Array):
        if pa.types.is_string(values.type):
            return values
        values = values.to_pylist()
    return pa.array(
        [
            value if value is None or isinstance(value, str) else orjson.dumps(value).decode()
            for value in values
        ],
        pa.string(),
    )
