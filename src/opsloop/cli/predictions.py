"""``opsloop predict`` (batch), ``feedback import`` and ``predictions export``."""

from __future__ import annotations

from datetime import datetime
from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer

from opsloop.cli import _output as out

if TYPE_CHECKING:
    import pyarrow as pa

feedback_app = typer.Typer(
    help="Ground truth for logged predictions.", no_args_is_help=True, rich_markup_mode=None
)
predictions_app = typer.Typer(
    help="The prediction log of an endpoint.", no_args_is_help=True, rich_markup_mode=None
)
FORMATS = {".parquet": "parquet", ".csv": "csv", ".jsonl": "jsonl", ".json": "jsonl"}
FEEDBACK_CHUNK = 100_000


def _format_of(path: Path) -> str:
    found = FORMATS.get(path.suffix.lower())
    if found is None:
        out.fail(f"{path}: use a .parquet, .csv or .jsonl file name")
        raise AssertionError("unreachable")
    return found


def read_table(path: Path) -> pa.Table:
    """A Parquet or CSV file as an Arrow table (a red line if it cannot be read)."""
    import pyarrow as pa
    import pyarrow.csv as pacsv
    import pyarrow.parquet as pq

    if not path.is_file():
        out.fail(f"{path}: no such file")
    kind = _format_of(path)
    try:
        if kind == "parquet":
            return pq.read_table(path)
        if kind == "csv":
            return pacsv.read_csv(path)
        import pyarrow.json as pajson

        return pajson.read_json(path)
    except (pa.ArrowInvalid, OSError) as exc:
        out.fail(f"{path}: cannot read it as {kind}: {exc}")
        raise AssertionError("unreachable") from None


def write_table(table: pa.Table, path: Path) -> None:
    from opsloop.services.feedback import encode_table

    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(encode_table(table, _format_of(path)))


def predict(
    ctx: typer.Context,
    model: Annotated[str, typer.Argument(help="project/model@version (or @alias)")],
    input: Annotated[Path, typer.Option("--input", help="Rows to score (.parquet or .csv).")],
    output: Annotated[Path, typer.Option("--output", help="Where to write (.parquet or .csv).")],
    chunk: Annotated[int, typer.Option(help="Rows scored per call.")] = 50_000,
) -> None:
    """Score a file with a registered model (batch scoring).

    Nothing is logged to an endpoint's prediction log."""
    from rich.progress import BarColumn, MofNCompleteColumn, Progress, TimeElapsedColumn

    from opsloop.sdk.models import load_version
    from opsloop.services.serving.batch import score_table
    from opsloop.services.serving.runtime import LoadedModel

    _format_of(output)
    if chunk < 1:
        out.fail("--chunk must be at least 1")
    loaded = LoadedModel(*load_version(ctx.obj.client(), model))
    table = read_table(input)
    with Progress(
        "[progress.description]{task.description}",
        BarColumn(),
        MofNCompleteColumn(),
        TimeElapsedColumn(),
        console=out.error_console(),
        transient=True,
    ) as bar:
        task = bar.add_task(f"scoring with {loaded.version.ref}", total=table.num_rows)
        scored = score_table(
            loaded, table, chunk_rows=chunk, progress=lambda n: bar.advance(task, n)
        )
    write_table(scored, output)
    out.console().print(f"scored {scored.num_rows} rows with {loaded.version.ref} → {output}")


@feedback_app.command("import")
def import_feedback(
    ctx: typer.Context,
    file: Annotated[Path, typer.Argument(help="A .csv, .parquet or .jsonl file.")],
    endpoint: Annotated[str, typer.Option(help="The endpoint that made the predictions.")],
    id_column: Annotated[str, typer.Option(help="Column with the request ids.")] = "id",
    label_column: Annotated[str, typer.Option(help="Column with the labels.")] = "label",
    source: Annotated[str, typer.Option(help="user, reviewer or system.")] = "user",
) -> None:
    """Join labels to logged predictions by request id.

    Unknown ids are listed and the command exits 1; the known ones are stored."""
    table = read_table(file)
    for column in (id_column, label_column):
        if column not in table.column_names:
            out.fail(f"{file}: no column {column!r} (columns: {', '.join(table.column_names)})")
    ids = [None if v is None else str(v) for v in table.column(id_column).to_pylist()]
    labels = table.column(label_column).to_pylist()
    client = ctx.obj.client()
    accepted = unknown = 0
    unknown_ids: list[str] = []
    for start in range(0, len(ids), FEEDBACK_CHUNK):
        items = [
            {"id": i, "label": label}
            for i, label in zip(
                ids[start : start + FEEDBACK_CHUNK],
                labels[start : start + FEEDBACK_CHUNK],
                strict=True,
            )
        ]
        receipt = client.send_feedback(endpoint, items, source=source)
        accepted += receipt.accepted
        unknown += receipt.unknown
        unknown_ids.extend(receipt.unknown_ids)
    out.console().print(f"stored {accepted} labels for endpoint {endpoint}")
    if unknown:
        shown = ", ".join(unknown_ids[:5])
        out.fail(f"{unknown} request ids are unknown to endpoint {endpoint} (first: {shown})")


@predictions_app.command("export")
def export_predictions(
    ctx: typer.Context,
    endpoint: Annotated[str, typer.Argument(help="The endpoint.")],
    output: Annotated[Path, typer.Option("--output", help=".parquet, .csv or .jsonl")],
    since: Annotated[datetime | None, typer.Option(help="From this time (UTC if no zone).")] = None,
    until: Annotated[datetime | None, typer.Option(help="Before this time.")] = None,
    role: Annotated[str | None, typer.Option(help="primary, canary or shadow only.")] = None,
) -> None:
    """The prediction log, each prediction joined with its latest label."""
    data = ctx.obj.client().export_predictions(
        endpoint, since=since, until=until, role=role, format=_format_of(output)
    )
    output.parent.mkdir(parents=True, exist_ok=True)
    output.write_bytes(data)
    out.console().print(f"wrote {output} ({len(data)} bytes)")
