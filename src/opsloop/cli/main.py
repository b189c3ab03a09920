"""``opsloop``: the command line. Every command is a thin adapter over the SDK client."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from opsloop.cli import datasets, models, runs
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


@app.command()
def server(
    ctx: typer.Context,
    host: Annotated[str | None, typer.Option(help="Address to bind (default 127.0.0.1).")] = None,
    port: Annotated[int | None, typer.Option(help="Port (default 8080).")] = None,
) -> None:
    """Run the opsloop server (REST API; OpenAPI at /docs)."""
    from opsloop.cli._serve import serve

    serve(ctx.obj, host, port)


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
