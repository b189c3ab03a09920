"""``opsloop evaluate`` and ``opsloop evaluations list|show``."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer

from opsloop.cli import _output as out

if TYPE_CHECKING:
    from opsloop.domain.evaluation import Evaluation

app = typer.Typer(
    help="Evaluations of model versions and their gate verdicts.",
    no_args_is_help=True,
    rich_markup_mode=None,
)
SHOWN_METRICS = 16


def show(found: Evaluation) -> None:
    verdict = found.verdict or "no gate"
    colour = {"go": "green", "no-go": "red"}.get(found.verdict or "", "yellow")
    out.console().print(
        f"evaluation {found.id}: {found.ref} on {found.dataset}"
        + (f" for endpoint {found.endpoint}" if found.endpoint else "")
        + f" → [{colour}]{verdict}[/{colour}]"
    )
    champion = found.champion_report.metrics if found.champion_report else {}
    names = (
        sorted(found.candidate.metrics)[:SHOWN_METRICS]
        if not found.rules
        else sorted(
            {r.metric for r in found.rules if r.metric in found.candidate.metrics}
            | set(sorted(found.candidate.metrics)[:8])
        )
    )
    out.table(
        f"{found.task or ''} metrics on {found.candidate.rows} rows",
        ["metric", "candidate", f"champion {found.champion or '(none)'}"],
        (
            [n, out.number(found.candidate.metrics.get(n)), out.number(champion.get(n))]
            for n in names
        ),
    )
    if found.rules:
        out.table(
            "gate",
            ["rule", "value", "threshold", "result", "why"],
            (
                [
                    r.rule,
                    out.number(r.value),
                    out.number(r.threshold),
                    "pass" if r.passed else "FAIL",
                    r.detail,
                ]
                for r in found.rules
            ),
        )


def evaluate(
    ctx: typer.Context,
    model: Annotated[str, typer.Argument(help="project/model@version (or @alias)")],
    data: Annotated[str, typer.Option("--data", help="project/dataset[@version]")],
    gate: Annotated[Path | None, typer.Option(help="A gate policy (YAML).")] = None,
    endpoint: Annotated[
        str | None, typer.Option(help="The endpoint the verdict is for (or in the gate).")
    ] = None,
    target: Annotated[str | None, typer.Option(help="The truth column (or in the gate).")] = None,
    segment: Annotated[str | None, typer.Option(help="A column for per-segment metrics.")] = None,
    as_json: Annotated[bool, typer.Option("--json", help="Print JSON.")] = False,
) -> None:
    """Measure a version beside the champion; judge it by a gate.

    Exits 1 on a no-go verdict."""
    from opsloop.domain.names import parse_model_ref

    policy = None
    if gate is not None:
        if not gate.is_file():
            out.fail(f"{gate}: no such file")
        policy = gate.read_text()
    found = ctx.obj.client().evaluate(
        parse_model_ref(model),
        data,
        gate=policy,
        endpoint=endpoint,
        target=target,
        segment=segment,
    )
    if as_json:
        out.emit_json(found)
    else:
        show(found)
    if found.verdict == "no-go":
        raise SystemExit(1)


@app.command("list")
def list_evaluations(
    ctx: typer.Context,
    model: Annotated[str, typer.Argument(help="project/model@version (or @alias)")],
    as_json: Annotated[bool, typer.Option("--json", help="Print JSON.")] = False,
) -> None:
    """A version's evaluations, newest first."""
    from opsloop.domain.names import parse_model_ref

    found = ctx.obj.client().list_evaluations(parse_model_ref(model))
    if as_json:
        out.emit_json(found)
        return
    out.table(
        f"{len(found)} evaluations",
        ["id", "dataset", "endpoint", "verdict", "champion", "who", "when"],
        (
            [
                e.id,
                e.dataset,
                e.endpoint or "",
                e.verdict or "",
                e.champion or "",
                e.created_by,
                out.when(e.created_at),
            ]
            for e in found
        ),
    )


@app.command("show")
def show_evaluation(
    ctx: typer.Context,
    evaluation_id: Annotated[int, typer.Argument(help="The evaluation's id.")],
    as_json: Annotated[bool, typer.Option("--json", help="Print JSON.")] = False,
) -> None:
    """Every metric and every rule of one evaluation."""
    found = ctx.obj.client().get_evaluation(evaluation_id)
    if as_json:
        out.emit_json(found)
    else:
        show(found)
