"""One pass of a monitor: every value of every due window, and where the time went.

The log is read once for the whole span; each part then works on the window's slice of the
same columns (a slice of an Arrow table copies nothing). Parts that need a reference the
monitor does not have are left out of every window, with the reason in ``skipped``.
"""

from __future__ import annotations

import math
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import numpy as np

from opsloop.domain.monitoring import MonitorConfig, WindowResult
from opsloop.services.monitoring.estimate import estimate
from opsloop.services.monitoring.feature_drift import feature_drift, prediction_drift, test_for
from opsloop.services.monitoring.inputs import Column, Feature, logged_column
from opsloop.services.monitoring.labels import LABEL, LabelReference, label_drift
from opsloop.services.monitoring.performance import (
    Found,
    labelled,
    numbers,
    realized,
    service_levels,
)
from opsloop.services.monitoring.quality import quality_values
from opsloop.services.monitoring.reference import Reference
from opsloop.services.monitoring.served import ServedModel, ranks
from opsloop.services.monitoring.window import Traffic, Window
from opsloop.store.repos._time import at

if TYPE_CHECKING:
    from opsloop.services.drift import DriftThresholds

CANARY = "canary."
NO_TRAFFIC = "no predictions in the window"


class Timer:
    """Seconds spent per part of a pass, added up over its windows."""

    def __init__(self, into: dict[str, float] | None = None) -> None:
        self.seconds: dict[str, float] = into if into is not None else {}

    @contextmanager
    def part(self, name: str) -> Iterator[None]:
        started = time.perf_counter()
        try:
            yield
        finally:
            elapsed = time.perf_counter() - started
            self.seconds[name] = self.seconds.get(name, 0.0) + elapsed


@dataclass
class Computed:
    """A window's result and the rows that store it."""

    result: WindowResult
    rows: list[dict[str, Any]]


