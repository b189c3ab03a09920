"""Ground truth for logged predictions, joined by request id, and the log given back."""

from __future__ import annotations

import time
from datetime import datetime
from typing import TYPE_CHECKING, Any

from opsloop.domain.deployments import FeedbackReceipt
from opsloop.domain.entities import Actor
from opsloop.domain.errors import InvalidInput
from opsloop.domain.names import check_name, check_request_id
from opsloop.services.deployments import DeploymentService, subject_of
from opsloop.store.database import Database
from opsloop.store.repos import events

if TYPE_CHECKING:
    import pyarrow as pa

    from opsloop.store.prediction_log import PredictionLog

MAX_ITEMS = 1_000_000
SOURCES = ("user", "reviewer", "system")
SHOW_UNKNOWN = 100
FEEDBACK_EVENT = "feedback.received"  # what a labels trigger watches for


class FeedbackService:
    def __init__(self, db: Database, deployments: DeploymentService, log: PredictionLog) -> None:
        self.db = db
        self.deployments = deployments
        self.log = log

    def record(
        self, endpoint: str, items: Any, actor: Actor, source: str = "user"
    ) -> FeedbackReceipt:
        """Store labels for logged predictions. Ids the endpoint never answered are not
        stored; they come back in the receipt (count and the first ``SHOW_UNKNOWN``)."""
        state = self.deployments.get(check_name(endpoint, "endpoint"))
        if source not in SOURCES:
            raise InvalidInput(f"source must be one of {', '.join(SOURCES)}", field="source")
        labels = check_feedback(items)
        known = self.log.find_prediction_ids(endpoint, list(labels))
        unknown = [request_id for request_id in labels if request_id not in known]
        now = time.time()
        records = [
            {
                "request_id": request_id,
                "time": now,
                "endpoint": endpoint,
                "label": label,
                "source": source,
                "actor": actor.name,
            }
            for request_id, label in labels.items()
            if request_id in known
        ]
        if records:
            self.log.append_feedback(records)
        with self.db.begin() as conn:
            events.append(
                conn,
                kind=FEEDBACK_EVENT,
                subject=subject_of(endpoint),
                project=state.project,
                actor=actor.name,
                actor_kind=actor.kind,
                time=now,
                data={"accepted": len(records), "unknown": len(unknown), "source": source},
            )
        return FeedbackReceipt(
            endpoint=endpoint,
            accepted=len(records),
            unknown=len(unknown),
            unknown_ids=unknown[:SHOW_UNKNOWN],
        )

    def export(
        self,
        endpoint: str,
        *,
        since: datetime | None = None,
        until: datetime | None = None,
        role: str | None = None,
        with_inputs: bool = True,
    ) -> pa.Table:
        """The endpoint's predictions, with their latest label where one came."""
        self.deployments.get(check_name(endpoint, "endpoint"))
        if role is not None and role not in ("primary", "canary", "shadow"):
            raise InvalidInput("role must be primary, canary or shadow", field="role")
        if since is not None and until is not None and since >= until:
            raise InvalidInput("since must be before until", field="since")
        return self.log.export(
            endpoint, since=since, until=until, role=role, with_inputs=with_inputs
        )


def check_feedback(items: Any) -> dict[str, Any]:
    """``[{"id": ..., "label": ...}, ...]`` as {id: label}; a later item for the same id
    wins. Raises InvalidInput naming the first bad item."""
    if not isinstance(items, list) or not items:
        raise InvalidInput("feedback must be a non-empty list of {id, label}", field="feedback")
    if len(items) > MAX_ITEMS:
        raise InvalidInput(f"at most {MAX_ITEMS} feedback items at once", field="feedback")
    labels: dict[str, Any] = {}
    for i, item in enumerate(items):
        if not isinstance(item, dict) or set(item) != {"id", "label"}:
            raise InvalidInput(
                f"feedback[{i}] must be an object with exactly 'id' and 'label'",
                field=f"feedback[{i}]",
            )
        request_id, label = item["id"], item["label"]
        check_request_id(request_id, f"feedback[{i}].id")
        if label is None or isinstance(label, dict | list):
            raise InvalidInput(
                f"feedback[{i}].label must be a number, text or true/false",
                field=f"feedback[{i}].label",
            )
        if isinstance(label, float) and label != label:
            raise InvalidInput(f"feedback[{i}].label must not be NaN", field=f"feedback[{i}].label")
        labels[request_id] = label
    return labels


EXPORT_FORMATS = {
    "parquet": "application/vnd.apache.parquet",
    "csv": "text/csv",
    "jsonl": "application/x-ndjson",
}


def encode_table(table: pa.Table, format: str) -> bytes:
    """A table as Parquet, CSV or JSON lines (one of ``EXPORT_FORMATS``)."""
    import io

    sink = io.BytesIO()
    if format == "parquet":
        import pyarrow.parquet as pq

        pq.write_table(table, sink, compression="zstd")
    elif format == "csv":
        import pyarrow.csv as pacsv

        pacsv.write_csv(table, sink)
    elif format == "jsonl":
        import orjson

        for row in table.to_pylist():
            sink.write(orjson.dumps(row, default=str) + b"\n")
    else:
        raise InvalidInput(f"format must be one of {', '.join(EXPORT_FORMATS)}", field="format")
    return sink.getvalue()
