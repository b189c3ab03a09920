"""Pipelines: the runs, newest first, each with its steps as a small bar; the stored triggers
with their next run; and one run, its steps on a time axis shared from the run's start (a
Gantt chart) and in a table with what each one made or why it failed."""

from __future__ import annotations

import json
import re
import time
from collections import defaultdict
from collections.abc import Iterable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Annotated
from urllib.parse import urlencode

from fastapi import APIRouter, Depends, Request
from fastapi.responses import HTMLResponse

from opsloop.domain.auth import Role
from opsloop.domain.durations import duration_text
from opsloop.domain.errors import NotFound
from opsloop.domain.pipelines import (
    PipelineInfo,
    PipelineRun,
    PipelineStatus,
    PipelineTrigger,
    StepStatus,
    TriggerKind,
    TriggerType,
)
from opsloop.server.ui.pages._paging import last_page, page_number
from opsloop.server.ui.pages._timeline import Bar, Timeline, clock
from opsloop.server.ui.render import render, when
from opsloop.server.ui.viewer import Viewer, viewer_of

if TYPE_CHECKING:
    from opsloop.services.pipelines.service import RunCount

router = APIRouter(include_in_schema=False)
PAGE_SIZE = 50
MAX_TEXT = 4_000  # characters shown of an error or a log
MAX_PARAMS = 2_000
MAX_KNOWN = 20  # names listed in an error about an unknown filter value
# The runner's log line for a step served from the cache (services/pipelines/runner.py).
CACHED_FROM = re.compile(r"cached: same code and inputs as step (\d+) of run ([0-9a-f]{32})")


# -- the runs ------------------------------------------------------------------------------


@router.get("/ui/pipelines", response_class=HTMLResponse)
def pipeline_runs(
    request: Request,
    viewer: Annotated[Viewer, Depends(viewer_of)],
    pipeline: str | None = None,
    project: str | None = None,
    status: str | None = None,
    page: str | None = None,
) -> HTMLResponse:
    started = time.perf_counter()
    platform = request.app.state.platform
    filters = Filters(pipeline or None, project or None, status or None)
    number = page_number(page)
    found = platform.pipelines.page(
        pipeline=filters.pipeline,
        project=filters.project,
        status=filters.status,
        limit=PAGE_SIZE,
        offset=(number - 1) * PAGE_SIZE,
    )
    known = Known.of(found.counts, platform.pipelines.pipelines())
    known.check(filters)
    pages = last_page(number, found.total, PAGE_SIZE)
    triggers = [
        trigger
        for trigger in platform.triggers.list(filters.pipeline)
        if filters.project is None or filters.project in known.projects_of.get(trigger.pipeline, ())
    ]
    now = time.time()
    by_status: dict[str, int] = {}
    for count in found.counts:
        if count.matches(filters.pipeline, filters.project, None):
            by_status[count.status] = by_status.get(count.status, 0) + count.runs
    return render(
        request,
        "pipelines.html",
        viewer,
        started,
        filters=filters,
        rows=[RunRow.of(run, now) for run in found.runs],
        total=found.total,
        number=number,
        pages=pages,
        by_status=[(s.value, by_status[s.value]) for s in PipelineStatus if s.value in by_status],
        choices={
            "pipeline": sorted(known.projects_of),
            "project": sorted(known.projects),
            "status": [s.value for s in PipelineStatus],
        },
        triggers=[TriggerRow.of(t, known.projects_of.get(t.pipeline, set())) for t in triggers],
    )


@dataclass(frozen=True)
class Filters:
    pipeline: str | None
    project: str | None
    status: str | None

    @property
    def active(self) -> bool:
        return any((self.pipeline, self.project, self.status))

    def link(self, page: int = 1, **changes: str | None) -> str:
        """The runs page with these filters, ``changes`` applied, at ``page``."""
        chosen = {"pipeline": self.pipeline, "project": self.project, "status": self.status}
        chosen.update(changes)
        query = {key: value for key, value in chosen.items() if value}
        if page > 1:
            query["page"] = str(page)
        return "/ui/pipelines" + (f"?{urlencode(query)}" if query else "")


@dataclass(frozen=True)
class Known:
    """What the filters may name: the pipelines with runs or registered here, and each
    one's projects."""

    projects_of: defaultdict[str, set[str]]

    @classmethod
    def of(cls, counts: list[RunCount], registered: list[PipelineInfo]) -> Known:
        projects_of: defaultdict[str, set[str]] = defaultdict(set)
        for pipeline, project in [(c.pipeline, c.project) for c in counts] + [
            (info.name, info.project) for info in registered
        ]:
            projects_of[pipeline].update([project] if project else [])
        return cls(projects_of)

    @property
    def projects(self) -> set[str]:
        return set().union(*self.projects_of.values())

    def check(self, filters: Filters) -> None:
        """A filter on a pipeline or project nobody has heard of is a typo: say so."""
        if filters.pipeline is not None and filters.pipeline not in self.projects_of:
            raise NotFound(
                f"pipeline {filters.pipeline!r} has no runs and is not registered here "
                f"(pipelines: {_some(self.projects_of)})",
                field="pipeline",
            )
        if filters.project is not None and filters.project not in self.projects:
            raise NotFound(
                f"project {filters.project!r} has no pipelines "
                f"(projects with pipelines: {_some(self.projects)})",
                field="project",
            )


def _some(names: Iterable[str]) -> str:
    listed = sorted(names)
    more = f" and {len(listed) - MAX_KNOWN} more" if len(listed) > MAX_KNOWN else ""
    return (", ".join(listed[:MAX_KNOWN]) or "none") + more


