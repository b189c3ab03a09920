"""``opsloop monitor set|run|show``: an endpoint's monitor, for people and for cron."""

from __future__ import annotations

from datetime import datetime
from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer

from opsloop.cli import _output as out

if TYPE_CHECKING:
    from rich.text import Text

    from opsloop.domain.monitoring import Monitor, MonitorValue, WindowResult

app = typer.Typer(
    help="Monitors: drift, live and estimated performance, data quality, service levels.",
    no_args_is_help=True,
    rich_markup_mode=None,
)
BLOCKS = "▁▂▃▄▅▆▇█"
UNCERTAIN = "performance.uncertain"
CANARY = "canary."
# What ``monitor run`` shows per window, when computed (the rest: ``monitor show``).
RUN_COLUMNS = (
    ("drifted", "drift.share_drifted"),
    ("accuracy", "performance.accuracy"),
    ("mae", "performance.mae"),
    ("est. accuracy", "estimated.accuracy"),
    ("missing", "quality.missing_share"),
    ("p99 ms", "service.latency_p99_ms"),
)


@app.command("set")
def set_monitor(
    ctx: typer.Context,
    endpoint: Annotated[str, typer.Argument(help="The endpoint to monitor.")],
    file: Annotated[Path, typer.Argument(help="The monitor's YAML (see docs/monitoring.md).")],
    as_json: Annotated[bool, typer.Option("--json", help="Print JSON.")] = False,
) -> None:
    """Set or replace an endpoint's monitor; windows already computed stay."""
    from opsloop.sdk.monitoring import set_monitor as put

    if not file.is_file():
        out.fail(f"{file}: no such file")
    found = put(ctx.obj.client(), endpoint, file.read_text())
    if as_json:
        out.emit_json(found)
        return
    out.console().print(f"[green]{endpoint}[/green]: monitor set ({describe(found)})")


@app.command("run")
def run_monitor(
    ctx: typer.Context,
    endpoint: Annotated[str, typer.Argument(help="The endpoint whose monitor runs.")],
    until: Annotated[
        datetime | None, typer.Option(help="Windows closed by then (default: now; UTC if no zone).")
    ] = None,
    since: Annotated[
        datetime | None,
        typer.Option(help="Compute again from the window holding this time (late labels)."),
    ] = None,
    as_json: Annotated[bool, typer.Option("--json", help="Print JSON.")] = False,
) -> None:
    """Compute every window closed since the last one computed (for cron and CI)."""
    from opsloop.sdk.monitoring import run_monitor as run

    found = run(ctx.obj.client(), endpoint, until=until, since=since)
    if as_json:
        out.emit_json(found)
        return
    if not found:
        out.console().print(f"{endpoint}: no window has closed since the last run")
        return
    show_windows(endpoint, found)


@app.command("show")
def show_monitor(
    ctx: typer.Context,
    endpoint: Annotated[str, typer.Argument(help="The monitored endpoint.")],
    metric: Annotated[
        str | None, typer.Option("--metric", help="Only metrics starting with this (drift.).")
    ] = None,
    last: Annotated[int, typer.Option("--last", min=1, help="How many windows to draw.")] = 24,
    as_json: Annotated[bool, typer.Option("--json", help="Print JSON.")] = False,
) -> None:
    """Each metric's latest value and a sparkline of its last windows."""
    from opsloop.sdk.monitoring import get_monitor, monitor_values

    client = ctx.obj.client()
    monitor = get_monitor(client, endpoint)
    values = monitor_values(client, endpoint, prefix=metric, limit=last)
    flags = [v for v in values if v.metric.endswith(UNCERTAIN)]
    if metric is not None:  # the flags may not be among the metrics asked for
        ends = {v.window_end for v in values}
        flags = [
            flag
            for name in (UNCERTAIN, CANARY + UNCERTAIN)
            for flag in monitor_values(client, endpoint, metric=name, limit=last)
            if flag.window_end in ends
        ]
    if as_json:
        out.emit_json({"monitor": monitor, "values": values})
        return
    out.console().print(f"monitor of [bold]{endpoint}[/bold]: {describe(monitor)}")
    if not values:
        out.console().print("no values yet: run it (opsloop monitor run)")
        return
    show_values(values, flags)


