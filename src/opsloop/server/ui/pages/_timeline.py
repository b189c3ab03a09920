"""A pipeline run's steps on a time axis from the run's start (a Gantt chart), positioned in
percent of the run's span so the page draws it with plain HTML, and the texts of its times."""

from __future__ import annotations

from dataclasses import dataclass

from opsloop.domain.durations import duration_text
from opsloop.domain.pipelines import PipelineRun, StepRun, StepStatus

NICE_STEPS_S = (
    *(m * 10.0**e for e in range(-3, 1) for m in (1, 2, 5)),
    *(10.0, 15.0, 30.0, 60.0, 120.0, 300.0, 600.0, 900.0, 1800.0),
    *(3600.0 * h for h in (1, 2, 3, 6, 12, 24, 48)),
)


@dataclass(frozen=True)
class Bar:
    step: StepRun
    left: float  # percent of the run's span, from its start
    width: float
    start: float  # epoch seconds
    end: float
    ongoing: bool  # still running: measured up to now

    @property
    def attempts_side(self) -> str:
        """Where a retried step's count of attempts fits: in its bar, or beside it."""
        if self.width >= 6:
            return "inside"
        return "before" if self.left + self.width > 90 else "after"

    @property
    def brief(self) -> str:
        """A hover for the small bar in a list of runs."""
        return (
            f"{self.step.position}. {self.step.name}: {self.step.status.value} "
            f"({duration_text(self.end - self.start)})"
        )

    @property
    def title(self) -> str:
        """The exact figures, for a hover."""
        attempts = f", {self.step.attempts} attempts" if self.step.attempts > 1 else ""
        so_far = " so far" if self.ongoing else ""
        return (
            f"{self.step.position}. {self.step.name}: {self.step.status.value}{attempts}; "
            f"{clock(self.start)} → {clock(self.end)}{so_far} "
            f"({duration_text(self.end - self.start)})"
        )


@dataclass(frozen=True)
class Timeline:
    origin: float  # the run's start, epoch seconds
    span: float  # seconds from the origin to the run's end (or now)
    bars: list[Bar]

    @classmethod
    def of(cls, run: PipelineRun, now: float) -> Timeline:
        origin = (run.started_at or run.created_at).timestamp()
        active = not run.finished
        stop = run.ended_at.timestamp() if run.ended_at is not None else (now if active else origin)
        spans = []
        for step in run.steps:
            start = step.started_at.timestamp() if step.started_at is not None else origin
            ongoing = step.ended_at is None and step.status is StepStatus.RUNNING and active
            end = step.ended_at.timestamp() if step.ended_at is not None else max(stop, start)
            spans.append((step, start, max(end, start), ongoing))
        last = max([stop, *(end for _, _, end, _ in spans)])
        span = max(last - origin, 1e-3)
        bars = [
            Bar(
                step,
                left=_percent(start - origin, span),
                width=_percent(end - start, span),
                start=start,
                end=end,
                ongoing=ongoing,
            )
            for step, start, end, ongoing in spans
        ]
        return cls(origin, span, bars)

    @property
    def ticks(self) -> list[tuple[float, str]]:
        """Marks on the axis at a round step: (percent, label)."""
        wanted = self.span / 6
        step = next((s for s in NICE_STEPS_S if s >= wanted), wanted)
        count = int(self.span / step + 1e-9)
        return [(_percent(k * step, self.span), tick_text(k * step)) for k in range(count + 1)]


def _percent(part: float, whole: float) -> float:
    return round(min(max(part / whole * 100, 0.0), 100.0), 3)


def tick_text(seconds: float) -> str:
    if seconds == 0:
        return "0"
    if seconds < 1:
        return f"{seconds * 1000:g} ms"
    if seconds < 60:
        return f"{seconds:g} s"
    if seconds < 3600:
        return f"{seconds / 60:g} min"
    return f"{seconds / 3600:g} h"


def clock(epoch: float) -> str:
    """A time of day in UTC, to the millisecond (by arithmetic: a page has hundreds)."""
    ms = round(epoch * 1000) % 86_400_000
    return f"{ms // 3_600_000:02d}:{ms // 60_000 % 60:02d}:{ms // 1000 % 60:02d}.{ms % 1000:03d}"
