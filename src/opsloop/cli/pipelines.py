"""``opsloop pipeline run|list|show`` and ``opsloop pipeline trigger add|list|remove``."""

from __future__ import annotations

import json
import time
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Annotated, Any

import typer

from opsloop.cli import _output as out
from opsloop.domain.durations import duration_text

if TYPE_CHECKING:
    from rich.text import Text

    from opsloop.domain.pipelines import PipelineRun, PipelineTrigger, StepRun
    from opsloop.sdk.client import Client

app = typer.Typer(
    help="Pipelines: run them, see each run's steps on a timeline, trigger them.",
    no_args_is_help=True,
    rich_markup_mode=None,
)
trigger_app = typer.Typer(
    help="What starts a pipeline: a cron schedule, new labels, a new dataset version.",
    no_args_is_help=True,
    rich_markup_mode=None,
)
app.add_typer(trigger_app, name="trigger")

BAR_WIDTH = 30
POLL_S = 0.5
STATUS_STYLE = {
    "succeeded": "green",
    "cached": "cyan",
    "running": "yellow",
    "queued": "yellow",
    "failed": "red",
}
Json = Annotated[bool, typer.Option("--json", help="Print JSON.")]
Params = Annotated[
    list[str] | None,
    typer.Option(
        "--param", "-p", help="A param as KEY=VALUE (VALUE read as JSON when it is: 3, true)."
    ),
]


def parse_params(items: list[str] | None) -> dict[str, Any]:
    """``["k=v", ...]`` as a dict; a value that reads as JSON is that value, else text."""
    from opsloop.domain.errors import InvalidInput

    params: dict[str, Any] = {}
    for item in items or []:
        key, sep, text = item.partition("=")
        if not sep or not key.strip():
            raise InvalidInput(f"--param {item!r} must be KEY=VALUE", field="param")
        try:
            params[key.strip()] = json.loads(text)
        except ValueError:
            params[key.strip()] = text
    return params


@app.command("run")
def run_pipeline(
    ctx: typer.Context,
    name: Annotated[str, typer.Argument(help="The pipeline (as registered).")],
    param: Params = None,
    detach: Annotated[
        bool, typer.Option("--detach", help="Start it on the server and return at once.")
    ] = False,
    executor: Annotated[
        str | None, typer.Option(help="inline or process (default: the executor setting).")
    ] = None,
    as_json: Json = False,
) -> None:
    """Run a pipeline now, printing each step as it ends; exit 1 if it fails."""
    client: Client = ctx.obj.client()
    if detach and client.mode == "embedded":
        out.fail(
            "--detach needs a server (--url or OPSLOOP_URL): an embedded run ends with this command"
        )
    started = client.start_pipeline(name, parse_params(param), executor=executor)
    if detach:
        if as_json:
            out.emit_json(started)
        else:
            out.console().print(f"started pipeline run {started.id} ({started.pipeline})")
        return
    finished = _follow(client, started, quiet=as_json)
    if as_json:
        out.emit_json(finished)
    else:
        show(finished)
    if finished.status.value == "failed":
        raise SystemExit(1)


def _follow(client: Client, run: PipelineRun, quiet: bool) -> PipelineRun:
    """Poll the run until it ends, printing each step when it ends."""
    printed: set[int] = set()
    if not quiet:
        out.console().print(f"pipeline run {run.id} ({run.pipeline})")
    while True:
        for step in run.steps:
            if step.position in printed or step.status.value == "running":
                continue
            printed.add(step.position)
            if not quiet:
                out.console().print(_step_line(step))
        if run.finished:
            return run
        time.sleep(POLL_S)
        run = client.get_pipeline_run(run.id)


def _step_line(step: StepRun) -> Text:
    from rich.text import Text

    from opsloop.domain.pipelines import last_line

    status = step.status.value
    line = Text(f"  {step.position:>2} {step.name} ")
    line.append(status, style=STATUS_STYLE.get(status, ""))
    if step.duration_s is not None and status != "cached":
        line.append(f" {duration_text(step.duration_s)}")
    if step.attempts > 1:
        line.append(f" ({step.attempts} attempts)")
    if step.error:
        line.append(f"  {last_line(step.error)}", style="red")
    return line


