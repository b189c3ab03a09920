"""``opsloop alerts list|show|resolve``."""

from __future__ import annotations

from typing import TYPE_CHECKING, Annotated

import typer

from opsloop.cli import _output as out

if TYPE_CHECKING:
    from opsloop.domain.alerts import Alert

app = typer.Typer(
    help="Alerts fired by monitors: what fired, what was done, how it resolved.",
    no_args_is_help=True,
    rich_markup_mode=None,
)

AsJson = Annotated[bool, typer.Option("--json", help="Print JSON.")]


def _done(alert: Alert) -> str:
    """The actions in a few words: ``rollback ok, notify log ok``."""
    return ", ".join(
        f"{record.action.split(' (')[0]} {'ok' if record.ok else 'FAILED'}"
        for record in alert.actions
    )


@app.command("list")
def list_alerts(
    ctx: typer.Context,
    endpoint: Annotated[str | None, typer.Option(help="Only this endpoint.")] = None,
    state: Annotated[str, typer.Option(help="firing, resolved or all.")] = "all",
    limit: Annotated[int, typer.Option(help="At most this many (newest first).")] = 100,
    as_json: AsJson = False,
) -> None:
    """Alerts, newest first."""
    from opsloop.sdk.alerts import list_alerts as fetch

    found = fetch(ctx.obj.client(), endpoint, state, limit)
    if as_json:
        out.emit_json(found)
        return
    out.table(
        f"{len(found)} alerts",
        ["id", "endpoint", "rule", "severity", "state", "value", "condition", "fired", "done"],
        (
            [
                a.id,
                a.endpoint,
                a.rule,
                a.severity.value,
                a.state.value,
                out.number(a.value),
                a.condition,
                out.when(a.fired_at),
                _done(a),
            ]
            for a in found
        ),
    )


@app.command("show")
def show_alert(
    ctx: typer.Context,
    alert_id: Annotated[int, typer.Argument(help="The alert's id.")],
    as_json: AsJson = False,
) -> None:
    """One alert: the rule that fired, the value, every action and how it went."""
    from opsloop.sdk.alerts import get_alert

    found = get_alert(ctx.obj.client(), alert_id)
    if as_json:
        out.emit_json(found)
        return
    _print(found)


@app.command("resolve")
def resolve_alert(
    ctx: typer.Context,
    alert_id: Annotated[int, typer.Argument(help="The alert's id.")],
    reason: Annotated[str, typer.Option(help="Why (kept with the alert).")] = "",
    as_json: AsJson = False,
) -> None:
    """Close an open alert by hand."""
    from opsloop.sdk.alerts import resolve_alert as resolve

    done = resolve(ctx.obj.client(), alert_id, reason)
    if as_json:
        out.emit_json(done)
        return
    out.console().print(f"alert {done.id} ({done.rule} on {done.endpoint}) resolved")


def _print(alert: Alert) -> None:
    out.fields(
        f"alert {alert.id}: {alert.rule} on {alert.endpoint} ({alert.state.value})",
        [
            ("severity", alert.severity.value),
            ("condition", alert.condition),
            ("value", out.number(alert.value)),
            ("window end", out.when(alert.window_end)),
            ("action", alert.action),
            ("fired", out.when(alert.fired_at)),
            ("resolved", out.when(alert.resolved_at)),
            ("resolved by", alert.resolved_by),
            ("resolution", alert.resolution),
        ],
    )
    out.table(
        "done about it",
        ["when", "action", "outcome", "detail"],
        ([out.when(r.time), r.action, "ok" if r.ok else "FAILED", r.detail] for r in alert.actions),
    )
