"""JSON lines to Arrow tables: one column per field, typed when its values agree.

Arrow's JSON reader (C++, off the GIL) does the work. When it refuses the lines, because a
column mixes types (``1`` and ``"a"``), they are parsed in Python instead and such a column
falls back to the values' JSON text, so a record never fails to load; ints and floats together
make floats. ``inputs`` becomes one ``input.<feature>`` column per feature; ``scores`` stays a
struct where Arrow read one and becomes JSON text in queries. A ``prediction`` or ``label``
that is a list (a ranking's item ids) stays a list where its items agree (else JSON text);
one that is an object is JSON text (the log writes it so; read as a struct, each key would be
a field).
"""

from __future__ import annotations

import io
from collections.abc import Iterator
from typing import Any

import orjson
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.json as pa_json

from opsloop.store.prediction_log._layout import INPUT_PREFIX

TIME = pa.timestamp("us", tz="UTC")
_JSON = "json"  # a dict stored as its JSON text
_DYNAMIC = None  # typed from the values
PREDICTION_FIELDS: dict[str, Any] = {
    "request_id": pa.string(),
    "time": TIME,
    "endpoint": pa.string(),
    "project": pa.string(),
    "model": pa.string(),
    "version": pa.int64(),
    "role": pa.string(),
    "deployment": pa.int64(),
    "prediction": _DYNAMIC,
    "score": pa.float64(),
    "scores": _JSON,
    "latency_ms": pa.float64(),
}
FEEDBACK_FIELDS: dict[str, Any] = {
    "request_id": pa.string(),
    "time": TIME,
    "endpoint": pa.string(),
    "label": _DYNAMIC,
    "source": pa.string(),
    "actor": pa.string(),
}
FIELDS = {"predictions": PREDICTION_FIELDS, "feedback": FEEDBACK_FIELDS}
_CHUNK_BYTES = 4 * 2**20  # parse this much JSON at a time: bounds the Python objects alive
_NUMBERS = (pa.int64(), pa.float64())


def to_table(kind: str, data: bytes) -> pa.Table | None:
    """The records of whole JSON lines as one table; None if there are none."""
    if not data:
        return None
    try:
        table = _read_arrow(kind, data)
    except pa.ArrowException:  # conflicting types: parse in Python instead
        tables = [_chunk_table(kind, records) for records in _parse_chunks(data)]
        tables = [table for table in tables if table.num_rows]
        if not tables:
            return None
        table = concat(tables)
    return table if table.num_rows else None


def request_ids(data: bytes) -> list[str]:
    """Only the request ids of whole JSON lines."""
    options = pa_json.ParseOptions(
        explicit_schema=pa.schema([("request_id", pa.string())]),
        unexpected_field_behavior="ignore",
    )
    try:
        table = pa_json.read_json(io.BytesIO(data), parse_options=options)
    except pa.ArrowException:  # conflicting types: parse in Python instead
        values = [record.get("request_id") for records in _parse_chunks(data) for record in records]
        return [value for value in values if isinstance(value, str)]
    return [value for value in table.column("request_id").to_pylist() if value is not None]


def _read_arrow(kind: str, data: bytes) -> pa.Table:
    raw = pa_json.read_json(io.BytesIO(data))
    schema = pa.schema([field.with_type(_untimed(field.type)) for field in raw.schema])
    if schema != raw.schema:
        # Arrow's reader turns strings that look like times into timestamps; read them as text.
        options = pa_json.ParseOptions(explicit_schema=schema)
        raw = pa_json.read_json(io.BytesIO(data), parse_options=options)
    n = raw.num_rows
    columns: dict[str, pa.ChunkedArray | pa.Array] = {}
    for name, prefer in FIELDS[kind].items():
        found = raw.column(name) if name in raw.column_names else pa.nulls(n)
        if name == "time":
            columns[name] = _to_time(found)
        elif prefer == _JSON:
            columns[name] = pa.nulls(n, pa.string()) if pa.types.is_null(found.type) else found
        elif prefer is _DYNAMIC and _holds_objects(found.type):
            # An object's keys became fields (one per key ever seen): parse in Python, where
            # it is kept as its JSON text, exactly as it was written.
            raise pa.ArrowInvalid(f"{name} holds objects")
        elif prefer is _DYNAMIC or found.type == prefer:
            columns[name] = found
        elif pa.types.is_null(found.type) or (prefer == pa.float64() and found.type in _NUMBERS):
            columns[name] = cast(found, prefer)
        else:
            columns[name] = found  # not the type expected: queries unify it with the rest
    if kind == "predictions" and "inputs" in raw.column_names:
        inputs = raw.column("inputs")
        if pa.types.is_struct(inputs.type):
            for field, values in zip(inputs.type, inputs.flatten(), strict=True):
                columns[f"{INPUT_PREFIX}{field.name}"] = values
        elif not pa.types.is_null(inputs.type):
            raise pa.ArrowInvalid("inputs is not an object in every record")
    return pa.table(columns)


def _holds_objects(type_: pa.DataType) -> bool:
    if pa.types.is_struct(type_):
        return True
    if pa.types.is_list(type_) or pa.types.is_large_list(type_):
        return _holds_objects(type_.value_type)
    return False


