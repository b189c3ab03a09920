"""``opsloop report``: the measure of the loop in the terminal, as JSON, or the map as SVG."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer

from opsloop.cli import _output as out
from opsloop.domain.durations import duration_text
from opsloop.services.report.svg import maturity_map
from opsloop.services.report.text import MARKS, hours_text, period, subject, who

if TYPE_CHECKING:
    from rich.console import Console

    from opsloop.domain.report import Report, SideHours

# The level's style (by its value): its mark and word carry it without colour.
STYLES = {"not handled": "dim", "manual": "bold dark_orange", "automated": "bold green"}
SHOWN_LEAD_TIMES = 20


def report(
    ctx: typer.Context,
    project: Annotated[str | None, typer.Option(help="Only this project (default: all).")] = None,
    endpoint: Annotated[
        str | None, typer.Option(help="Narrow to one endpoint (and its project).")
    ] = None,
    since: Annotated[
        str | None, typer.Option(help="From this time, e.g. 2026-05-01 (default: 30 days ago).")
    ] = None,
    until: Annotated[str | None, typer.Option(help="Up to this time (default: now).")] = None,
    as_json: Annotated[bool, typer.Option("--json", help="Print JSON.")] = False,
    svg: Annotated[
        Path | None, typer.Option(help="Also write the maturity map to this SVG file.")
    ] = None,
) -> None:
    """The measure of the loop over a period, from the Event log.

    The maturity map with hours per month per stage, lead times, deploy frequency, change
    failure rate, recovery, label delay and review (docs/report.md)."""
    client = ctx.obj.client()
    query = {"project": project, "endpoint": endpoint, "since": since, "until": until}
    found = client.report(**query)
    if svg is not None:
        if not svg.parent.is_dir():
            out.fail(f"{svg.parent}: no such folder")
        svg.write_text(maturity_map(found))
    if as_json:
        out.emit_json(found)
        return
    show(found)
    if svg is not None:
        out.console().print(f"maturity map written to {svg}")


def show(found: Report) -> None:
    summary(found, out.console())
    hours_table(found)
    delivery_fields(found)
    lead_time_table(found)


def summary(found: Report, console: Console) -> None:
    """The heading, the maturity map and the next stage to automate."""
    console.print(heading(found), style="bold", soft_wrap=True, highlight=False)
    console.print(maturity_table(found))
    console.print(next_step(found))


def heading(found: Report) -> str:
    return f"Report: {subject(found)} · {period(found)}"


def maturity_table(found: Report) -> object:
    from rich.table import Table
    from rich.text import Text

    shown = Table(title="maturity map", title_justify="left", header_style="bold")
    for column in ("stage", "level", "who did it", "counted", "note"):
        shown.add_column(column, overflow="fold")
    for row in found.stages:
        shown.add_row(
            Text(row.label),
            Text(f"{MARKS[row.level]} {row.level.value}", style=STYLES[row.level]),
            Text(who(row)),
            Text(row.counted, style="dim"),
            Text(row.note),
        )
    return shown


def hours_table(found: Report) -> None:
    """Stages by the people's hours they take per month: the next one to automate first."""
    from opsloop.domain.report import by_people_hours

    rows = []
    for row in by_people_hours(found.stages):
        hours = row.hours
        rows.append(
            [
                row.label,
                row.level.value,
                side(hours.people),
                side(hours.machines),
                duration_text(hours.people.mean_s) + " / " + duration_text(hours.machines.mean_s),
                hours.measures or "not measured",
            ]
        )
    out.table(
        "hours per month (occurrences per 30 days × mean measured duration)",
        ["stage", "level", "people", "machines", "mean each (people / machines)", "measures"],
        rows,
    )


def side(hours: SideHours) -> str:
    if hours.occurrences == 0:
        return "—"
    if hours.hours_per_month is None:
        return f"not measured ({hours.occurrences:,}×)"
    return f"{hours_text(hours.hours_per_month)} ({hours.occurrences:,}×, {hours.measured:,} timed)"


def next_step(found: Report) -> str:
    if found.next_to_automate is None:
        return "next to automate: no manual stage with measured time in this period"
    row = found.stage(found.next_to_automate)
    hours = row.hours.people.hours_per_month or 0.0
    return f"next to automate: {row.label} ({hours_text(hours)} of people's time per month)"


def delivery_fields(found: Report) -> None:
    delivery, recovery, labels, queue = found.delivery, found.recovery, found.labels, found.review
    actions = ", ".join(f"{name} {count}" for name, count in sorted(delivery.by_action.items()))
    failure = (
        "—"
        if delivery.change_failure_rate is None
        else f"{delivery.change_failure_rate:.0%} ({delivery.failed_changes} of "
        f"{delivery.deployments} undone by a rollback)"
    )
    out.fields(
        "delivery and recovery",
        [
            (
                "deployments",
                f"{delivery.deployments:,} ({delivery.per_week:.2g} per week)"
                + (f": {actions}" if actions else ""),
            ),
            ("change failure rate", failure),
            ("rollbacks", f"{delivery.rollbacks:,}"),
            ("time to roll back", out.spread(delivery.time_to_rollback)),
            ("alert to rollback", out.spread(delivery.alert_to_rollback)),
            (
                "alerts",
                f"{recovery.alerts_fired:,} fired, {recovery.resolved:,} resolved, "
                f"{recovery.still_firing:,} still firing",
            ),
            ("alert to recovery", out.spread(recovery.time_to_recovery)),
            ("label delay", out.spread(labels.label_delay) + f" over {labels.labelled:,} labels"),
            (
                "review backlog",
                f"{queue.backlog:,} open at the end"
                + (
                    ""
                    if queue.oldest_open_age_s is None
                    else f" (oldest waiting {duration_text(queue.oldest_open_age_s)})"
                ),
            ),
            (
                "review",
                f"{queue.routed:,} routed, {queue.decided:,} decisions, {queue.closed:,} closed",
            ),
            ("time to decision", out.spread(queue.time_to_decision)),
            ("handling time", out.spread(queue.handling_time)),
        ],
    )


def lead_time_table(found: Report) -> None:
    from opsloop.domain.report import LEAD_STEP_TITLES

    rows: list[list[str]] = [
        [f"{row.endpoint}", f"{row.model}@{row.version}", row.deployed_as]
        + [duration_text(getattr(row, key)) for key in LEAD_STEP_TITLES]
        for row in found.lead_times[-SHOWN_LEAD_TIMES:]
    ]
    medians = found.lead_time
    rows.append(
        ["median", f"{len(found.lead_times)} versions", ""]
        + [
            duration_text(None if (s := getattr(medians, key)) is None else s.median)
            for key in LEAD_STEP_TITLES
        ]
    )
    shown = len(found.lead_times) > SHOWN_LEAD_TIMES
    out.table(
        "lead time per version shipped" + (f" (the last {SHOWN_LEAD_TIMES})" if shown else ""),
        ["endpoint", "version", "as", *LEAD_STEP_TITLES.values()],
        rows,
    )
