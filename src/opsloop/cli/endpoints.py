"""``opsloop deploy|promote|rollback`` and ``opsloop endpoints list|show``."""

from __future__ import annotations

from typing import TYPE_CHECKING, Annotated

import typer

from opsloop.cli import _output as out

if TYPE_CHECKING:
    from opsloop.domain.deployments import Deployment

app = typer.Typer(
    help="Endpoints: traffic plans and deployment history.",
    no_args_is_help=True,
    rich_markup_mode=None,
)

Reason = Annotated[str, typer.Option(help="Why (kept in the deployment history).")]


def report(done: Deployment) -> None:
    forced = " (forced: no go verdict)" if done.forced else ""
    out.console().print(
        f"[green]{done.endpoint}[/green] deployment {done.number} ({done.action.value}){forced}: "
        f"now serving {done.plan.describe()}"
    )


def _show(done: Deployment, as_json: bool) -> None:
    if as_json:
        out.emit_json(done)
    else:
        report(done)


def deploy(
    ctx: typer.Context,
    model: Annotated[str, typer.Argument(help="project/model@version (or @alias)")],
    endpoint: Annotated[str, typer.Option(help="The endpoint to serve it on.")],
    canary: Annotated[
        float | None, typer.Option(help="Send this percent of traffic to it as a canary.")
    ] = None,
    shadow: Annotated[
        bool, typer.Option("--shadow", help="Give it a copy of the traffic; never answer.")
    ] = False,
    force: Annotated[
        bool, typer.Option("--force", help="Deploy without a go verdict (needs --reason).")
    ] = False,
    reason: Reason = "",
    as_json: Annotated[bool, typer.Option("--json", help="Print JSON.")] = False,
) -> None:
    """Serve a model version on an endpoint, behind its gate verdict."""
    done = ctx.obj.client().deploy(
        endpoint, model, canary=canary, shadow=shadow, force=force, reason=reason
    )
    _show(done, as_json)


def promote(
    ctx: typer.Context,
    endpoint: Annotated[str, typer.Argument(help="The endpoint whose canary takes over.")],
    reason: Reason = "",
    as_json: Annotated[bool, typer.Option("--json", help="Print JSON.")] = False,
) -> None:
    """Make the canary the primary, for all traffic."""
    done = ctx.obj.client().promote(endpoint, reason)
    _show(done, as_json)


def rollback(
    ctx: typer.Context,
    endpoint: Annotated[str, typer.Argument(help="The endpoint to roll back.")],
    to: Annotated[
        int, typer.Option("--to", help="How many deployments back (1: the previous one).")
    ] = 1,
    number: Annotated[
        int | None, typer.Option("--number", help="Or: restore this deployment number.")
    ] = None,
    reason: Reason = "",
    as_json: Annotated[bool, typer.Option("--json", help="Print JSON.")] = False,
) -> None:
    """Go back to the previous traffic plan (or N back), at once."""
    done = ctx.obj.client().rollback(endpoint, steps=to, number=number, reason=reason)
    _show(done, as_json)


@app.command("list")
def list_endpoints(
    ctx: typer.Context,
    project: Annotated[str | None, typer.Option(help="Only this project.")] = None,
    as_json: Annotated[bool, typer.Option("--json", help="Print JSON.")] = False,
) -> None:
    """Endpoints with what they serve now."""
    found = ctx.obj.client().list_endpoints(project)
    if as_json:
        out.emit_json(found)
        return
    out.table(
        f"{len(found)} endpoints",
        ["endpoint", "project", "serving", "deployment", "changed"],
        (
            [e.name, e.project, e.plan.describe(), e.deployment or "", out.when(e.updated_at)]
            for e in found
        ),
    )


@app.command("show")
def show_endpoint(
    ctx: typer.Context,
    name: Annotated[str, typer.Argument(help="The endpoint.")],
    limit: Annotated[int, typer.Option(help="How many deployments to list.")] = 20,
    as_json: Annotated[bool, typer.Option("--json", help="Print JSON.")] = False,
) -> None:
    """An endpoint's traffic plan and deployment history (who, when, why, verdict)."""
    client = ctx.obj.client()
    found = client.get_endpoint(name)
    history = client.deployment_history(name, limit)
    if as_json:
        out.emit_json({"endpoint": found, "deployments": history})
        return
    out.fields(
        f"endpoint {found.name}",
        [
            ("project", found.project),
            ("serving", found.plan.describe()),
            ("deployment", found.deployment),
            ("changed", out.when(found.updated_at)),
        ],
    )
    out.table(
        "deployments (newest first)",
        ["#", "action", "model", "serving after", "verdict", "who", "when", "why"],
        (
            [
                d.number,
                d.action.value + (f" → #{d.restores}" if d.restores else ""),
                f"{d.model}@{d.version}" if d.model else "",
                d.plan.describe(),
                "forced" if d.forced else (d.verdict or ""),
                d.actor,
                out.when(d.time),
                d.reason,
            ]
            for d in history
        ),
    )
