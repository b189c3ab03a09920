"""A ranking endpoint end to end over HTTP (in process, through ASGI): a recommender answers each
user with a list of item ids (ragged, or a NumPy 2-D array), clicks and grades come back as
feedback, the log gives every list back exactly (hot and compacted), batch scoring keeps the
lists, and a monitor window measures the lists at k, finds the grades drifted, fires an alert
on ndcg and shows it on the monitoring page."""

from __future__ import annotations

import io
import json
import math
import time
from datetime import UTC, datetime
from typing import Any

import httpx
import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.csv as pacsv
import pyarrow.parquet as pq
import pytest

from opsloop.domain.errors import InvalidInput
from opsloop.domain.settings import Settings
from opsloop.sdk.alerts import list_alerts
from opsloop.sdk.client import Client
from opsloop.sdk.datasets import log_dataset
from opsloop.sdk.models import register_model
from opsloop.sdk.monitoring import monitor_values, run_monitor, set_monitor
from opsloop.server.app import create_app
from opsloop.services.evaluation.ranking import judgement, list_metrics, ranked
from opsloop.services.feedback import encode_table
from opsloop.services.monitoring.reference import LISTS
from opsloop.services.platform import Platform
from opsloop.services.serving.batch import score_table
from opsloop.services.serving.runtime import LoadedModel

from ._asgi import SyncASGITransport
from .conftest import wait_for

USERS = 12
ITEMS = 20
K = 5


def ratings(seed: int) -> pd.DataFrame:
    """Each user rates 6 of the items, in whole stars from 3 to 5."""
    rng = np.random.default_rng(seed)
    rows = [
        {"user": user, "item": int(item), "rating": float(rng.integers(3, 6))}
        for user in range(USERS)
        for item in rng.choice(ITEMS, 6, replace=False)
    ]
    return pd.DataFrame(rows)


class TopItems:
    """The most rated items a user has not rated yet, best first: k of them, or 2 for every
    third user (lists of different lengths, as a recommender with few candidates gives)."""

    def __init__(self, rated: pd.DataFrame, k: int = K) -> None:
        counts = rated.groupby("item")["rating"].count()
        self.order = [int(i) for i in counts.sort_values(ascending=False, kind="stable").index]
        self.order += [i for i in range(ITEMS) if i not in self.order]
        self.seen = {int(u): set(g["item"]) for u, g in rated.groupby("user")}
        self.k = k

    def top(self, user: int) -> list[int]:
        fresh = [item for item in self.order if item not in self.seen.get(user, set())]
        return fresh[: 2 if user % 3 == 0 else self.k]

    def predict(self, frame: pd.DataFrame) -> list[list[int]]:
        return [self.top(int(user)) for user in frame["user"]]


class TopArray(TopItems):
    """The same, always k items, as one (rows, k) array of int64."""

    def top(self, user: int) -> list[int]:
        return [item for item in self.order if item not in self.seen.get(user, set())][: self.k]

    def predict(self, frame: pd.DataFrame) -> np.ndarray:  # type: ignore[override]
        return np.array([self.top(int(user)) for user in frame["user"]], dtype=np.int64)


EXAMPLE = pd.DataFrame({"user": [1, 2]})  # users with k items each: a (2, k) example output


