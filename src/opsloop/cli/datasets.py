"""``opsloop datasets list|show``."""

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
