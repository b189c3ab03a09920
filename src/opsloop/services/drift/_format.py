"""``DriftReference`` as bytes: an Arrow IPC stream, one row per column, zstd-compressed.

Columns of the stream: ``name``, ``kind``, ``missing``, ``std``, ``values`` (the sorted
numbers), ``edges`` (bin edges), ``categories`` and ``counts``; a row leaves empty the lists
its kind does not use. The schema's metadata key ``opsloop.drift_reference`` holds JSON with
the format ``version``, ``rows`` and ``bins``. Reading needs no pickle and checks the version.
"""

from __future__ import annotations

import json

import numpy as np
import pyarrow as pa

from opsloop.domain.errors import InvalidInput
from opsloop.services.drift.reference import CategoricalColumn, DriftReference, NumericColumn

FORMAT_VERSION = 1
METADATA_KEY = b"opsloop.drift_reference"

SCHEMA = pa.schema(
    [
        ("name", pa.large_string()),
        ("kind", pa.string()),
        ("missing", pa.int64()),
        ("std", pa.float64()),
        ("values", pa.large_list(pa.float64())),
        ("edges", pa.large_list(pa.float64())),
        ("categories", pa.large_list(pa.large_string())),
        ("counts", pa.large_list(pa.int64())),
    ]
)


def _lists(parts: list[np.ndarray], value_type: pa.DataType) -> pa.LargeListArray:
    offsets = np.concatenate([[0], np.cumsum([len(p) for p in parts], dtype=np.int64)])
    flat = np.concatenate(parts) if parts else np.empty(0, _empty_dtype(value_type))
    return pa.LargeListArray.from_arrays(pa.array(offsets), pa.array(flat, type=value_type))


def _empty_dtype(value_type: pa.DataType) -> type:
    return object if pa.types.is_large_string(value_type) else np.float64


def dump(reference: DriftReference) -> bytes:
    names = list(reference.columns)
    nums = {n: reference.numeric(n) for n in names if reference.columns[n] == "numeric"}
    cats = {n: reference.categorical(n) for n in names if n not in nums}
    no_floats, no_ints, no_texts = np.empty(0), np.empty(0, np.int64), np.empty(0, object)
    columns = [
        pa.array(names, pa.large_string()),
        pa.array([reference.columns[n] for n in names], pa.string()),
        pa.array([nums[n].missing if n in nums else cats[n].missing for n in names], pa.int64()),
        pa.array([nums[n].std if n in nums else float("nan") for n in names], pa.float64()),
        _lists([nums[n].values if n in nums else no_floats for n in names], pa.float64()),
        _lists([nums[n].edges if n in nums else no_floats for n in names], pa.float64()),
        _lists(
            [np.array(cats[n].categories, object) if n in cats else no_texts for n in names],
            pa.large_string(),
        ),
        _lists([cats[n].counts if n in cats else no_ints for n in names], pa.int64()),
    ]
    meta = {"version": FORMAT_VERSION, "rows": reference.rows, "bins": reference.bins}
    schema = SCHEMA.with_metadata({METADATA_KEY: json.dumps(meta).encode()})
    table = pa.Table.from_arrays(columns, schema=schema)
    sink = pa.BufferOutputStream()
    options = pa.ipc.IpcWriteOptions(compression="zstd" if pa.Codec.is_available("zstd") else None)
    with pa.ipc.new_stream(sink, schema, options=options) as writer:
        writer.write_table(table)
    return bytes(sink.getvalue().to_pybytes())


def load(data: bytes) -> DriftReference:
    try:
        table = pa.ipc.open_stream(pa.py_buffer(data)).read_all()
    except (pa.ArrowInvalid, pa.ArrowNotImplementedError, OSError, ValueError):
        raise InvalidInput("these bytes are not a drift reference", field="reference") from None
    meta = _metadata(table.schema)
    if not table.schema.remove_metadata().equals(SCHEMA):
        raise InvalidInput("these bytes are not a drift reference", field="reference")
    table = table.combine_chunks()
    values, edges, counts = (_flat(table, key) for key in ("values", "edges", "counts"))
    categories_list = table.column("categories").chunk(0) if table.num_rows else None
    numeric: dict[str, NumericColumn] = {}
    categorical: dict[str, CategoricalColumn] = {}
    rows = table.select(["name", "kind", "missing", "std"]).to_pylist()
    for i, row in enumerate(rows):
        name = row["name"]
        if row["kind"] == "numeric":
            numeric[name] = NumericColumn(values[i], row["missing"], row["std"], edges[i])
        elif row["kind"] == "categorical" and categories_list is not None:
            texts = tuple(categories_list[i].as_py())
            if len(texts) != len(counts[i]):
                raise InvalidInput(
                    f"column {name!r} of the drift reference is damaged", field="reference"
                )
            categorical[name] = CategoricalColumn(texts, counts[i], row["missing"])
        else:
            raise InvalidInput(f"unknown column kind {row['kind']!r}", field="reference")
    order = [row["name"] for row in rows]
    return DriftReference(int(meta["rows"]), numeric, categorical, order, int(meta["bins"]))


def _metadata(schema: pa.Schema) -> dict[str, int]:
    raw = (schema.metadata or {}).get(METADATA_KEY)
    try:
        meta = json.loads(raw) if raw else None
    except ValueError:
        meta = None
    fields = ("version", "rows", "bins")
    if not isinstance(meta, dict) or not all(isinstance(meta.get(f), int) for f in fields):
        raise InvalidInput("these bytes are not a drift reference", field="reference")
    if meta["version"] > FORMAT_VERSION:
        raise InvalidInput(
            f"this drift reference has format version {meta['version']}; this opsloop reads "
            f"up to {FORMAT_VERSION}: upgrade opsloop",
            field="reference",
        )
    return meta


def _flat(table: pa.Table, key: str) -> list[np.ndarray]:
    """Each row's list of ``key`` as a NumPy view of the decoded buffer."""
    if table.num_rows == 0:
        return []
    lists = table.column(key).chunk(0)
    offsets = lists.offsets.to_numpy()
    flat = lists.values.to_numpy()
    return [flat[offsets[i] : offsets[i + 1]] for i in range(len(lists))]
