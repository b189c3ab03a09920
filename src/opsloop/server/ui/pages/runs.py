"""Runs: a project's runs as a table to sort, filter and page through (on the server: a page
of 50 from the store's search, whatever the project holds); one run whole; and a few runs side
by side, with the params that differ marked and each metric's curves on one chart."""

from __future__ import annotations

import re
import time
from dataclasses import dataclass, replace
from typing import Annotated, Any
from urllib.parse import urlencode

from fastapi import APIRouter, Depends, Query, Request
from fastapi.responses import HTMLResponse

from opsloop.domain.entities import MetricSeries, Run, RunStatus
from opsloop.domain.errors import InvalidInput, NotFound
from opsloop.domain.names import check_key
from opsloop.domain.run_query import DURATION, TABLE_ORDER, Field, Order, parse_order
from opsloop.server.ui.pages._paging import last_page, page_number
from opsloop.server.ui.render import render
from opsloop.server.ui.viewer import Viewer, viewer_of

router = APIRouter(include_in_schema=False)
PAGE_SIZE = 50
DEFAULT_COLUMNS = 4  # metric and param columns shown when none are chosen
OFFERED_KEYS = 40  # keys offered in the column chooser, the most used first
MAX_COLUMNS = 20
MAX_COMPARED = 10
MAX_POINTS = 1_000  # per line drawn: a longer history is thinned evenly, its last point kept
MAX_CHARTS = 30  # on one run's page
STARTED = Field("attribute", "start_time")
STATES = {
    RunStatus.FINISHED: "ok",
    RunStatus.RUNNING: "info",
    RunStatus.KILLED: "warning",
    RunStatus.FAILED: "critical",
}
_PLAIN_KEY = re.compile(r"[A-Za-z0-9_.\-/]+")


@dataclass(frozen=True)
class Column:
    """A sortable column of the runs table: its title and the field it orders by."""

    title: str
    field: Field
    numeric: bool = False

    @property
    def order_text(self) -> str:
        if self.field.kind == "attribute":
            return self.field.key
        key = self.field.key
        quoted = key if _PLAIN_KEY.fullmatch(key) else f"`{key}`"
        return f"{self.field.kind}s.{quoted}"


@dataclass(frozen=True)
class TableQuery:
    """What the runs table was asked for; ``link`` makes the address of a variation."""

    project: str
    experiment: str | None
    filter: str | None
    order_by: str | None
    metrics: list[str]
    params: list[str]

    def link(self, **changes: Any) -> str:
        state: dict[str, Any] = {
            "project": self.project,
            "experiment": self.experiment,
            "filter": self.filter,
            "order_by": self.order_by,
            "metric": self.metrics,
            "param": self.params,
            "columns": "chosen",
            "page": None,
            **changes,
        }
        pairs = [
            (name, item)
            for name, value in state.items()
            for item in (value if isinstance(value, list) else [value])
            if item not in (None, "")
        ]
        return "/ui/runs?" + urlencode(pairs)


