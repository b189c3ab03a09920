"""When a stored trigger is due, and what it remembers between checks (its ``state``).

- schedule: ``{"next": epoch}``, the next time the cron expression is due. Times missed while
  no scheduler ran fire once, not once each.
- labels: ``{"labelled": n, "event_id": id}``, how many of the endpoint's predictions had a
  label when it last fired, and the newest ``feedback.received`` event seen. The event is the
  cheap signal that labels came; the prediction log is what is counted, only then.
- dataset: ``{"version": v}``, the newest version of the dataset when it last fired.

Deciding reads only; the service writes the new state (and the run it starts) in one
transaction, and only if the state is still the one the decision was made from.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from sqlalchemy import Connection

from opsloop.domain.names import parse_dataset_ref
from opsloop.domain.pipelines import PipelineTrigger, TriggerKind, next_cron_time
from opsloop.services.deployments import subject_of
from opsloop.services.feedback import FEEDBACK_EVENT
from opsloop.store.database import Database
from opsloop.store.prediction_log import PredictionLog
from opsloop.store.repos import events
from opsloop.store.repos import pipelines as repo


@dataclass(frozen=True)
class Decision:
    state: dict[str, Any]
    fire: bool
    detail: dict[str, Any]


class TriggerWatch:
    def __init__(self, db: Database, predictions: PredictionLog) -> None:
        self.db = db
        self.predictions = predictions

    def initial_state(self, kind: TriggerKind, spec: dict[str, Any], now: float) -> dict[str, Any]:
        """The state a new trigger starts from: it fires on what comes after its creation."""
        if kind is TriggerKind.SCHEDULE:
            return {"next": next_cron_time(spec["cron"], now)}
        with self.db.read() as conn:
            if kind is TriggerKind.LABELS:
                event_id = self._latest_feedback_event(conn, spec["endpoint"])
            else:
                ref = parse_dataset_ref(spec["dataset"])
                return {"version": repo.latest_dataset_version(conn, ref.project, ref.dataset)}
        return {"labelled": self._labelled(spec["endpoint"]), "event_id": event_id}

    def decide(self, trigger: PipelineTrigger, now: float) -> Decision | None:
        """What to do about ``trigger`` at ``now``; None when nothing changed."""
        state, spec = trigger.state, trigger.spec
        base = {"trigger_id": trigger.id, "kind": trigger.kind.value}
        if trigger.kind is TriggerKind.SCHEDULE:
            if now < state["next"]:
                return None
            following = next_cron_time(spec["cron"], now)
            detail = {**base, "cron": spec["cron"], "due": state["next"]}
            return Decision({"next": following, "fired": state["next"]}, True, detail)
        with self.db.read() as conn:
            if trigger.kind is TriggerKind.DATASET:
                ref = parse_dataset_ref(spec["dataset"])
                latest = repo.latest_dataset_version(conn, ref.project, ref.dataset)
                if latest <= state["version"]:
                    return None
                detail = {**base, "dataset": f"{ref}@{latest}", "previous": state["version"]}
                return Decision({"version": latest}, True, detail)
            event_id = self._latest_feedback_event(conn, spec["endpoint"])
        if event_id <= state["event_id"]:
            return None
        labelled = self._labelled(spec["endpoint"])
        new = labelled - state["labelled"]
        if new < spec["count"]:  # not yet: remember the event, so the next check is cheap
            return Decision({**state, "event_id": event_id}, False, {})
        detail = {**base, "endpoint": spec["endpoint"], "new_labels": new, "labelled": labelled}
        return Decision({"labelled": labelled, "event_id": event_id}, True, detail)

    def _latest_feedback_event(self, conn: Connection, endpoint: str) -> int:
        found = events.query(
            conn, subject=subject_of(endpoint), kind=FEEDBACK_EVENT, limit=1, newest_first=True
        )
        return found[0].id if found else 0

    def _labelled(self, endpoint: str) -> int:
        """How many of the endpoint's logged predictions have a label."""
        return self.predictions.count_labelled(endpoint)
