"""Ground truth for logged predictions, joined by request id, and the log given back."""

from __future__ import annotations

import math
import time
from datetime import datetime
from typing import TYPE_CHECKING, Any

from opsloop.domain.deployments import FeedbackReceipt
from opsloop.domain.entities import Actor
from opsloop.domain.errors import InvalidInput
from opsloop.domain.names import check_name, check_request_id
from opsloop.domain.numbers import is_number
from opsloop.services.deployments import DeploymentService, subject_of
from opsloop.store.database import Database
from opsloop.store.repos import events

if TYPE_CHECKING:
    import pyarrow as pa

    from opsloop.store.prediction_log import PredictionLog

MAX_ITEMS = 1_000_000
SOURCES = ("user", "reviewer", "system")
SHOW_UNKNOWN = 100
MAX_LABEL_ITEMS = 10_000  # items one ranking label may list or grade
MAX_ITEM_ID = 256  # characters of an item id given as text
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
    wins. Raises InvalidInput naming the first bad item.

    A label is a number, text or true/false; or, for a ranking, the items the user engaged
    with (a list of item ids: whole numbers or text) or their grades (an object
    ``{item_id: number}``)."""
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
        request_id = item["id"]
        check_request_id(request_id, f"feedback[{i}].id")
        labels[request_id] = check_label(item["label"], f"feedback[{i}].label")
    return labels


def check_label(label: Any, field: str) -> Any:
    """One label as stored: a scalar as it is, a list of item ids, or {item id: grade} with
    its item ids as text (JSON keys are text)."""
    if isinstance(label, list):
        if len(label) > MAX_LABEL_ITEMS:
            raise InvalidInput(f"{field} lists more than {MAX_LABEL_ITEMS} items", field=field)
        for j, entry in enumerate(label):
            if not _is_item(entry):
                raise InvalidInput(
                    f"{field}[{j}] must be an item id (a whole number or text), got {entry!r}"[
                        :500
                    ],
                    field=f"{field}[{j}]",
                )
        return [_item(entry) for entry in label]
    if isinstance(label, dict):
        if len(label) > MAX_LABEL_ITEMS:
            raise InvalidInput(f"{field} grades more than {MAX_LABEL_ITEMS} items", field=field)
        grades: dict[str, int | float] = {}
        for key, grade in label.items():
            if not _is_item(key):
                raise InvalidInput(
                    f"{field} keys must be item ids (whole numbers or text), got {key!r}"[:500],
                    field=field,
                )
            where = f"{field}[{str(key)!r}]"
            if not is_number(grade):
                raise InvalidInput(
                    f"{where} must be a grade (a finite number), got {grade!r}"[:500], field=where
                )
            grades[str(_item(key))] = grade
        return grades
    if label is None or not isinstance(label, bool | int | float | str):
        raise InvalidInput(
            f"{field} must be a number, text, true/false, a list of item ids or an object "
            "of item grades",
            field=field,
        )
    if isinstance(label, float) and not math.isfinite(label):
        raise InvalidInput(f"{field} must not be NaN or infinite", field=field)
    return label


def _is_item(value: Any) -> bool:
    """Text, or a whole number (318.0 too: JSON writers send whole floats, and the ranking
    metrics match it with 318)."""
    if isinstance(value, str):
        return 0 < len(value) <= MAX_ITEM_ID
    if isinstance(value, float):
        return value.is_integer()
    return isinstance(value, int) and not isinstance(value, bool)


def _item(value: Any) -> Any:
    """An item id as stored: a whole float as the int it is."""
    return int(value) if isinstance(value, float) else value


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

        pacsv.write_csv(_flat(table), sink)
    elif format == "jsonl":
        import orjson

        for row in table.to_pylist():
            sink.write(orjson.dumps(row, default=str) + b"\n")
    else:
        raise InvalidInput(f"format must be one of {', '.join(EXPORT_FORMATS)}", field="format")
    return sink.getvalue()


def _flat(table: pa.Table) -> pa.Table:
    """CSV holds no lists or objects (a ranking's items, batch scored): those columns become
    their JSON text, as the prediction log exports them."""
    import pyarrow as pa

    from opsloop.services.serving.batch import as_json_text

    for index, field in enumerate(table.schema):
        if pa.types.is_nested(field.type):
            table = table.set_column(index, field.name, as_json_text(table.column(index)))
    return table