@router.get("/ui/runs", response_class=HTMLResponse)
def runs_table(
    request: Request,
    viewer: Annotated[Viewer, Depends(viewer_of)],
    project: str | None = None,
    experiment: str | None = None,
    filter: str | None = None,
    order_by: str | None = None,
    page: str | None = None,
    metric: Annotated[list[str] | None, Query()] = None,
    param: Annotated[list[str] | None, Query()] = None,
    columns: str | None = None,
) -> HTMLResponse:
    started = time.perf_counter()
    platform = request.app.state.platform
    tracking = platform.tracking
    projects = platform.projects.list_projects()
    context: dict[str, Any] = {
        "projects": projects,
        "experiments": [],
        "query": None,
        "error": None,
        "runs": [],
        "total": 0,
        "page_number": 1,
        "page_size": PAGE_SIZE,
        "pages": 1,
        "headers": [],
        "offered": ([], []),
        "state_of": STATES,
    }
    if not projects:
        return render(request, "runs.html", viewer, started, **context)
    names = [item.name for item in projects]
    chosen = project or names[0]
    query = TableQuery(
        project=chosen,
        experiment=experiment or None,
        filter=filter or None,
        order_by=order_by or None,
        metrics=list(metric or []),
        params=list(param or []),
    )
    context["query"] = query
    try:
        if chosen not in names:
            raise NotFound(f"project {chosen!r} not found", field="project")
        context["experiments"] = platform.projects.experiments(chosen)
        number = page_number(page)
        context["page_number"] = number
        used_metrics, used_params = tracking.common_keys(chosen, experiment=query.experiment)
        context["offered"] = (
            _offered(used_metrics, query.metrics),
            _offered(used_params, query.params),
        )
        if not (columns or query.metrics or query.params):
            query = replace(
                query,
                metrics=used_metrics[:DEFAULT_COLUMNS],
                params=used_params[:DEFAULT_COLUMNS],
            )
            context["query"] = query
        _check_columns(query.metrics, "metric")
        _check_columns(query.params, "param")
        order = parse_order(query.order_by, TABLE_ORDER) or [Order(STARTED, True)]
        context["headers"] = _headers(query, order[0])
        found, total = tracking.browse_runs(
            chosen,
            experiment=query.experiment,
            filter=query.filter,
            order_by=query.order_by,
            limit=PAGE_SIZE,
            offset=(number - 1) * PAGE_SIZE,
        )
        pages = last_page(number, total, PAGE_SIZE)
    except (InvalidInput, NotFound) as problem:
        context["error"] = problem
        answer = render(request, "runs.html", viewer, started, **context)
        answer.status_code = problem.status
        return answer
    context.update(runs=found, total=total, pages=pages)
    return render(request, "runs.html", viewer, started, **context)


@router.get("/ui/runs/compare", response_class=HTMLResponse)
def compare(
    request: Request,
    viewer: Annotated[Viewer, Depends(viewer_of)],
    run: Annotated[list[str] | None, Query()] = None,
    metric: str | None = None,
) -> HTMLResponse:
    started = time.perf_counter()
    tracking = request.app.state.platform.tracking
    given = list(dict.fromkeys(run or []))
    if len(given) > MAX_COMPARED:
        raise InvalidInput(
            f"compare at most {MAX_COMPARED} runs at once (got {len(given)})", field="run"
        )
    compared: list[Run] = tracking.get_runs(given) if given else []
    if len(compared) < 2:
        raise InvalidInput(
            f"choose at least 2 different runs to compare (got {len(compared)})", field="run"
        )
    metric_keys = sorted({key for item in compared for key in item.metrics})
    shared = sorted(metric_keys, key=lambda key: -sum(key in item.metrics for item in compared))
    chosen = metric or (shared[0] if shared else None)
    if chosen is not None and chosen not in metric_keys:
        raise InvalidInput(f"none of these runs has a metric {chosen!r}", field="metric")
    figures = None
    if chosen is not None:
        histories = tracking.metric_histories([item.id for item in compared], [chosen])
        figures = _aligned(
            [(_label(item), histories.get(item.id, {}).get(chosen)) for item in compared],
            chosen,
        )
    param_rows = _rows([item.params for item in compared])
    return render(
        request,
        "runs_compare.html",
        viewer,
        started,
        compared=compared,
        param_rows=param_rows,
        differing=sum(differs for _, _, differs in param_rows),
        metric_rows=_rows([item.metrics for item in compared]),
        metric_keys=metric_keys,
        chosen=chosen,
        figures=figures,
        state_of=STATES,
    )


