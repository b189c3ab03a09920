"""``opsloop``: the command line. Every command is a thin adapter over the SDK client."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from opsloop.cli import (
    alerts,
    datasets,
    demo,
    endpoints,
    evaluations,
    models,
    monitoring,
    pipelines,
    predictions,
    report,
    review,
    runs,
    tokens,
)
from opsloop.cli._context import make_state

app = typer.Typer(
    name="opsloop",
    help="The whole MLOps loop: track, gate, deploy, serve, monitor, review, retrain.",
    no_args_is_help=True,
    rich_markup_mode=None,
    pretty_exceptions_enable=False,
    add_completion=False,
)
app.add_typer(runs.app, name="runs")
app.add_typer(models.app, name="models")
app.add_typer(datasets.app, name="datasets")
app.add_typer(endpoints.app, name="endpoints")
app.add_typer(predictions.feedback_app, name="feedback")
app.add_typer(predictions.predictions_app, name="predictions")
app.add_typer(tokens.app, name="tokens")
app.add_typer(evaluations.app, name="evaluations")
app.add_typer(pipelines.app, name="pipeline")
app.add_typer(monitoring.app, name="monitor")
app.add_typer(alerts.app, name="alerts")
app.add_typer(review.app, name="review")
app.command()(evaluations.evaluate)
app.command()(endpoints.deploy)
app.command()(endpoints.promote)
app.command()(endpoints.rollback)
app.command()(predictions.predict)
app.command()(report.report)
app.command()(demo.demo)

Host = Annotated[str | None, typer.Option(help="Address to bind (default 127.0.0.1).")]
Port = Annotated[int | None, typer.Option(help="Port (default 8080).")]
Auth = Annotated[
    bool | None,
    typer.Option("--auth/--no-auth", help="Require API tokens (env OPSLOOP_AUTH; default off)."),
]


@app.callback()
def main(
    ctx: typer.Context,
    home: Annotated[
        Path | None,
        typer.Option(help="Folder of the embedded store (env OPSLOOP_HOME; default ./.opsloop)."),
    ] = None,
    url: Annotated[
        str | None, typer.Option(help="Talk to an opsloop server at this URL (env OPSLOOP_URL).")
    ] = None,
    database_url: Annotated[
        str | None, typer.Option(help="Metadata database URL (env OPSLOOP_DATABASE_URL).")
    ] = None,
) -> None:
    ctx.obj = make_state(home, url, database_url)
    # Let go of the store when the command ends: embedded, a pipeline run the command started
    # (an alert's retrain, say) ends first instead of being cut off at exit.
    ctx.call_on_close(ctx.obj.close)


@app.command()
def server(ctx: typer.Context, host: Host = None, port: Port = None, auth: Auth = None) -> None:
    """Run the opsloop server: REST API (OpenAPI at /docs) and every endpoint."""
    from opsloop.cli._serve import serve

    serve(ctx.obj, host, port, auth)


@app.command("serve")
def serve_endpoint(
    ctx: typer.Context,
    endpoint: Annotated[str, typer.Argument(help="The endpoint to serve.")],
    host: Host = None,
    port: Port = None,
    auth: Auth = None,
) -> None:
    """Run a serving-only process for one endpoint.

    It answers predict and feedback only; no management API."""
    from opsloop.cli._serve import serve

    serve(ctx.obj, host, port, auth, only=endpoint)


@app.command()
def version() -> None:
    """Print opsloop's version."""
    from opsloop import __version__

    typer.echo(__version__)


def run() -> None:
    """Console entry point: user errors become one red line and a non-zero exit."""
    from opsloop.domain.errors import OpsloopError

    try:
        app(standalone_mode=True)
    except OpsloopError as exc:
        from opsloop.cli._output import fail

        fail(
            exc.headline + (f" (field: {exc.field})" if exc.field else ""),
            code=2 if exc.status == 422 else 1,
        )


if __name__ == "__main__":
    run()
