"""``ReportService.build``: the measure of the loop for a project (or endpoint) and period."""

from __future__ import annotations

import time
from collections.abc import Callable, Sequence
from datetime import datetime
from typing import TYPE_CHECKING

from opsloop.domain.errors import InvalidInput
from opsloop.domain.names import check_name
from opsloop.domain.report import Labels, Level, Report, Stage, StageReport
from opsloop.services.report import delivery
from opsloop.services.report.history import read, scope_of
from opsloop.services.report.stages import maturity
from opsloop.services.review.figures import spread
from opsloop.store.repos._time import at, epoch_of

if TYPE_CHECKING:
    from opsloop.store.database import Database
    from opsloop.store.prediction_log import PredictionLog

DEFAULT_DAYS = 30
MAX_DAYS = 366  # a report reads its period's Events and labelled predictions whole
DAY_S = 86400.0

When = datetime | float | str | None


class ReportService:
    def __init__(
        self, db: Database, log: PredictionLog, clock: Callable[[], float] = time.time
    ) -> None:
        self.db = db
        self.log = log
        self.clock = clock

    def build(
        self,
        *,
        project: str | None = None,
        endpoint: str | None = None,
        since: When = None,
        until: When = None,
    ) -> Report:
        """The report of ``[since, until)`` (default: the 30 days up to now) for ``project``
        (None: every project) or one ``endpoint`` (its project's, narrowed where a stage is
        about an endpoint). Times are datetimes (naive = UTC), epoch seconds, or ISO text."""
        if project is not None:
            check_name(project, "project")
        if endpoint is not None:
            check_name(endpoint, "endpoint")
        end = self.clock() if until is None else moment(until, "until")
        start = end - DEFAULT_DAYS * DAY_S if since is None else moment(since, "since")
        if not start < end:
            raise InvalidInput("since must be before until", field="since")
        if end - start > MAX_DAYS * DAY_S:
            raise InvalidInput(
                f"a report covers at most {MAX_DAYS} days: move since closer to until",
                field="since",
            )
        made = self.clock()
        scope = scope_of(self.db, project, endpoint)
        history = read(self.db, scope, start, end)
        stages = maturity(history)
        rows = delivery.lead_times(history)
        return Report(
            project=scope.project,
            endpoint=scope.endpoint,
            since=at(start),
            until=at(end),
            days=history.days,
            made_at=at(made),
            events=len(history.events),
            stages=stages,
            next_to_automate=next_to_automate(stages),
            lead_times=rows,
            lead_time=delivery.summary(rows),
            delivery=delivery.delivery(history),
            recovery=delivery.recovery(history),
            labels=self.labels([row.name for row in scope.endpoints], start, end),
            review=delivery.review_figures(history),
        )

    def svg(self, report: Report) -> str:
        """The maturity map as an SVG document."""
        from opsloop.services.report.svg import maturity_map

        return maturity_map(report)

    def labels(self, endpoints: Sequence[str], since: float, until: float) -> Labels:
        """Label delay over the served (not shadow) predictions made in the period that
        have a label: from the prediction to its latest label."""
        start, end = at(since), at(until)
        found = spread(
            delay for name in endpoints for delay in self.log.label_delays(name, start, end)
        )
        return Labels(labelled=found.count if found else 0, label_delay=found)


def moment(value: datetime | float | str, field: str) -> float:
    """Epoch seconds of a time given as a datetime, epoch seconds or ISO text."""
    if isinstance(value, str):
        from pydantic import TypeAdapter, ValidationError

        from opsloop.domain.entities import Moment

        try:
            return epoch_of(TypeAdapter(Moment).validate_python(value))
        except ValidationError:
            raise InvalidInput(
                f"{field} {value!r} is not a time (write 2026-05-01 or 2026-05-01T12:00)",
                field=field,
            ) from None
    if isinstance(value, bool) or not isinstance(value, datetime | int | float):
        raise InvalidInput(f"{field} must be a time", field=field)
    seconds = epoch_of(value)
    try:
        at(seconds)  # a time the report can print
    except (OverflowError, OSError, ValueError):
        raise InvalidInput(f"{field} is not a time from year 1 to 9999", field=field) from None
    return seconds


def next_to_automate(stages: list[StageReport]) -> Stage | None:
    """The manual stage that costs people the most measured hours per month."""
    costly = [
        (hours, row.stage)
        for row in stages
        if row.level is Level.MANUAL and (hours := row.hours.people.hours_per_month)
    ]
    return max(costly, key=lambda pair: pair[0])[1] if costly else None
