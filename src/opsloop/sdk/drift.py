"""``opsloop.drift(reference, current)``: the monitors' drift tests as a library call.

The reference may be a table (pandas, polars, Arrow), a ``DriftReference`` prepared earlier,
a ``DatasetVersion`` or a dataset ref ``project/name[@version]``. A dataset version is read
through the client once and its prepared reference kept for the rest of the process, keyed by
the version's sha256 (versions are immutable, so the key never goes stale).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import TYPE_CHECKING, Any

import pyarrow as pa

from opsloop.domain.entities import DatasetVersion
from opsloop.domain.errors import InvalidInput
from opsloop.domain.names import parse_dataset_ref
from opsloop.services.drift import DriftReference, DriftReport, DriftThresholds, compare
from opsloop.services.drift.cache import ReferenceCache

if TYPE_CHECKING:
    from opsloop.sdk.client import Client

CACHED_REFERENCES = 8

_cache = ReferenceCache(CACHED_REFERENCES)


def drift(
    reference: Any,
    current: Any,
    *,
    columns: Sequence[str] | None = None,
    test: str | None = None,
    thresholds: DriftThresholds | Mapping[str, Any] | None = None,
    categorical: Sequence[str] = (),
    client: Client | None = None,
) -> DriftReport:
    """Compare ``current`` with ``reference`` column by column: per column the test used, its
    statistic and p-value, every other statistic, and a drifted flag (docs/drift.md).

    ``columns`` limits the comparison (default: every usable column of the reference);
    ``test`` makes one statistic decide every column (``ks``, ``chi2``, ``wasserstein``,
    ``jensen_shannon``, ``psi`` or one registered later); ``thresholds`` is a
    ``DriftThresholds`` or a dict of its fields; ``categorical`` names numeric columns to
    treat as categories. ``current`` may also be a dataset version or ref."""
    if isinstance(categorical, str):
        raise InvalidInput(
            "categorical must be a list of names, not one string", field="categorical"
        )
    if thresholds is not None and not isinstance(thresholds, DriftThresholds):
        if not isinstance(thresholds, Mapping):
            raise InvalidInput(
                "thresholds must be a DriftThresholds or a dict of its fields",
                field="thresholds",
            )
        thresholds = DriftThresholds.from_mapping(thresholds)
    if _is_dataset(reference):
        reference = dataset_reference(reference, categorical=categorical, client=client)
    if _is_dataset(current):
        current = _read_dataset(_version(current, client), client)
    return compare(
        reference,
        current,
        columns=columns,
        test=test,
        thresholds=thresholds,
        categorical=categorical,
    )


def dataset_reference(
    dataset: DatasetVersion | str,
    *,
    categorical: Sequence[str] = (),
    client: Client | None = None,
) -> DriftReference:
    """The prepared reference of a dataset version, made on first use in this process."""
    version = _version(dataset, client)
    key = (version.sha256, tuple(sorted(categorical)))
    return _cache.get(
        key, lambda: DriftReference.prepare(_read_dataset(version, client), categorical=categorical)
    )


def clear_cache() -> None:
    _cache.clear()


def _is_dataset(value: Any) -> bool:
    return isinstance(value, DatasetVersion | str)


def _client(client: Client | None) -> Client:
    if client is not None:
        return client
    from opsloop.sdk.api import get_client  # the default client lives a layer above

    return get_client()


def _version(dataset: DatasetVersion | str, client: Client | None) -> DatasetVersion:
    if isinstance(dataset, DatasetVersion):
        return dataset
    return _client(client).get_dataset_version(parse_dataset_ref(dataset, "reference"))


def _read_dataset(version: DatasetVersion, client: Client | None) -> pa.Table:
    from opsloop.services.datasets import parquet_to_table

    table = parquet_to_table(_client(client).download(version.sha256))
    index = (table.schema.pandas_metadata or {}).get("index_columns", [])
    stored_index = [name for name in index if isinstance(name, str)]  # not a drifting feature
    return table.drop_columns(stored_index) if stored_index else table
