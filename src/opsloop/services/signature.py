"""A model's signature, inferred from an input example and what the model makes of it."""

from __future__ import annotations

from typing import Any

import numpy as np
import pandas as pd

from opsloop.domain.entities import ColumnSpec, Signature
from opsloop.domain.errors import InvalidInput


def to_frame_or_array(example: Any) -> pd.DataFrame | np.ndarray:
    """Bring an example (pandas, polars, arrow, NumPy, list of dicts/rows) to pandas or NumPy."""
    if isinstance(example, pd.DataFrame | np.ndarray):
        return example
    module = type(example).__module__ or ""
    if module.startswith("polars") or module.startswith("pyarrow"):
        return example.to_pandas()
    if isinstance(example, pd.Series):
        return example.to_frame()
    if isinstance(example, list) and example and isinstance(example[0], dict):
        return pd.DataFrame(example)
    if isinstance(example, list | tuple):
        return np.asarray(example)
    raise InvalidInput(
        f"input_example must be a DataFrame, an array or a list of rows, not "
        f"{type(example).__name__}",
        field="input_example",
    )


def type_name(dtype: Any) -> str:
    """opsloop's portable type names: double, long, boolean, string, datetime, category."""
    if isinstance(dtype, pd.CategoricalDtype):
        return "category"
    if isinstance(dtype, pd.StringDtype):  # pandas 3's default for text
        return "string"
    # pandas' own dtypes (Int64, boolean, datetime64 with a zone) have a numpy-style kind too.
    kind = getattr(dtype, "kind", None) or np.dtype(dtype).kind
    return {
        "f": "double",
        "i": "long",
        "u": "long",
        "b": "boolean",
        "M": "datetime",
        "O": "string",
        "U": "string",
        "S": "string",
    }.get(kind, str(dtype))


def infer_signature(model: Any, example: Any) -> Signature:
    data = to_frame_or_array(example)
    spec: dict[str, Any] = {}
    if isinstance(data, pd.DataFrame):
        spec["inputs"] = [
            ColumnSpec(name=str(c), type=type_name(t)) for c, t in data.dtypes.items()
        ]
    else:
        if data.ndim != 2:
            raise InvalidInput(
                f"input_example must be 2-D (rows x features), got {data.ndim}-D",
                field="input_example",
            )
        spec["input_tensor"] = {"dtype": type_name(data.dtype), "shape": [-1, data.shape[1]]}
    predict = getattr(model, "predict", None)
    if predict is None and callable(model):
        predict = model
    if predict is not None:
        try:
            output = predict(data)
        except Exception as exc:  # the user's model: any failure is theirs to see
            raise InvalidInput(
                f"model.predict failed on the input example: {type(exc).__name__}: {exc}",
                field="input_example",
            ) from exc
        spec.update(output_spec(output))
    classes = getattr(model, "classes_", None)
    if classes is not None:
        spec["classes"] = [c.item() if hasattr(c, "item") else c for c in classes]
    return Signature(**spec)


def output_spec(output: Any) -> dict[str, Any]:
    """The output's type and shape. A list per row (a ranking's item ids) is ``[-1, k]``, k
    the lists' common length or -1 when their lengths differ, typed by its items."""
    rows = output if isinstance(output, list | tuple) else None
    if rows is None:
        array = np.asarray(output)
        if array.dtype != object or array.ndim != 1:
            return {"output_type": type_name(array.dtype), "output_shape": [-1, *array.shape[1:]]}
        rows = list(array)
    if rows and all(isinstance(row, list | tuple | np.ndarray) for row in rows):
        lengths = {len(row) for row in rows}
        items = np.asarray([item for row in rows for item in row])
        width = lengths.pop() if len(lengths) == 1 else -1
        kind = type_name(items.dtype) if items.size else "long"
        return {"output_type": kind, "output_shape": [-1, width]}
    array = np.asarray(rows)
    return {"output_type": type_name(array.dtype), "output_shape": [-1, *array.shape[1:]]}
