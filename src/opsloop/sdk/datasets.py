"""Logging tables as dataset versions and reading them back."""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING, Any, Literal

import pyarrow as pa

from opsloop.domain.entities import DatasetVersion
from opsloop.domain.errors import InvalidInput
from opsloop.domain.names import check_name, parse_dataset_ref
from opsloop.services.datasets import parquet_to_table, table_to_parquet

if TYPE_CHECKING:
    from opsloop.sdk.client import Client


def to_arrow(data: Any) -> pa.Table:
    """pandas, polars and Arrow tables all become an Arrow table (pandas index kept)."""
    if isinstance(data, pa.Table):
        return data
    module = type(data).__module__ or ""
    if module.startswith("pandas"):
        return pa.Table.from_pandas(data)
    if module.startswith("polars"):
        return data.to_arrow()
    raise InvalidInput(
        f"a dataset must be a pandas, polars or Arrow table, not {type(data).__name__}",
        field="data",
    )


def log_dataset(
    client: Client,
    data: Any,
    name: str,
    *,
    project: str,
    parents: Sequence[DatasetVersion | str] = (),
    source: str = "",
    description: str = "",
) -> DatasetVersion:
    check_name(project, "project")
    check_name(name, "dataset")
    table = to_arrow(data)
    sha256 = client.upload(table_to_parquet(table))
    parent_refs = [p.ref if isinstance(p, DatasetVersion) else p for p in parents]
    return client.create_dataset_version(
        project, name, sha256, parents=parent_refs, source=source, description=description
    )


def load_dataset(
    client: Client, ref: str | DatasetVersion, as_: Literal["pandas", "arrow", "polars"] = "pandas"
) -> Any:
    text = ref.ref if isinstance(ref, DatasetVersion) else ref
    version = client.get_dataset_version(parse_dataset_ref(text))
    table = parquet_to_table(client.download(version.sha256))
    if as_ == "arrow":
        return table
    if as_ == "polars":
        import polars

        return polars.from_arrow(table)
    if as_ == "pandas":
        return table.to_pandas()
    raise InvalidInput(f"as_ must be pandas, arrow or polars, not {as_!r}", field="as_")
