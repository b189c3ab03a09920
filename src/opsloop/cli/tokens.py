"""``opsloop tokens create|list|revoke``."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated

import typer

from opsloop.cli import _output as out

app = typer.Typer(
    help="API tokens (roles: viewer, reviewer, deployer, admin).",
    no_args_is_help=True,
    rich_markup_mode=None,
)


@app.command("create")
def create(
    ctx: typer.Context,
    role: Annotated[str, typer.Option(help="viewer, reviewer, deployer or admin.")],
    name: Annotated[str | None, typer.Option(help="Who or what will use it.")] = None,
    endpoint: Annotated[str | None, typer.Option(help="Only for this endpoint.")] = None,
    expires: Annotated[datetime | None, typer.Option(help="Stops working at this time.")] = None,
    as_json: Annotated[bool, typer.Option("--json", help="Print JSON.")] = False,
) -> None:
    """Make a token. Its secret is printed once and stored only as a hash."""
    issued = ctx.obj.client().create_token(role, name=name, endpoint=endpoint, expires_at=expires)
    if as_json:
        out.emit_json(issued)
        return
    scope = f" for endpoint {issued.token.endpoint}" if issued.token.endpoint else ""
    out.error_console().print(
        f"token {issued.token.name} ({issued.token.role.value}{scope}); keep the secret, "
        "it is not shown again:"
    )
    out.console().print(issued.secret)


@app.command("list")
def list_tokens(
    ctx: typer.Context,
    revoked: Annotated[bool, typer.Option("--revoked", help="Include revoked tokens.")] = False,
    as_json: Annotated[bool, typer.Option("--json", help="Print JSON.")] = False,
) -> None:
    """Tokens (never their secrets)."""
    found = ctx.obj.client().list_tokens(revoked)
    if as_json:
        out.emit_json(found)
        return
    out.table(
        f"{len(found)} tokens",
        ["id", "name", "role", "endpoint", "created", "last used", "revoked"],
        (
            [
                t.id,
                t.name,
                t.role.value,
                t.endpoint or "",
                out.when(t.created_at),
                out.when(t.last_used_at),
                out.when(t.revoked_at),
            ]
            for t in found
        ),
    )


@app.command("revoke")
def revoke(
    ctx: typer.Context,
    token_id: Annotated[str, typer.Argument(help="The token's id (from tokens list).")],
) -> None:
    """Stop a token from working (within 5 seconds on every server)."""
    done = ctx.obj.client().revoke_token(token_id)
    out.console().print(f"revoked token {done.id} ({done.name})")
