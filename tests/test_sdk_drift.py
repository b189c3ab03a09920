"""``opsloop.sdk.drift.drift``: references given as tables, prepared references, dataset
versions and dataset refs, with a dataset's prepared reference reused within the process."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import numpy as np
import pandas as pd
import pytest

import opsloop
from opsloop.domain.errors import InvalidInput, NotFound
from opsloop.sdk import drift as sdk_drift
from opsloop.sdk.client import Client
from opsloop.sdk.drift import drift
from opsloop.services.drift import DriftReference, DriftThresholds


def table(n: int, shift: float, seed: int) -> pd.DataFrame:
    rng = np.random.default_rng(seed)
    return pd.DataFrame(
        {
            "amount": rng.normal(shift, 1.0, n),
            "channel": rng.choice(["web", "app", "shop"], n),
        }
    )


@pytest.fixture
def store(sdk: Client) -> Iterator[Client]:
    sdk_drift.clear_cache()
    yield sdk
    sdk_drift.clear_cache()


def count_downloads(client: Client, monkeypatch: pytest.MonkeyPatch) -> list[str]:
    seen: list[str] = []
    original = client.download

    def download(sha256: str) -> bytes:
        seen.append(sha256)
        return original(sha256)

    monkeypatch.setattr(client, "download", download)
    return seen


def test_every_kind_of_reference_gives_the_same_report(
    store: Client, monkeypatch: pytest.MonkeyPatch
) -> None:
    reference, window = table(3000, 0.0, 1), table(800, 0.6, 2)
    version = opsloop.log_dataset(reference, "orders", project="shop")
    expected = drift(reference, window).to_dict()
    downloads = count_downloads(store, monkeypatch)
    assert drift("shop/orders", window).to_dict() == expected
    assert drift("shop/orders@1", window).to_dict() == expected
    assert drift(version, window).to_dict() == expected
    assert drift(DriftReference.prepare(reference), window).to_dict() == expected
    assert downloads == [version.sha256]  # prepared once, then reused
    assert expected["drifted"] == ["amount"]


def test_a_new_version_is_prepared_afresh(store: Client, monkeypatch: pytest.MonkeyPatch) -> None:
    opsloop.log_dataset(table(500, 0.0, 1), "orders", project="shop")
    window = table(500, 0.0, 3)
    drift("shop/orders", window)
    newer = opsloop.log_dataset(table(500, 2.0, 4), "orders", project="shop")
    downloads = count_downloads(store, monkeypatch)
    report = drift("shop/orders", window)
    assert downloads == [newer.sha256]
    assert report.drifted == ["amount"]


def test_the_window_may_be_a_dataset_too(store: Client) -> None:
    opsloop.log_dataset(table(1500, 0.0, 1), "orders", project="shop")
    opsloop.log_dataset(table(1500, 0.0, 2), "orders", project="shop")
    report = drift("shop/orders@1", "shop/orders@2", columns=["amount"], test="ks")
    assert [(c.column, c.test, c.drifted) for c in report.columns] == [("amount", "ks", False)]


def test_an_index_stored_with_the_dataset_is_not_a_feature(store: Client) -> None:
    reference = table(300, 0.0, 1).set_index(pd.Index(range(1000, 1300), name="order_id"))
    opsloop.log_dataset(reference, "orders", project="shop")
    report = drift("shop/orders", table(300, 0.0, 2))
    assert [c.column for c in report.columns] == ["amount", "channel"]


@pytest.mark.parametrize(
    ("thresholds", "drifted"),
    [({"wasserstein": 5.0}, []), (DriftThresholds(wasserstein=0.01), ["amount"])],
)
def test_thresholds_as_a_dict_or_an_object(thresholds: Any, drifted: list[str]) -> None:
    report = drift(table(2000, 0.0, 1), table(2000, 0.5, 2), columns=["amount"],
                   thresholds=thresholds)  # fmt: skip
    assert report.drifted == drifted


@pytest.mark.parametrize(
    ("kwargs", "error", "message"),
    [
        ({"thresholds": {"alpha": 1}}, InvalidInput, "unknown drift threshold 'alpha'"),
        ({"thresholds": 0.05}, InvalidInput, "thresholds must be a DriftThresholds"),
        ({"categorical": "channel"}, InvalidInput, "a list of names"),
        ({"reference": "shop/none"}, NotFound, "not found"),
        ({"reference": "not a ref"}, InvalidInput, "project/dataset"),
    ],
)
def test_bad_arguments(
    store: Client, kwargs: dict[str, Any], error: type[Exception], message: str
) -> None:
    arguments: dict[str, Any] = {"reference": table(10, 0.0, 1), "current": table(10, 0.0, 2)}
    arguments.update(kwargs)
    with pytest.raises(error, match=message):
        drift(**arguments)
