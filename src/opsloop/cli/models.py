"""``opsloop models list|show|alias``."""

from __future__ import annotations

from typing import Annotated

import typer

from opsloop.cli import _output as out

app = typer.Typer(
    help="Registered models, versions and aliases.", no_args_is_help=True, rich_markup_mode=None
)


@app.command("list")
def list_models(
    ctx: typer.Context,
    project: Annotated[str | None, typer.Option(help="Only this project.")] = None,
    as_json: Annotated[bool, typer.Option("--json", help="Print JSON.")] = False,
) -> None:
    """List registered models with their latest version and aliases."""
    found = ctx.obj.client().list_models(project)
    if as_json:
        out.emit_json(found)
        return
    out.table(
        f"{len(found)} models",
        ["model", "latest", "aliases", "created"],
        (
            [
                f"{m.project}/{m.name}",
                m.latest_version or "",
                ", ".join(f"{a}→{v}" for a, v in m.aliases.items()),
                out.when(m.created_at),
            ]
            for m in found
        ),
    )


def _split(name: str) -> tuple[str, str]:
    from opsloop.domain.names import parse_model_ref

    ref = parse_model_ref(name)
    return ref.project, ref.model


@app.command("show")
def show_model(
    ctx: typer.Context,
    name: Annotated[str, typer.Argument(help="project/model")],
    as_json: Annotated[bool, typer.Option("--json", help="Print JSON.")] = False,
) -> None:
    """A model's versions (flavor, source run, signature) and aliases."""
    project, model = _split(name)
    client = ctx.obj.client()
    found = client.get_model(project, model)
    versions = client.list_model_versions(project, model)
    if as_json:
        out.emit_json({"model": found, "versions": versions})
        return
    out.fields(
        f"model {project}/{model}",
        [
            ("description", found.description),
            ("created", out.when(found.created_at)),
            ("aliases", ", ".join(f"{a} → {v}" for a, v in found.aliases.items())),
        ],
    )
    out.table(
        "versions",
        ["version", "aliases", "flavor", "run", "inputs", "size", "created", "by"],
        (
            [
                v.version,
                ", ".join(v.aliases),
                v.flavor,
                (v.run_id or "")[:12],
                ", ".join(c.name for c in v.signature.inputs)[:40]
                or (str(v.signature.input_tensor or "")),
                f"{v.size:,}",
                out.when(v.created_at),
                v.created_by,
            ]
            for v in versions
        ),
    )


@app.command("alias")
def set_alias(
    ctx: typer.Context,
    name: Annotated[str, typer.Argument(help="project/model")],
    alias: Annotated[str, typer.Argument(help="e.g. champion")],
    version: Annotated[int, typer.Argument(help="Version number to point at.", min=1)],
    reason: Annotated[str, typer.Option(help="Why; kept in the alias history.")] = "",
    as_json: Annotated[bool, typer.Option("--json", help="Print JSON.")] = False,
) -> None:
    """Point an alias at a version (every move is kept; see `models history`)."""
    project, model = _split(name)
    move = ctx.obj.client().set_alias(project, model, alias, version, reason)
    if as_json:
        out.emit_json(move)
        return
    before = "nothing" if move.from_version is None else f"version {move.from_version}"
    out.console().print(f"{project}/{model}@{alias}: {before} → version {move.to_version}")


@app.command("history")
def alias_history(
    ctx: typer.Context,
    name: Annotated[str, typer.Argument(help="project/model")],
    alias: Annotated[str, typer.Argument(help="e.g. champion")],
    as_json: Annotated[bool, typer.Option("--json", help="Print JSON.")] = False,
) -> None:
    """Every move of an alias, newest first."""
    project, model = _split(name)
    moves = ctx.obj.client().alias_history(project, model, alias)
    if as_json:
        out.emit_json(moves)
        return
    out.table(
        f"{project}/{model}@{alias}",
        ["when", "from", "to", "by", "reason"],
        (
            [out.when(m.time), m.from_version or "", m.to_version or "(removed)", m.actor, m.reason]
            for m in moves
        ),
    )
