"""``opsloop runs list|show``."""

from __future__ import annotations

from typing import Annotated

import typer

from opsloop.cli import _output as out
from opsloop.domain.durations import duration_text

app = typer.Typer(
    help="Tracked runs: params, metrics, status, lineage.",
    no_args_is_help=True,
    rich_markup_mode=None,
)

MAX_METRIC_COLUMNS = 6


@app.command("list")
def list_runs(
    ctx: typer.Context,
    project: Annotated[str, typer.Argument(help="Project name.")],
    filter: Annotated[
        str | None,
        typer.Option("--filter", "-f", help="e.g. \"metrics.f1 > 0.8 and params.C = '1.0'\""),
    ] = None,
    order_by: Annotated[
        str | None, typer.Option(help="e.g. 'metrics.f1 desc' [default: newest first]")
    ] = None,
    experiment: Annotated[str | None, typer.Option(help="Only this experiment.")] = None,
    limit: Annotated[int, typer.Option(min=1, max=10_000, help="Show at most this many.")] = 50,
    as_json: Annotated[bool, typer.Option("--json", help="Print JSON.")] = False,
) -> None:
    """List a project's runs, newest first, with a filter and an order."""
    found, total = ctx.obj.client().search_runs(
        project, filter=filter, order_by=order_by, experiment=experiment, limit=limit
    )
    if as_json:
        out.emit_json({"runs": found, "total": total})
        return
    metric_keys = sorted({key for run in found for key in run.metrics})[:MAX_METRIC_COLUMNS]
    out.table(
        f"{project}: {len(found)} of {total} runs",
        ["id", "name", "experiment", "status", "started", "duration", *metric_keys],
        (
            [
                run.id[:12],
                run.name,
                run.experiment,
                run.status.value,
                out.when(run.start_time),
                "" if run.duration_s is None else f"{run.duration_s:.1f}s",
                *(out.number(run.metrics.get(key)) for key in metric_keys),
            ]
            for run in found
        ),
    )


@app.command("show")
def show_run(
    ctx: typer.Context,
    run_id: Annotated[str, typer.Argument(help="Run id, or a unique prefix of 6+ characters.")],
    as_json: Annotated[bool, typer.Option("--json", help="Print JSON.")] = False,
) -> None:
    """Everything about one run."""
    run = ctx.obj.client().get_run(run_id)
    if as_json:
        out.emit_json(run)
        return
    out.fields(
        f"run {run.id}",
        [
            ("name", run.name),
            ("project", f"{run.project} / {run.experiment}"),
            ("status", run.status.value),
            ("user", run.user),
            ("started", out.when(run.start_time)),
            ("ended", out.when(run.end_time)),
            ("duration", duration_text(run.duration_s)),
            ("parent", run.parent_id or ""),
            (
                "git",
                ""
                if run.git_sha is None
                else f"{run.git_sha[:12]}{' (dirty)' if run.git_dirty else ''}",
            ),
            ("python", run.python_version or ""),
            ("inputs", ", ".join(str(i) for i in run.inputs)),
        ],
    )
    if run.params:
        out.table("params", ["key", "value"], sorted(run.params.items()))
    if run.metrics:
        out.table(
            "metrics (latest)",
            ["key", "value"],
            ((k, out.number(v)) for k, v in sorted(run.metrics.items())),
        )
    if run.tags:
        out.table("tags", ["key", "value"], sorted(run.tags.items()))
    if run.artifacts:
        out.table(
            "artifacts",
            ["path", "size", "sha256"],
            ((a.path, a.size, a.sha256[:16]) for a in run.artifacts),
        )
    if run.error:
        out.console().print("[bold red]error[/bold red]")
        out.console().print(run.error, markup=False)