@app.command("list")
def list_pipelines(
    ctx: typer.Context,
    runs: Annotated[bool, typer.Option("--runs", help="List runs instead, newest first.")] = False,
    pipeline: Annotated[str | None, typer.Option(help="Only this pipeline's runs.")] = None,
    limit: Annotated[int, typer.Option(min=1, max=1000, help="At most this many runs.")] = 20,
    as_json: Json = False,
) -> None:
    """Pipelines with their last run; or, with --runs, the runs."""
    client: Client = ctx.obj.client()
    if runs or pipeline:
        found_runs = client.list_pipeline_runs(pipeline, limit=limit)
        if as_json:
            out.emit_json(found_runs)
            return
        _runs_table(found_runs)
        return
    found = client.list_pipelines()
    if as_json:
        out.emit_json(found)
        return
    latest = {p.name: client.list_pipeline_runs(p.name, limit=1) for p in found}
    out.table(
        f"{len(found)} pipelines",
        ["pipeline", "project", "params", "last run", "status", "when", "description"],
        (
            [
                p.name,
                p.project or "",
                ", ".join(q.name if q.required else f"{q.name}={q.default!r}" for q in p.params),
                *(_last_run(latest[p.name])),
                p.description,
            ]
            for p in found
        ),
    )


def _last_run(runs: list[PipelineRun]) -> list[str]:
    if not runs:
        return ["", "", ""]
    return [runs[0].id[:12], runs[0].status.value, out.when(runs[0].created_at)]


def _runs_table(runs: list[PipelineRun]) -> None:
    out.table(
        f"{len(runs)} pipeline runs",
        ["run", "pipeline", "status", "trigger", "steps", "started", "duration", "by"],
        (
            [
                run.id[:12],
                run.pipeline,
                run.status.value,
                run.trigger.value,
                _step_counts(run),
                out.when(run.started_at or run.created_at),
                duration_text(run.duration_s),
                run.actor,
            ]
            for run in runs
        ),
    )


def _step_counts(run: PipelineRun) -> str:
    cached = sum(1 for s in run.steps if s.status.value == "cached")
    return f"{len(run.steps)}" + (f" ({cached} cached)" if cached else "")


@app.command("show")
def show_run(
    ctx: typer.Context,
    run_id: Annotated[str, typer.Argument(help="Run id, or a unique prefix of 6+ characters.")],
    logs: Annotated[bool, typer.Option("--logs", help="Also print each step's log.")] = False,
    as_json: Json = False,
) -> None:
    """One run, with a timeline of its steps: status, cache, attempts, time."""
    found = ctx.obj.client().get_pipeline_run(run_id)
    if as_json:
        out.emit_json(found)
        return
    show(found, logs=logs)


def show(run: PipelineRun, logs: bool = False) -> None:
    from rich.markup import escape

    detail = ", ".join(f"{k}={v}" for k, v in run.trigger_detail.items())
    out.fields(
        f"pipeline run {run.id}",
        [
            ("pipeline", run.pipeline + (f" ({run.project})" if run.project else "")),
            ("status", run.status.value),
            ("trigger", run.trigger.value + (f": {detail}" if detail else "")),
            ("params", ", ".join(f"{k}={v!r}" for k, v in run.params.items())),
            ("executor", run.executor),
            ("started by", run.actor),
            ("started", out.when(run.started_at or run.created_at)),
            ("duration", duration_text(run.duration_s)),
        ],
    )
    out.console().print(timeline(run))
    if run.error:
        out.console().print("[bold red]error[/bold red]")
        out.console().print(escape(run.error), soft_wrap=True)
    if logs:
        for step in run.steps:
            out.console().rule(f"{step.position} {step.name}")
            out.console().print(step.log or "(no output)", markup=False, soft_wrap=True)


def timeline(run: PipelineRun) -> Any:
    """A table with a row per step and a bar placing it within the run's span."""
    from rich.table import Table
    from rich.text import Text

    from opsloop.domain.pipelines import last_line

    shown = Table(title="steps", title_justify="left", header_style="bold")
    for column in ("#", "step", "timeline", "status", "cached", "attempts", "duration", "error"):
        shown.add_column(column, overflow="fold", no_wrap=column == "timeline")
    start, span = _span(run)
    for step in run.steps:
        status = step.status.value
        style = STATUS_STYLE.get(status, "")
        shown.add_row(
            str(step.position),
            Text(step.name),
            Text(_bar(step, start, span), style=style),
            Text(status, style=style),
            "yes" if status == "cached" else "",
            str(step.attempts),
            "" if status == "cached" else duration_text(step.duration_s),
            Text(last_line(step.error), style="red"),
        )
    return shown