@dataclass(frozen=True)
class RunRow:
    run: PipelineRun
    trigger: str
    duration: str
    done: int
    timeline: Timeline

    @classmethod
    def of(cls, run: PipelineRun, now: float) -> RunRow:
        done = sum(s.status in (StepStatus.SUCCEEDED, StepStatus.CACHED) for s in run.steps)
        timeline = Timeline.of(run, now)
        return cls(run, trigger_text(run), run_duration(run, now), done, timeline)


def trigger_text(run: PipelineRun) -> str:
    """What fired the run, from the detail recorded with it (the trigger's kind and who
    started it are shown beside this)."""
    detail = run.trigger_detail

    def field(key: str) -> str:
        return str(detail.get(key, "?"))

    if run.trigger is TriggerType.SCHEDULE:
        cron = f"cron {field('cron')}" if "cron" in detail else ""
        number = f"trigger #{field('trigger_id')}" if "trigger_id" in detail else ""
        return ", ".join(part for part in (cron, number) if part)
    if run.trigger is TriggerType.DATA:
        if "new_labels" in detail:
            return f"{field('new_labels')} new labels on {field('endpoint')}"
        if "dataset" in detail:
            return f"new version {field('dataset')}"
        return ""
    if run.trigger is TriggerType.ALERT:
        number = f" (alert #{field('alert')})" if "alert" in detail else ""
        return f"{field('rule')} on {field('endpoint')}{number}"
    return ""


def run_duration(run: PipelineRun, now: float) -> str:
    if run.duration_s is not None:
        return duration_text(run.duration_s)
    if run.started_at is not None and not run.finished:
        return duration_text(now - run.started_at.timestamp()) + " so far"
    return "—"


# -- one run -------------------------------------------------------------------------------


@router.get("/ui/pipelines/runs/{run_id}", response_class=HTMLResponse)
def pipeline_run(
    request: Request, run_id: str, viewer: Annotated[Viewer, Depends(viewer_of)]
) -> HTMLResponse:
    started = time.perf_counter()
    platform = request.app.state.platform
    run = platform.pipelines.get(run_id)
    now = time.time()
    can_run = viewer.can(Role.DEPLOYER) and run.pipeline in {
        info.name for info in platform.pipelines.pipelines()
    }
    timeline = Timeline.of(run, now)
    return render(
        request,
        "pipeline_run.html",
        viewer,
        started,
        run=run,
        trigger=trigger_text(run),
        duration=run_duration(run, now),
        params=_trimmed(json.dumps(run.params, indent=2, sort_keys=True), MAX_PARAMS),
        error=None if run.error is None else _trimmed(run.error, MAX_TEXT),
        timeline=timeline,
        steps=[StepRow.of(bar, timeline.origin) for bar in timeline.bars],
        can_run=can_run,
    )


@dataclass(frozen=True)
class Trimmed:
    """A long text's start and end, with how many characters between them are left out."""

    head: str
    cut: int
    tail: str


def _trimmed(text: str, limit: int) -> Trimmed:
    """At most ``limit`` characters: a quarter from the start (what failed), the rest from
    the end (a traceback's exception, a log's last lines)."""
    if len(text) <= limit:
        return Trimmed(text, 0, "")
    head = limit // 4
    return Trimmed(text[:head], len(text) - limit, text[-(limit - head) :])


@dataclass(frozen=True)
class StepRow:
    bar: Bar
    offset: str  # from the run's start
    cache: str  # hit, miss, off
    cached_from: tuple[int, str] | None  # (position, run id) a hit came from
    error: Trimmed | None
    log: Trimmed | None

    @classmethod
    def of(cls, bar: Bar, origin: float) -> StepRow:
        step = bar.step
        source = CACHED_FROM.search(step.log or "") if step.status is StepStatus.CACHED else None
        if step.status is StepStatus.CACHED:
            cache = "hit"
        else:
            cache = "off" if step.cache_key is None else "miss"
        return cls(
            bar,
            offset="+" + duration_text(bar.start - origin),
            cache=cache,
            cached_from=None if source is None else (int(source[1]), source[2]),
            error=None if step.error is None else _trimmed(step.error, MAX_TEXT),
            log=_trimmed(step.log, MAX_TEXT) if step.log else None,
        )

    @property
    def start(self) -> str:
        return clock(self.bar.start)

    @property
    def end(self) -> str:
        return clock(self.bar.end)

    @property
    def duration(self) -> str:
        return duration_text(self.bar.end - self.bar.start)

    @property
    def size(self) -> str:
        output = self.bar.step.output
        return "" if output is None else size_text(output.size)


def size_text(size: int) -> str:
    if size < 1024:
        return f"{size} B"
    if size < 1024**2:
        return f"{size / 1024:.1f} KB"
    return f"{size / 1024**2:.1f} MB"


# -- triggers ------------------------------------------------------------------------------


@dataclass(frozen=True)
class TriggerRow:
    trigger: PipelineTrigger
    project: str
    next_run: str
    last_fired: str

    @classmethod
    def of(cls, trigger: PipelineTrigger, projects: set[str]) -> TriggerRow:
        state, spec = trigger.state, trigger.spec
        fired = state.get("fired")
        last = when(fired) if isinstance(fired, int | float) else "—"
        if not trigger.enabled:
            upcoming = "disabled"
        elif trigger.kind is TriggerKind.SCHEDULE and isinstance(state.get("next"), int | float):
            upcoming = when(state["next"])
        elif trigger.kind is TriggerKind.LABELS:
            upcoming = (
                f"after {spec['count']:,} more labelled predictions "
                f"({state.get('labelled', 0):,} when it last fired or was made)"
            )
        elif trigger.kind is TriggerKind.DATASET:
            upcoming = f"at version {state.get('version', 0) + 1} of {spec['dataset']}"
        else:
            upcoming = "—"
        return cls(trigger, ", ".join(sorted(projects)), upcoming, last)