def _untimed(type_: pa.DataType) -> pa.DataType:
    if pa.types.is_timestamp(type_):
        return pa.string()
    if pa.types.is_struct(type_):
        return pa.struct([field.with_type(_untimed(field.type)) for field in type_])
    if pa.types.is_list(type_):
        return pa.list_(_untimed(type_.value_type))
    return type_


def _to_time(seconds: pa.ChunkedArray | pa.Array) -> pa.ChunkedArray | pa.Array:
    micros = pc.round(pc.multiply(seconds.cast(pa.float64()), 1_000_000.0))
    return micros.cast(pa.int64()).cast(TIME)


def concat(tables: list[pa.Table]) -> pa.Table:
    """Tables with possibly different columns and types, unified by :func:`unify`."""
    if len(tables) == 1:
        return tables[0]
    names = list(dict.fromkeys(name for table in tables for name in table.column_names))
    types = {
        name: unify([t.schema.field(name).type for t in tables if name in t.column_names])
        for name in names
    }
    schema = pa.schema([(name, types[name]) for name in names])
    return pa.concat_tables([conform(table, schema) for table in tables])


def conform(table: pa.Table, schema: pa.Schema) -> pa.Table:
    columns = []
    for field in schema:
        if field.name in table.column_names:
            columns.append(cast(table.column(field.name), field.type))
        else:
            columns.append(pa.nulls(table.num_rows, field.type))
    return pa.Table.from_arrays(columns, schema=schema)


def unify(types: list[pa.DataType]) -> pa.DataType:
    """One type for a column stored as ``types``: that type, float for numbers, else text."""
    seen = [normal(t) for t in types if not pa.types.is_null(t)]
    if not seen:
        return pa.null()
    if all(t == seen[0] for t in seen):
        return seen[0]
    if all(t in _NUMBERS for t in seen):
        return pa.float64()
    return pa.string()


def normal(type_: pa.DataType) -> pa.DataType:
    if pa.types.is_large_string(type_) or pa.types.is_string_view(type_):
        return pa.string()
    return type_


def cast(column: pa.ChunkedArray | pa.Array, type_: pa.DataType) -> pa.ChunkedArray | pa.Array:
    if column.type == type_:
        return column
    if pa.types.is_null(column.type):
        return pa.nulls(len(column), type_)
    if pa.types.is_string(type_) and not pa.types.is_string(normal(column.type)):
        return pa.array([_text(value) for value in column.to_pylist()], pa.string())
    return column.cast(type_)


def _parse_chunks(data: bytes) -> Iterator[list[dict[str, Any]]]:
    start = 0
    while start < len(data):
        end = data.find(b"\n", start + _CHUNK_BYTES) + 1 or len(data)
        chunk = data[start:end]
        start = end
        try:
            # One parse per chunk: whole lines separated by commas make one JSON array.
            records = orjson.loads(b"[" + chunk.rstrip(b"\n").replace(b"\n", b",") + b"]")
        except orjson.JSONDecodeError:
            records = list(_parse_lines(chunk))
        yield [record for record in records if type(record) is dict]


def _parse_lines(chunk: bytes) -> Iterator[Any]:
    for line in chunk.split(b"\n"):
        try:
            yield orjson.loads(line)
        except orjson.JSONDecodeError:
            continue  # only a torn write leaves such a line, and its append never returned


def _chunk_table(kind: str, records: list[dict[str, Any]]) -> pa.Table:
    columns: dict[str, pa.Array] = {}
    for name, prefer in FIELDS[kind].items():
        values = _values(records, name)
        if name == "time":
            columns[name] = _to_time(pa.array(values, pa.float64()))
        elif prefer == _JSON:
            columns[name] = pa.array(
                [None if value is None else _json(value) for value in values], pa.string()
            )
        else:
            columns[name] = column(values, prefer)
    if kind == "predictions":
        empty: dict[str, Any] = {}
        inputs = [value if type(value) is dict else empty for value in _values(records, "inputs")]
        features: dict[str, None] = {}
        for features_of_one in inputs:
            features.update(dict.fromkeys(features_of_one))
        for feature in features:
            values = [one.get(feature) for one in inputs]
            columns[f"{INPUT_PREFIX}{feature}"] = column(values, _DYNAMIC)
    return pa.table(columns)


def _values(records: list[dict[str, Any]], name: str) -> list[Any]:
    return [record.get(name) for record in records]


def column(values: list[Any], prefer: pa.DataType | None) -> pa.Array:
    """The values as one typed array, or as JSON text when their types disagree."""
    kinds = set(map(type, values))
    kinds.discard(type(None))
    try:
        if not kinds:
            return pa.nulls(len(values), prefer or pa.null())
        if kinds == {str}:
            return pa.array(values, pa.string())
        if kinds == {bool}:
            return pa.array(values, pa.bool_())
        if kinds == {int} and prefer != pa.float64():
            return pa.array(values, pa.int64())
        if kinds <= {int, float}:
            return pa.array(values, pa.float64())
    except (OverflowError, pa.ArrowInvalid):
        pass  # an int beyond 64 bits: keep its digits as text
    return pa.array([_text(value) for value in values], pa.string())


def _text(value: Any) -> str | None:
    if value is None or isinstance(value, str):
        return value
    return _json(value)


def _json(value: Any) -> str:
    return orjson.dumps(value).decode()