@dataclass
class Pass:
    endpoint: str
    config: MonitorConfig
    windows: list[Window]
    traffic: dict[str, Traffic]
    served: ServedModel | None
    canary_served: ServedModel | None
    features: list[Feature]
    reference: Reference | None
    thresholds: DriftThresholds | None
    counted: Callable[[float, float], tuple[int, int] | None] | None
    timer: Timer

    def compute(self) -> list[Computed]:
        primary = self.traffic["primary"]
        bounds = [primary.bounds(window) for window in self.windows]
        with self.timer.part("read"):
            columns = {f.name: logged_column(primary.table, f) for f in self.features}
            score = numbers(primary.table.column("score"))
            ranking = ranks(self.served, primary.table)
            canary_ranking = ranks(self.canary_served, self.traffic["canary"].table)
        with self.timer.part("quality"):
            quality = quality_values(columns, self.features, self.reference, bounds)
        with self.timer.part("estimate"):
            called = self._called_positive(primary)
        skipped = dict(self.reference.notes) if self.reference is not None else {}
        if self.reference is None:
            why = "no reference: set reference: or baseline:, or log the training data as an "
            why += "input of the model's run"
            skipped.update(drift=why, prediction=why, estimate=why, label=why)
        computed = []
        for window, (first, last), window_quality in zip(
            self.windows, bounds, quality, strict=True
        ):
            found: Found = {}
            notes = dict(skipped)
            with self.timer.part("service"):
                counts = self.counted(window.start, window.end) if self.counted else None
                rows = primary.table.slice(first, last - first)
                found.update(service_levels(rows, window.length, counts))
            labels, uncertain = 0, True
            if last > first:
                with self.timer.part("performance"):
                    performance, figures = self._realized(
                        rows, primary.times[first:last], self.served, ranking
                    )
                found.update(performance)
                labels = int(performance["performance.labels"][0] or 0)
                uncertain = labels < self.config.min_labels
                found.update(window_quality)
                self._drift(found, notes, columns, rows, score, first, last, ranking)
                with self.timer.part("estimate"):
                    found.update(self._estimate(score, called, first, last, figures, labels))
            else:
                for part in ("drift", "prediction", "estimate", "performance", "quality", LABEL):
                    notes.setdefault(part, NO_TRAFFIC)
            found.update(self._canary(window, canary_ranking))
            computed.append(self._result(window, found, notes, last - first, labels, uncertain))
        return computed

    def _realized(
        self, rows: Any, times: np.ndarray, served: ServedModel | None, ranking: bool
    ) -> tuple[Found, dict[str, float | None]]:
        config = self.config
        return realized(
            rows,
            times,
            served,
            config.min_labels,
            ranking=ranking,
            k=config.k,
            relevance_threshold=config.relevance_threshold,
        )

    def _drift(
        self,
        found: Found,
        notes: dict[str, str],
        columns: dict[str, Column],
        rows: Any,
        score: np.ndarray,
        first: int,
        last: int,
        ranking: bool,
    ) -> None:
        reference = self.reference
        if reference is None:
            return
        with self.timer.part("drift"):
            if reference.drift is not None:
                found.update(
                    feature_drift(
                        reference, columns, first, last, self.config.drift.test, self.thresholds
                    )
                )
            if reference.prediction is not None:
                found.update(
                    prediction_drift(
                        reference,
                        self.served,
                        rows.column("prediction"),
                        score[first:last],
                        self.thresholds,
                    )
                )
            elif "prediction" not in notes:
                notes["prediction"] = "the reference has no predictions"
            if reference.label is not None:
                self._label_drift(found, notes, reference.label, rows, ranking)

    def _label_drift(
        self,
        found: Found,
        notes: dict[str, str],
        reference: LabelReference,
        rows: Any,
        ranking: bool,
    ) -> None:
        """``drift.label``: the window's labels against the reference's target column."""
        test = test_for(self.config.drift.test, reference.kind)
        labels = rows.column("label").filter(labelled(rows))
        drift, why = label_drift(reference, labels, ranking, test, self.thresholds)
        found.update(drift)
        if why is not None:
            notes[LABEL] = why

    def _called_positive(self, primary: Traffic) -> np.ndarray | None:
        """Which rows a binary classifier called positive (what the estimate needs)."""
        served = self.served
        if served is None or not served.binary or self.reference is None:
            return None
        if self.reference.calibration is None:
            return None
        return served.codes(primary.table.column("prediction")) == served.positive

    def _estimate(
        self,
        score: np.ndarray,
        called: np.ndarray | None,
        first: int,
        last: int,
        figures: dict[str, float | None],
        labels: int,
    ) -> Found:
        reference, served = self.reference, self.served
        if reference is None or reference.calibration is None or served is None:
            return {}
        window_score = score[first:last]
        if served.binary:
            window_score = served.positive_score(window_score)
        estimated = estimate(
            reference.calibration,
            window_score,
            None if called is None else called[first:last],
        )
        return {
            f"estimated.{name}": (
                value,
                {
                    "realized": figures.get(name),
                    "labels": labels,
                    "calibration_rows": reference.calibration.rows,
                    "calibrated_on": reference.calibrated_on,
                    "held_out": reference.held_out,
                },
            )
            for name, value in estimated.items()
        }

    def _canary(self, window: Window, ranking: bool) -> Found:
        """The canary's traffic: the same performance and service values, ``canary.``."""
        canary = self.traffic["canary"]
        first, last = canary.bounds(window)
        if last == first:
            return {}
        rows = canary.table.slice(first, last - first)
        with self.timer.part("service"):
            found = service_levels(rows, window.length)
        with self.timer.part("performance"):
            performance, _ = self._realized(
                rows, canary.times[first:last], self.canary_served, ranking
            )
        found.update(performance)
        return {CANARY + name: value for name, value in found.items()}

    def _result(
        self,
        window: Window,
        found: Found,
        notes: dict[str, str],
        requests: int,
        labels: int,
        uncertain: bool,
    ) -> Computed:
        values = {name: _number(value) for name, (value, _) in sorted(found.items())}
        rows = [
            {
                "metric": name,
                "window_start": window.start,
                "window_end": window.end,
                "value": values[name],
                "detail": None if detail is None else json_safe(detail),
            }
            for name, (_, detail) in sorted(found.items())
        ]
        result = WindowResult(
            endpoint=self.endpoint,
            window_start=at(window.start),
            window_end=at(window.end),
            requests=requests,
            labels=labels,
            uncertain=uncertain,
            values=values,
            skipped=notes,
        )
        return Computed(result, rows)


def _number(value: Any) -> float | None:
    if value is None:
        return None
    number = float(value)
    return number if math.isfinite(number) else None


def json_safe(value: Any) -> Any:
    """A detail as JSON can hold it: NaN and infinities become null, NumPy scalars plain."""
    if isinstance(value, dict):
        return {str(key): json_safe(item) for key, item in value.items()}
    if isinstance(value, list | tuple | set | frozenset):
        items = [json_safe(item) for item in value]
        return sorted(items, key=str) if isinstance(value, set | frozenset) else items
    if isinstance(value, np.generic):
        value = value.item()
    if isinstance(value, float) and not math.isfinite(value):
        return None
    return value
