"""``opsloop datasets list|show|validate``."""

from __future__ import annotations

from typing import Annotated

import typer

from opsloop.cli import _output as out

app = typer.Typer(
    help="Dataset versions, their profiles and lineage.",
    no_args_is_help=True,
    rich_markup_mode=None,
)


@app.command("list")
def list_datasets(
    ctx: typer.Context,
    project: Annotated[str | None, typer.Option(help="Only this project.")] = None,
    as_json: Annotated[bool, typer.Option("--json", help="Print JSON.")] = False,
) -> None:
    """List datasets with their latest version."""
    found = ctx.obj.client().list_datasets(project)
    if as_json:
        out.emit_json(found)
        return
    out.table(
        f"{len(found)} datasets",
        ["dataset", "latest", "created"],
        ([f"{d.project}/{d.name}", d.latest_version or "", out.when(d.created_at)] for d in found),
    )


@app.command("show")
def show_dataset(
    ctx: typer.Context,
    ref: Annotated[str, typer.Argument(help="project/dataset[@version] (latest by default)")],
    as_json: Annotated[bool, typer.Option("--json", help="Print JSON.")] = False,
) -> None:
    """A dataset version: size, lineage and per-column profile."""
    from opsloop.domain.names import parse_dataset_ref

    version = ctx.obj.client().get_dataset_version(parse_dataset_ref(ref))
    if as_json:
        out.emit_json(version)
        return
    out.fields(
        f"dataset {version.ref}",
        [
            ("rows × columns", f"{version.num_rows:,} × {version.num_columns}"),
            ("sha256", version.sha256),
            ("size", f"{version.size:,} bytes"),
            ("parents", ", ".join(version.parents)),
            ("source", version.source),
            ("created", f"{out.when(version.created_at)} by {version.created_by}"),
        ],
    )
    rows = []
    for column in version.profile.columns:
        if column.kind == "numeric":
            summary = (
                f"min {out.number(column.min)}  median "
                f"{out.number(column.quantiles.get('p50'))}  max "
                f"{out.number(column.max)}  mean {out.number(column.mean)}"
            )
        elif column.top_values:
            summary = ", ".join(f"{t['value']} ({t['count']})" for t in column.top_values[:4])
        else:
            summary = f"{column.min or ''} … {column.max or ''}"
        rows.append(
            [
                column.name,
                column.type,
                column.count,
                column.missing,
                "" if column.distinct is None else column.distinct,
                summary,
            ]
        )
    out.table("columns", ["column", "type", "count", "missing", "distinct", "summary"], rows)


@app.command("validate")
def validate_dataset(
    ctx: typer.Context,
    ref: Annotated[str, typer.Argument(help="project/dataset[@version] to check (latest)")],
    against: Annotated[str, typer.Option(help="The reference version, project/dataset[@version].")],
    feature: Annotated[
        list[str] | None,
        typer.Option("--feature", help="A column to check (repeat; default: every column)."),
    ] = None,
    as_json: Annotated[bool, typer.Option("--json", help="Print JSON.")] = False,
) -> None:
    """Check a version against another: schema (exit 1 if it fails), drift."""
    from rich.markup import escape

    from opsloop.domain.names import parse_dataset_ref

    found = ctx.obj.client().validate_dataset(parse_dataset_ref(ref), against, feature or None)
    if as_json:
        out.emit_json(found)
    else:
        colour = "green" if found.verdict == "pass" else "red"
        out.console().print(
            f"{found.dataset} against {found.against}: [{colour}]{found.verdict}[/{colour}] "
            f"({len(found.features)} features, {len(found.drifted)} drifted, "
            f"{found.duration_s:.2f} s)"
        )
        for problem in found.problems:
            out.console().print(f"  [red]✗[/red] {escape(problem.describe())}", highlight=False)
        out.table(
            "drift",
            ["column", "kind", "test", "statistic", "p-value", "threshold", "drifted"],
            (
                [
                    c.column,
                    c.kind,
                    c.test,
                    out.number(c.statistic),
                    out.number(c.p_value),
                    out.number(c.threshold),
                    "yes" if c.drifted else "",
                ]
                for c in found.drift
            ),
        )
    if found.verdict == "fail":
        raise typer.Exit(1)