@router.get("/ui/runs/{run_id}", response_class=HTMLResponse)
def run_page(
    request: Request, run_id: str, viewer: Annotated[Viewer, Depends(viewer_of)]
) -> HTMLResponse:
    started = time.perf_counter()
    tracking = request.app.state.platform.tracking
    shown = tracking.get_run(run_id)
    keys = sorted(shown.metrics)
    # Only the drawn keys' histories are read: a run may log hundreds of long series.
    histories = tracking.metric_histories([shown.id], keys[:MAX_CHARTS]).get(shown.id, {})
    curves = [
        (key, _aligned([(key, histories[key])], key))
        for key in keys[:MAX_CHARTS]
        if key in histories and len(histories[key].steps) > 1
    ]
    return render(
        request,
        "run.html",
        viewer,
        started,
        run=shown,
        curves=curves,
        undrawn=keys[MAX_CHARTS:],
        versions=tracking.registered_from(shown.id),
        state_of=STATES,
    )


def _check_columns(keys: list[str], kind: str) -> None:
    if len(keys) > MAX_COLUMNS:
        raise InvalidInput(f"choose at most {MAX_COLUMNS} {kind} columns", field=kind)
    for key in keys:
        check_key(key, kind)


def _offered(used: list[str], chosen: list[str]) -> list[str]:
    """The keys the column chooser offers: the chosen ones, then the most used."""
    return list(dict.fromkeys([*chosen, *used[:OFFERED_KEYS]]))


@dataclass(frozen=True)
class Header:
    column: Column
    link: str  # the table sorted by this column (the other way round if it is already)
    sorted: str | None  # "ascending", "descending", or None


def _headers(query: TableQuery, first: Order) -> list[Header]:
    columns = [
        Column("name", Field("attribute", "name")),
        Column("status", Field("attribute", "status")),
        Column("started", STARTED),
        Column("duration", DURATION, numeric=True),
        *(Column(key, Field("metric", key), numeric=True) for key in query.metrics),
        *(Column(key, Field("param", key)) for key in query.params),
    ]
    headers = []
    for column in columns:
        if column.field == first.field:
            sorted_now: str | None = "descending" if first.descending else "ascending"
            descending = not first.descending
        else:  # newest first, and the rest from the smallest
            sorted_now, descending = None, column.field in (STARTED, DURATION)
        order = f"{column.order_text} {'desc' if descending else 'asc'}"
        headers.append(Header(column, query.link(order_by=order), sorted_now))
    return headers


def _rows(values: list[dict[str, Any]]) -> list[tuple[str, list[Any], bool]]:
    """(key, each run's value or None, whether they differ) for every key any run has."""
    keys = sorted({key for held in values for key in held})
    rows = []
    for key in keys:
        cells = [held.get(key) for held in values]
        rows.append((key, cells, len(set(cells)) > 1))
    return rows


def _label(run: Run) -> str:
    return f"{run.name} ({run.id[:8]})"


def _thinned(series: MetricSeries) -> tuple[list[int], list[float]]:
    """At most MAX_POINTS evenly spaced points of a history, the first and last kept."""
    count = len(series.steps)
    if count <= MAX_POINTS:
        return series.steps, series.values
    stride = -(-count // MAX_POINTS)
    picked = list(range(0, count, stride))
    if picked[-1] != count - 1:
        picked[-1] = count - 1
    return [series.steps[i] for i in picked], [series.values[i] for i in picked]


def _aligned(lines: list[tuple[str, MetricSeries | None]], key: str) -> dict[str, Any]:
    """Figures for charts.js: one x (every step any line has) and each line's value at each
    step, None where it has none (drawn across)."""
    points: list[tuple[str, dict[int, float]]] = []
    for label, series in lines:
        steps, values = _thinned(series) if series is not None else ([], [])
        points.append((label, dict(zip(steps, values, strict=True))))
    x = sorted({step for _, by_step in points for step in by_step})
    return {
        "x": x,
        "series": [
            {"label": label, "values": [by_step.get(step) for step in x]}
            for label, by_step in points
        ],
        "time": False,
        "xLabel": "step",
        "y": key,
        "spanGaps": True,  # runs need not log at the same steps: keep each line whole
    }
