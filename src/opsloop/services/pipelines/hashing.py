"""A step's cache key: its name, its code and its inputs, hashed.

Inputs hash by content: tables (pandas, Arrow, polars) and arrays by their data, datasets and
models by their identity and sha256, plain values by a canonical encoding, anything else by
its cloudpickle bytes, functions by their code and closure. The same call made twice gives the
same key; a changed line of the step, a changed argument (a function passed in included) or a
changed value it closes over gives another.
"""

from __future__ import annotations

import hashlib
import inspect
import marshal
from typing import Any

from pydantic import BaseModel

from opsloop.domain.entities import DatasetVersion, ModelVersion


class Unhashable(Exception):
    """An input that cannot be hashed: the step then runs uncached."""


def cache_key(qualified_name: str, fn: Any, args: tuple[Any, ...], kwargs: dict[str, Any]) -> str:
    """sha256 of the step's qualified name, its code and its bound inputs.

    Raises TypeError when the arguments do not fit the function (the call would fail too),
    Unhashable when an input cannot be hashed.
    """
    digest = hashlib.sha256()
    digest.update(qualified_name.encode())
    digest.update(b"\0")
    digest.update(code_of(fn))
    bound = inspect.signature(fn).bind(*args, **kwargs)
    bound.apply_defaults()
    for name, value in bound.arguments.items():
        digest.update(b"\0" + name.encode() + b"=")
        digest.update(value_digest(value))
    for cell in getattr(fn, "__closure__", None) or ():
        try:
            contents = cell.cell_contents
        except ValueError:  # an empty cell
            continue
        digest.update(b"\0closure=" + value_digest(contents))
    return digest.hexdigest()


def code_of(fn: Any) -> bytes:
    """The function's source; its compiled code where no source exists (exec'd text)."""
    try:
        return inspect.getsource(fn).encode()
    except (OSError, TypeError):
        return marshal.dumps(fn.__code__)


def value_digest(value: Any) -> bytes:
    digest = hashlib.sha256()
    _feed(digest, value)
    return digest.digest()


def _feed(digest: Any, value: Any) -> None:
    kind = type(value)
    digest.update(f"<{kind.__module__}.{kind.__qualname__}>".encode())
    if value is None or isinstance(value, bool | int | float | complex | str):
        digest.update(repr(value).encode())
    elif isinstance(value, bytes | bytearray | memoryview):
        digest.update(bytes(value))
    elif isinstance(value, list | tuple):
        digest.update(str(len(value)).encode())
        for item in value:
            _feed(digest, item)
    elif isinstance(value, dict):
        items = sorted((value_digest(k), value_digest(v)) for k, v in value.items())
        for key, item in items:
            digest.update(key + item)
    elif isinstance(value, set | frozenset):
        for item in sorted(value_digest(member) for member in value):
            digest.update(item)
    elif inspect.isfunction(value):
        # A function passed in (the user's training function) by its code and what it closes
        # over: cloudpickle would give an importable one by name only, missing an edit.
        digest.update(f"{value.__module__}.{value.__qualname__}".encode() + code_of(value))
        for cell in value.__closure__ or ():
            try:
                _feed(digest, cell.cell_contents)
            except ValueError:  # an empty cell
                continue
    elif isinstance(value, DatasetVersion | ModelVersion):
        digest.update(f"{value.ref}:{value.sha256}".encode())
    elif isinstance(value, BaseModel):
        digest.update(value.model_dump_json().encode())
    else:
        digest.update(_table_or_pickle(value))


def _table_or_pickle(value: Any) -> bytes:
    library = type(value).__module__.split(".", 1)[0]
    if library == "pandas":
        return _pandas(value)
    if library == "pyarrow":
        return _arrow(value)
    if library == "numpy":
        return _numpy(value)
    if library == "polars" and hasattr(value, "to_arrow"):
        return _arrow(value.to_arrow())
    import cloudpickle

    try:
        return bytes(cloudpickle.dumps(value))
    except Exception as exc:
        raise Unhashable(f"{type(value).__name__} cannot be hashed: {exc}") from exc


def _pandas(value: Any) -> bytes:
    import pandas as pd

    if isinstance(value, pd.DataFrame | pd.Series | pd.Index):
        rows = pd.util.hash_pandas_object(value, index=not isinstance(value, pd.Index))
        shape = repr(
            (list(value.columns), [str(t) for t in value.dtypes])
            if isinstance(value, pd.DataFrame)
            else (value.name, str(value.dtype))
        )
        return shape.encode() + rows.to_numpy().tobytes()
    import cloudpickle

    return bytes(cloudpickle.dumps(value))


def _arrow(value: Any) -> bytes:
    import pyarrow as pa

    if isinstance(value, pa.RecordBatch):
        value = pa.Table.from_batches([value])
    if isinstance(value, pa.ChunkedArray | pa.Array):
        value = pa.table({"value": value})
    if not isinstance(value, pa.Table):
        import cloudpickle

        return bytes(cloudpickle.dumps(value))
    sink = pa.BufferOutputStream()
    # One chunk per column, so how the table happens to be chunked does not change the key.
    table = value.combine_chunks()
    with pa.ipc.new_stream(sink, table.schema) as writer:
        writer.write_table(table)
    return bytes(sink.getvalue())


def _numpy(value: Any) -> bytes:
    import numpy as np

    if isinstance(value, np.ndarray) and value.dtype != object:
        header = f"{value.dtype.str}{value.shape}".encode()
        return header + np.ascontiguousarray(value).tobytes()
    if isinstance(value, np.generic):
        return repr(value.item()).encode()
    import cloudpickle

    return bytes(cloudpickle.dumps(value))
