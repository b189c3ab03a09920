"""What happened in a demo run, read back from the server: the Events as lines of a story
while it runs, and the numbers at the end (the figure before drift, at its worst, after
recovery; drift onset → detection → recovery)."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from opsloop.demos._workload import Figure
from opsloop.domain.alerts import AlertRule
from opsloop.domain.entities import ActorKind, Event
from opsloop.domain.monitoring import MonitorValue
from opsloop.sdk.client import Client
from opsloop.sdk.monitoring import monitor_values

PAGE = 1000


def read_events(client: Client, project: str, after_id: int = 0) -> list[Event]:
    """Every Event of ``project`` after ``after_id``, oldest first."""
    found: list[Event] = []
    while True:
        page = client.events(project=project, after_id=after_id, limit=PAGE)
        found.extend(page)
        if len(page) < PAGE:
            return found
        after_id = page[-1].id


def story_line(event: Event) -> str | None:
    """One line for the Events a person watching the loop cares about; None for the rest."""
    data, by = event.data, f"{event.actor_kind.value} {event.actor}"
    kind = event.kind
    if kind == "alert.fired":
        return f"[yellow]alert fired[/]: {data.get('rule', '')} — {data.get('message', '')}".rstrip(
            " —"
        )
    if kind == "pipeline_run.started":
        name = event.subject.split(":", 1)[-1]
        return f"pipeline [bold]{name}[/] started ({data.get('trigger', '?')})"
    if kind == "model_version.created":
        return f"model version {data.get('version', '?')} registered by {by}"
    if kind == "model_version.evaluated":
        verdict = data.get("verdict", "?")
        colour = "green" if verdict == "go" else "red"
        return f"gate on version {data.get('version', '?')}: [{colour}]{verdict}[/]"
    if kind == "endpoint.canary_started":
        return f"canary started ({by})"
    if kind == "endpoint.promoted":
        return f"[green]promoted[/] ({by}): {data.get('reason', '')}"
    if kind == "endpoint.rolled_back":
        return f"[red]rolled back[/] ({by}): {data.get('reason', '')}"
    if kind in ("pipeline_run.succeeded", "pipeline_run.failed"):
        outcome = (
            "succeeded" if kind.endswith("succeeded") else f"[red]failed[/] {data.get('error', '')}"
        )
        return f"pipeline run {outcome}"
    if kind == "alert.resolved":
        return f"alert resolved: {data.get('reason', data.get('rule', ''))}"
    return None


@dataclass
class Outcome:
    """The loop's numbers. Times are wall-clock seconds from the replay's start; ``moments``
    the time of the traffic being replayed then. The counts are of what the loop did by
    itself (the monitor, the pipeline, the scheduler) after the first model."""

    figure: Figure
    rule: AlertRule  # the alert's, whose streak of windows marks the onset
    before: float | None = None
    worst: float | None = None
    after: float | None = None
    onset_s: float | None = None
    detected_s: float | None = None
    recovered_s: float | None = None
    retrains: int = 0  # pipeline runs started (by the alerts)
    verdicts: list[str] = field(default_factory=list)  # the retrains' gates, in order
    promotions: int = 0
    promoted_version: int | None = None  # the first promotion's
    rollbacks: int = 0
    windows: int = 0
    moments: dict[str, datetime | None] = field(default_factory=dict)

    @property
    def rolled_back(self) -> bool:
        return self.rollbacks > 0

    @property
    def closed(self) -> bool:
        """The loop closed: the decay detected, a retrain ran, and its version was promoted,
        or refused by its gate, or rolled back as a canary that did worse live."""
        return self.detected_s is not None and (
            self.promoted_version is not None or "no-go" in self.verdicts or self.rolled_back
        )

    def as_dict(self) -> dict[str, Any]:
        return {
            "metric": self.figure.metric,
            "before_drift": self.before,
            "worst": self.worst,
            "after_recovery": self.after,
            "drift_onset_s": self.onset_s,
            "detected_after_onset_s": _gap(self.onset_s, self.detected_s),
            "recovered_after_onset_s": _gap(self.onset_s, self.recovered_s),
            "gate_verdicts": self.verdicts,
            "promoted_version": self.promoted_version,
            "rolled_back": self.rolled_back,
            "windows": self.windows,
            "closed": self.closed,
        }


def outcome(
    client: Client,
    endpoint: str,
    figure: Figure,
    events: list[Event],
    *,
    started: float,
    rule: AlertRule,
) -> Outcome:
    """The numbers from the monitor's windows and ``events`` (those after the first model).
    Onset is the first window of the streak of windows meeting ``rule`` (the alert's
    condition) that ended in the alert."""
    found = Outcome(figure, rule)
    fired = next((e for e in events if e.kind == "alert.fired"), None)
    by_the_loop = [e for e in events if e.actor_kind is not ActorKind.USER]

    def of(kind: str) -> list[Event]:
        return [e for e in by_the_loop if e.kind == kind]

    found.retrains = len(of("pipeline_run.started"))
    found.verdicts = [str(e.data.get("verdict")) for e in of("model_version.evaluated")]
    promotions = of("endpoint.promoted")
    found.promotions = len(promotions)
    found.rollbacks = len(of("endpoint.rolled_back"))
    promoted = promotions[0] if promotions else None
    windows = _windows(client, endpoint, figure)
    found.windows = len(windows)
    if fired is not None:
        found.detected_s = fired.time.timestamp() - started
        last_window = float(fired.data.get("window_end", fired.time.timestamp()))
        onset = _onset(windows, last_window, rule)
        found.onset_s = None if onset is None else onset - started
    if promoted is not None:
        found.recovered_s = promoted.time.timestamp() - started
        plan = promoted.data.get("plan") or {}
        primary = plan.get("primary") or {}
        found.promoted_version = primary.get("version")
    onset_at = None if found.onset_s is None else started + found.onset_s
    recovered_at = None if found.recovered_s is None else started + found.recovered_s
    counted = [w for w in windows if w.counted]
    found.before = _weighted([w for w in counted if onset_at is None or w.end <= onset_at])
    troubled = [
        w
        for w in counted
        if onset_at is not None
        and w.end > onset_at
        and (recovered_at is None or w.start < recovered_at)
    ]
    if troubled:
        pick = min if figure.higher_is_better else max
        found.worst = pick(w.value for w in troubled if w.value is not None)
    if recovered_at is not None:
        found.after = _weighted([w for w in counted if w.start >= recovered_at])
    return found


@dataclass(frozen=True)
class Window:
    start: float
    end: float
    value: float | None
    labels: float
    counted: bool  # has the figure, on enough labels
    values: dict[str, float | None]


def _windows(client: Client, endpoint: str, figure: Figure) -> list[Window]:
    by_window: dict[float, dict[str, MonitorValue]] = {}
    for each in monitor_values(client, endpoint, limit=100_000):
        by_window.setdefault(each.window_start.timestamp(), {})[each.metric] = each
    found = []
    for start in sorted(by_window):
        values = by_window[start]
        any_value = next(iter(values.values()))
        figures = {name: v.value for name, v in values.items()}
        value = figures.get(figure.metric)
        labels = figures.get("performance.labels") or 0.0
        counted = value is not None and not figures.get("performance.uncertain")
        found.append(
            Window(start, any_value.window_end.timestamp(), value, labels, counted, figures)
        )
    return found


def _onset(windows: list[Window], last_end: float, rule: AlertRule) -> float | None:
    """The start of the streak that ended in the alert: the ``for`` counted windows it fired
    on, and before them every counted window that meets its condition too. (The windows
    are read back at the end: labels that came late may have changed some values since the
    alert judged them, so the windows it fired on count whatever they read now.) A window
    without the value, or too few labels for a performance figure, neither breaks nor extends
    the streak, as the alert rules count. ``last_end``: the end of the alert's window."""
    counted = [
        w
        for w in windows
        if w.end <= last_end + 1e-6
        and w.values.get(rule.metric) is not None
        and not (rule.uncertain_metric and w.values.get(rule.uncertain_metric))
    ]
    if len(counted) < rule.for_windows:
        return None
    streak = len(counted) - rule.for_windows
    while streak > 0 and rule.breached(counted[streak - 1].values[rule.metric] or 0.0):
        streak -= 1
    return counted[streak].start


def _weighted(windows: list[Window]) -> float | None:
    """The figure over all the windows' labels (a label-weighted mean of per-window figures,
    which is exact for accuracy, MAE and per-request ranking figures)."""
    weights = sum(w.labels for w in windows if w.value is not None)
    if not windows or weights == 0:
        return None
    return sum((w.value or 0.0) * w.labels for w in windows if w.value is not None) / weights


def _gap(start: float | None, end: float | None) -> float | None:
    return None if start is None or end is None else end - start