def describe(monitor: Monitor) -> str:
    config = monitor.config
    reference = config.reference or (
        f"baseline {config.baseline.since:%Y-%m-%d %H:%M} to {config.baseline.until:%Y-%m-%d %H:%M}"
        if config.baseline
        else "the training data"
    )
    alerts = f", {len(config.alerts)} alert rules" if config.alerts else ""
    return f"window {config.window}, reference {reference}{alerts}"


def show_windows(endpoint: str, found: list[WindowResult]) -> None:
    shown = [(title, name) for title, name in RUN_COLUMNS if any(name in w.values for w in found)]
    out.table(
        f"{endpoint}: {_windows(len(found))} computed",
        ["window", "requests", "labels", *(title for title, _ in shown)],
        (
            [
                f"{out.when(w.window_start)} → {w.window_end.astimezone():%H:%M}",
                w.requests,
                f"{w.labels}{' (uncertain)' if w.uncertain and w.requests else ''}",
                *(out.number(w.values.get(name)) for _, name in shown),
            ]
            for w in found
        ),
    )
    notes = found[-1].skipped
    for part, why in sorted(notes.items()):
        out.console().print(f"[yellow]{part}[/yellow] not computed: {why}", soft_wrap=True)


def show_values(values: list[MonitorValue], flags: list[MonitorValue]) -> None:
    from rich.table import Table

    from opsloop.domain.alerts import uncertain_flag_of

    ends = sorted({v.window_end for v in values})
    uncertain = {(f.metric.removesuffix(UNCERTAIN), f.window_end) for f in flags if f.value == 1.0}
    series: dict[str, dict[datetime, float | None]] = {}
    for value in values:
        series.setdefault(value.metric, {})[value.window_end] = value.value
    table = Table(
        title=f"{_windows(len(ends))}, to {out.when(ends[-1])}",
        title_justify="left",
        header_style="bold",
    )
    for column in ("metric", "latest", f"last {_windows(len(ends))}", "min", "max", "uncertain"):
        table.add_column(column, overflow="fold")
    flagged = False
    for name in sorted(series):
        points = [series[name].get(end) for end in ends]
        prefix = CANARY if name.startswith(CANARY) else ""
        marked = [
            uncertain_flag_of(name) is not None and (prefix, end) in uncertain for end in ends
        ]
        known = [p for p in points if p is not None]
        latest = next((p for p in reversed(points) if p is not None), None)
        count = sum(1 for flag, p in zip(marked, points, strict=True) if flag and p is not None)
        flagged = flagged or count > 0
        table.add_row(
            name,
            out.number(latest) + (" ?" if marked[-1] and points[-1] is not None else ""),
            sparkline_text(points, marked),
            out.number(min(known)) if known else "",
            out.number(max(known)) if known else "",
            f"{count} of {len(known)}" if count else "",
        )
    out.console().print(table)
    if flagged:
        out.console().print(
            "[yellow]yellow[/yellow] windows and ? : fewer labels than min_labels (uncertain)"
        )


def _windows(count: int) -> str:
    return f"{count} window" if count == 1 else f"{count} windows"


def sparkline(points: list[float | None]) -> str:
    """One block per window, scaled between the smallest and largest value; a gap where a
    window has no value."""
    known = [p for p in points if p is not None]
    if not known:
        return " " * len(points)
    low, high = min(known), max(known)
    top = len(BLOCKS) - 1
    marks = []
    for point in points:
        if point is None:
            marks.append(" ")
        elif high == low:
            marks.append(BLOCKS[top // 2])
        else:
            marks.append(BLOCKS[round((point - low) / (high - low) * top)])
    return "".join(marks)


def sparkline_text(points: list[float | None], uncertain: list[bool]) -> Text:
    from rich.text import Text

    drawn = Text(sparkline(points))
    for i, flag in enumerate(uncertain):
        if flag:
            drawn.stylize("yellow", i, i + 1)
    return drawn
