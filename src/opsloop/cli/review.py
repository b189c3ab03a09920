"""``opsloop review ...``: an endpoint's review policy and queue, from the terminal."""

from __future__ import annotations

import sys
from datetime import datetime
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any

import typer

from opsloop.cli import _output as out
from opsloop.domain.durations import duration_text

if TYPE_CHECKING:
    from opsloop.domain.review import ReviewItem, ReviewPolicy, ReviewStats

app = typer.Typer(
    help="Human review: which predictions go to people, the queue, decisions, figures.",
    no_args_is_help=True,
    rich_markup_mode=None,
)
policy_app = typer.Typer(
    help="An endpoint's review policy (see docs/review.md).",
    no_args_is_help=True,
    rich_markup_mode=None,
)
app.add_typer(policy_app, name="policy")

Endpoint = Annotated[str, typer.Argument(help="The endpoint whose queue this is.")]
Item = Annotated[int, typer.Argument(help="The review item's id.", min=1)]
AsJson = Annotated[bool, typer.Option("--json", help="Print JSON.")]


@policy_app.command("set")
def set_policy(
    ctx: typer.Context,
    endpoint: Endpoint,
    file: Annotated[str, typer.Argument(help="The policy's YAML file, or - for stdin.")],
    as_json: AsJson = False,
) -> None:
    """Set or replace an endpoint's review policy."""
    from opsloop.sdk.review import set_review_policy

    if file != "-" and not Path(file).is_file():
        out.fail(f"{file}: no such file")
    text = sys.stdin.read() if file == "-" else Path(file).read_text()
    found = set_review_policy(ctx.obj.client(), endpoint, text)
    if as_json:
        out.emit_json(found)
        return
    out.console().print(f"[green]{endpoint}[/green]: review policy set ({describe(found)})")


@policy_app.command("show")
def show_policy(ctx: typer.Context, endpoint: Endpoint, as_json: AsJson = False) -> None:
    """The endpoint's review policy, as written, and how far its log is routed."""
    from opsloop.sdk.review import get_review_policy

    found = get_review_policy(ctx.obj.client(), endpoint)
    if as_json:
        out.emit_json(found)
        return
    out.console().print(f"review policy of [bold]{endpoint}[/bold]: {describe(found)}")
    routed = out.when(found.routed_until) or "not yet"
    out.console().print(
        f"set by {found.updated_by} at {out.when(found.updated_at)}; routed until {routed}"
    )
    out.console().print(found.source.rstrip(), markup=False, highlight=False)


@app.command("list")
def list_items(
    ctx: typer.Context,
    endpoint: Endpoint,
    status: Annotated[str | None, typer.Option(help="open or closed (default: both).")] = None,
    limit: Annotated[int, typer.Option(help="At most this many (1 to 1,000).")] = 100,
    as_json: AsJson = False,
) -> None:
    """Items: open ones most urgent first, otherwise the newest first."""
    from opsloop.sdk.review import review_items

    found = review_items(ctx.obj.client(), endpoint, status=status, limit=limit)
    if as_json:
        out.emit_json(found)
        return
    out.table(
        f"{endpoint}: {len(found)} review items",
        ["id", "status", "reason", "priority", "prediction", "score", "claimed by", "label"],
        (
            [
                item.id,
                item.status,
                item.reason,
                out.number(item.priority),
                _text(item.prediction),
                out.number(item.score),
                _claim(item),
                "" if item.label is None else _text(item.label),
            ]
            for item in found
        ),
    )


@app.command("next")
def next_item(ctx: typer.Context, endpoint: Endpoint, as_json: AsJson = False) -> None:
    """Claim the next item (or the one you hold) and show it."""
    from opsloop.sdk.review import claim_review

    found = claim_review(ctx.obj.client(), endpoint)
    if as_json:
        out.emit_json(found)
        return
    if found is None:
        out.console().print(f"{endpoint}: nothing left to review")
        return
    show_item(found.item)
    out.console().print(f"{found.remaining} left (this one included)")


@app.command("decide")
def decide(
    ctx: typer.Context,
    endpoint: Endpoint,
    item_id: Item,
    label: Annotated[str, typer.Argument(help="One of the item's choices.")],
    note: Annotated[str | None, typer.Option(help="Why, for the record.")] = None,
    as_json: AsJson = False,
) -> None:
    """Label the item you hold; once closed its label is Feedback."""
    from opsloop.sdk.review import decide_review

    found = decide_review(ctx.obj.client(), endpoint, item_id, label, note)
    if as_json:
        out.emit_json(found)
        return
    if found.status == "closed":
        shown = "no label: reviewers did not agree" if found.label is None else _text(found.label)
        out.console().print(f"item {found.id}: closed ({shown})")
    else:
        out.console().print(
            f"item {found.id}: decided {label}; it waits for review "
            f"{len([d for d in found.decisions if d.action == 'decided']) + 1} "
            f"of {found.reviews_needed}"
        )