def _span(run: PipelineRun) -> tuple[float, float]:
    starts = [s.started_at.timestamp() for s in run.steps if s.started_at]
    ends = [s.ended_at.timestamp() for s in run.steps if s.ended_at]
    start = run.started_at.timestamp() if run.started_at else min(starts, default=0.0)
    end = run.ended_at.timestamp() if run.ended_at else max([*ends, _now()])
    return start, max(end - start, 1e-6)


def _bar(step: StepRun, start: float, span: float) -> str:
    if step.started_at is None:
        return ""
    begin = step.started_at.timestamp()
    end = step.ended_at.timestamp() if step.ended_at else _now()
    offset = min(BAR_WIDTH - 1, max(0, int((begin - start) / span * BAR_WIDTH)))
    if step.status.value == "cached":
        return " " * offset + "·"
    length = max(1, round((end - begin) / span * BAR_WIDTH))
    return " " * offset + "█" * min(length, BAR_WIDTH - offset)


def _now() -> float:
    return datetime.now(UTC).timestamp()


# -- triggers ------------------------------------------------------------------------------


@trigger_app.command("add")
def add_trigger(
    ctx: typer.Context,
    name: Annotated[str, typer.Argument(help="The pipeline to start.")],
    cron: Annotated[
        str | None, typer.Option(help='On a schedule: cron syntax in UTC, e.g. "*/5 * * * *".')
    ] = None,
    labels: Annotated[
        int | None, typer.Option(help="After this many newly labelled predictions (--endpoint).")
    ] = None,
    endpoint: Annotated[str | None, typer.Option(help="The endpoint whose labels count.")] = None,
    dataset: Annotated[
        str | None, typer.Option(help="On each new version of PROJECT/DATASET.")
    ] = None,
    param: Params = None,
    as_json: Json = False,
) -> None:
    """Start a pipeline on a cron schedule, new labels or a new dataset version."""
    chosen = [
        flag
        for flag, value in (("--cron", cron), ("--labels", labels), ("--dataset", dataset))
        if value is not None
    ]
    if len(chosen) != 1:
        out.fail("give one of --cron, --labels (with --endpoint) or --dataset", code=2)
    if (labels is None) != (endpoint is None):
        out.fail("--labels and --endpoint go together", code=2)
    spec: dict[str, Any]
    if cron is not None:
        kind, spec = "schedule", {"cron": cron}
    elif labels is not None:
        kind, spec = "labels", {"endpoint": endpoint, "count": labels}
    else:
        kind, spec = "dataset", {"dataset": dataset}
    made = ctx.obj.client().create_pipeline_trigger(name, kind, spec, parse_params(param))
    if as_json:
        out.emit_json(made)
        return
    out.console().print(f"trigger {made.id}: run {made.pipeline} {made.describe()}")


@trigger_app.command("list")
def list_triggers(
    ctx: typer.Context,
    name: Annotated[str | None, typer.Argument(help="Only this pipeline's triggers.")] = None,
    as_json: Json = False,
) -> None:
    """Triggers, with what each watches and where it stands."""
    found = ctx.obj.client().list_pipeline_triggers(name)
    if as_json:
        out.emit_json(found)
        return
    out.table(
        f"{len(found)} pipeline triggers",
        ["id", "pipeline", "kind", "starts a run", "params", "state", "by", "created"],
        (
            [
                t.id,
                t.pipeline,
                t.kind.value,
                t.describe(),
                ", ".join(f"{k}={v!r}" for k, v in t.params.items()),
                _state(t),
                t.created_by,
                out.when(t.created_at),
            ]
            for t in found
        ),
    )


def _state(trigger: PipelineTrigger) -> str:
    state = trigger.state
    if "next" in state:
        return "next " + out.when(datetime.fromtimestamp(state["next"], UTC))
    if "labelled" in state:
        return f"{state['labelled']} predictions labelled when last counted"
    return f"last version {state.get('version', 0)}"


@trigger_app.command("remove")
def remove_trigger(
    ctx: typer.Context,
    name: Annotated[str, typer.Argument(help="The pipeline.")],
    trigger_id: Annotated[int, typer.Argument(help="The trigger's id (trigger list).")],
) -> None:
    """Stop a trigger from starting runs."""
    removed = ctx.obj.client().delete_pipeline_trigger(name, trigger_id)
    out.console().print(f"removed trigger {removed.id} of {removed.pipeline}")