def feedback_for(answers: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """Even users grade the first two items they were shown, in half stars far below the
    training data's; odd users click the second item shown and one never shown."""
    labels = []
    for number, answer in enumerate(answers):
        shown = answer["prediction"]
        if number % 2 == 0:
            label: Any = {str(shown[0]): 1.5, str(shown[1]): 0.5}
        else:
            label = [shown[1], 99]
        labels.append({"id": answer["id"], "label": label})
    return labels


MONITOR = f"""
window: 1s
reference: recs/ratings@1
target: rating
k: {K}
relevance_threshold: 1
min_labels: 1
drift:
  test: ks
alerts:
  - {{name: ndcg, when: "performance.ndcg_at_k < 0.99", severity: warning}}
notify: [log]
"""


def test_a_recommender_is_served_judged_monitored_and_alerted_on(
    client: Client, sqlite_settings: Settings
) -> None:
    platform: Platform = client._transport.app.state.platform  # type: ignore[attr-defined]
    trained = ratings(seed=1)
    log_dataset(client, trained, "ratings", project="recs")
    version = register_model(client, TopItems(trained), "recs/top", input_example=EXAMPLE)
    assert version.signature.output_shape == [-1, K]
    client.deploy("recs", version.ref, force=True, reason="test")

    users = [{"user": user} for user in range(USERS)]
    answers = client.predict("recs", users)["predictions"]
    shown = [answer["prediction"] for answer in answers]
    assert shown == [TopItems(trained).top(user) for user in range(USERS)]
    assert [len(items) for items in shown[:4]] == [2, K, K, 2]  # ragged, as the model gave them
    assert all(type(item) is int for items in shown for item in items)
    # When the log says they were served: a clock read after the answer may already be in
    # the next second on a busy machine, and the monitor would then end on an empty window.
    log = pq.read_table(io.BytesIO(client.export_predictions("recs")))
    served_at = max(moment.timestamp() for moment in log["time"].to_pylist())

    labels = feedback_for(answers)
    assert client.send_feedback("recs", labels).accepted == USERS
    with pytest.raises(InvalidInput) as caught:
        client.send_feedback("recs", [labels[0], {"id": answers[1]["id"], "label": [[3]]}])
    assert caught.value.field == "feedback[1].label[0]"
    assert "must be an item id" in caught.value.headline

    def logged() -> tuple[list[Any], list[Any]]:
        table = pq.read_table(io.BytesIO(client.export_predictions("recs")))
        by_id = dict(zip(table["request_id"].to_pylist(), table.to_pylist(), strict=True))
        rows = [by_id[answer["id"]] for answer in answers]
        return [json.loads(r["prediction"]) for r in rows], [json.loads(r["label"]) for r in rows]

    assert logged() == (shown, [item["label"] for item in labels])  # exactly as sent, hot
    root = platform.predictions.root
    # Compacted (by this call or the log's own thread, which may hold a segment meanwhile).
    wait_for(lambda: platform.predictions.compact() >= 0 and not list(root.rglob("*.jsonl")))
    for kind in ("predictions", "feedback"):
        assert list((root / kind / "endpoint=recs").rglob("*.parquet"))
    assert logged() == (shown, [item["label"] for item in labels])  # and from Parquet

    set_monitor(client, "recs", MONITOR)
    time.sleep(max(0.0, math.floor(served_at) + 1.05 - time.time()))  # the window closes
    # Up to the served window's end only: on a busy machine the sleep may outlast the next
    # window, and an empty newest window would hide the figures the listing page shows.
    served_window_end = datetime.fromtimestamp(math.floor(served_at) + 1, UTC)
    windows = [w for w in run_monitor(client, "recs", until=served_window_end) if w.requests]
    assert len(windows) == 1 and windows[0].labels == USERS
    values = windows[0].values
    expected, _ = list_metrics(
        [ranked(items) or [] for items in shown],
        [judgement(item["label"], 1.0) for item in labels],  # type: ignore[misc]
        K,
    )
    for name, value in expected.items():
        assert values[f"performance.{name}"] == pytest.approx(value), name
    assert 0 < (values["performance.ndcg_at_k"] or 0) < 0.99
    assert "performance.accuracy" not in values and "performance.mae" not in values

    label_drift = monitor_values(client, "recs", metric="drift.label")[-1]
    assert label_drift.detail is not None
    assert label_drift.detail["drifted"] and label_drift.detail["test"] == "chi2"
    assert label_drift.detail["compared"] == "grades"  # the grades, not the click lists
    # Whole stars 3-5 in the reference: the grades are levels, and the half stars are new ones.
    assert label_drift.detail["unseen"] == {"0.5": USERS // 2, "1.5": USERS // 2}
    share = monitor_values(client, "recs", metric="drift.share_drifted")[-1]
    assert share.detail is not None and share.detail["features"] == 1  # the user, not the label
    assert "label" not in share.detail["drifted"]
    assert windows[0].skipped["prediction"] == LISTS + "no prediction drift"

    fired = list_alerts(client, "recs")
    assert [(a.rule, a.metric, a.state.value) for a in fired] == [
        ("ndcg", "performance.ndcg_at_k", "firing")
    ]
    assert fired[0].value == pytest.approx(values["performance.ndcg_at_k"])

    app = create_app(sqlite_settings)
    try:
        with httpx.Client(transport=SyncASGITransport(app), base_url="http://ui") as browser:
            page = browser.get("/ui/monitoring/recs")
            listing = browser.get("/ui/monitoring")
    finally:
        app.state.platform.close()
    assert page.status_code == 200 and "Live and estimated ndcg_at_k" in page.text
    assert 'id="label-drift"' in page.text and "grades" in page.text  # apart from features
    shown = page.text.split('id="label-drift"')[1].split("</table>")[0]
    assert f'0.5 <span class="muted">×{USERS // 2}</span>' in shown  # the new grades, counted
    assert 'data-feature="label"' not in page.text and 'data-feature="user"' in page.text
    assert listing.status_code == 200 and "NDCG@k" in listing.text


def test_a_numpy_array_of_item_ids_is_served_logged_and_batch_scored(client: Client) -> None:
    trained = ratings(seed=2)
    model = TopArray(trained)
    version = register_model(client, model, "recs/array", input_example=EXAMPLE)
    client.deploy("grid", version.ref, force=True, reason="test")
    answers = client.predict("grid", [{"user": 0}, {"user": 3}])["predictions"]
    assert [a["prediction"] for a in answers] == [model.top(0), model.top(3)]
    table = pq.read_table(io.BytesIO(client.export_predictions("grid")))
    assert sorted(json.loads(p) for p in table["prediction"].to_pylist()) == sorted(
        [model.top(0), model.top(3)]
    )

    for chosen in (model, TopItems(trained)):
        loaded = LoadedModel(version, chosen)
        scored = score_table(loaded, pa.table({"user": list(range(USERS))}), chunk_rows=5)
        assert scored["prediction"].to_pylist() == [chosen.top(u) for u in range(USERS)]
        written = pacsv.read_csv(io.BytesIO(encode_table(scored, "csv")))  # no lists in CSV:
        back = [json.loads(text) for text in written["prediction"].to_pylist()]  # JSON text
        assert back == [chosen.top(u) for u in range(USERS)]