@app.command("skip")
def skip(ctx: typer.Context, endpoint: Endpoint, item_id: Item, as_json: AsJson = False) -> None:
    """Pass on an item; it is not offered to you again."""
    from opsloop.sdk.review import skip_review

    found = skip_review(ctx.obj.client(), endpoint, item_id)
    if as_json:
        out.emit_json(found)
        return
    out.console().print(f"item {found.id}: skipped")


@app.command("stats")
def stats(
    ctx: typer.Context,
    endpoint: Endpoint,
    since: Annotated[
        datetime | None, typer.Option(help="From then (default: since the policy was set).")
    ] = None,
    as_json: AsJson = False,
) -> None:
    """Backlog, waiting and handling times, agreement, model errors caught."""
    from opsloop.sdk.review import review_stats

    found = review_stats(ctx.obj.client(), endpoint, since=since)
    if as_json:
        out.emit_json(found)
        return
    show_stats(found)


@app.command("route")
def route(ctx: typer.Context, endpoint: Endpoint, as_json: AsJson = False) -> None:
    """Route what was logged since the last pass, now (servers do it alone)."""
    from opsloop.sdk.review import route_reviews

    found = route_reviews(ctx.obj.client(), endpoint)
    if as_json:
        out.emit_json(found)
        return
    reasons = ", ".join(f"{reason} {count}" for reason, count in sorted(found.by_reason.items()))
    capped = f"; {found.capped} left out by the hourly cap" if found.capped else ""
    out.console().print(
        f"{endpoint}: {found.routed} routed" + (f" ({reasons})" if reasons else "") + capped
    )


def describe(policy: ReviewPolicy) -> str:
    config = policy.config
    parts = []
    if config.uncertain is not None:
        parts.append(f"uncertain {config.uncertain.low:g}-{config.uncertain.high:g}")
    if config.sample:
        double = ", double review" if config.double_review else ""
        parts.append(f"sample {config.sample:.2%}{double}")
    if config.rules:
        parts.append(f"rules {', '.join(rule.name for rule in config.rules)}")
    if config.cap_per_hour is not None:
        parts.append(f"at most {config.cap_per_hour} an hour")
    return "; ".join(parts)


def show_item(item: ReviewItem) -> None:
    choices = "any" if item.choices is None else " | ".join(map(_text, item.choices))
    out.fields(
        f"review item {item.id} of {item.endpoint} ({item.reason})",
        [
            ("request", item.request_id),
            ("model", f"{item.model}@{item.version}"),
            ("prediction", _text(item.prediction)),
            ("score", out.number(item.score)),
            ("priority", out.number(item.priority)),
            ("predicted", out.when(item.predicted_at)),
            ("claim until", out.when(item.claim_expires_at)),
            ("choices", choices),
            *((f"  {name}", _text(value)) for name, value in item.inputs.items()),
        ],
    )


def show_stats(found: ReviewStats) -> None:
    out.fields(
        f"review of {found.endpoint} since {out.when(found.since)}",
        [
            ("backlog", found.backlog),
            ("oldest waits", duration_text(found.oldest_open_age_s)),
            ("routed", f"{found.routed} ({_reasons(found.by_reason)})"),
            ("capped", found.capped),
            ("closed", found.closed),
            ("time to decision", out.spread(found.time_to_decision_s)),
            ("handling time", out.spread(found.handling_time_s)),
            ("reviewer agreement", _share(found.reviewer_agreement, found.double_reviewed)),
            ("model-vs-human", _share(found.model_agreement, found.closed)),
            (
                "errors caught",
                f"{found.errors_caught} of {found.errors_known}"
                + (
                    ""
                    if found.errors_caught_share is None
                    else f" ({found.errors_caught_share:.0%})"
                ),
            ),
            ("decided today", _reasons(found.decided_today) or "none"),
        ],
    )


def _text(value: Any) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    return "" if value is None else str(value)


def _claim(item: ReviewItem) -> str:
    if item.claimed_by is None or item.status != "open":
        return ""
    return f"{item.claimed_by} until {out.when(item.claim_expires_at)}"


def _share(value: float | None, count: int) -> str:
    return "" if value is None else f"{value:.0%} of {count}"


def _reasons(counts: dict[str, int]) -> str:
    return ", ".join(f"{name} {count}" for name, count in sorted(counts.items()))
