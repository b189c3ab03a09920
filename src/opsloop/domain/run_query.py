"""The run search language: ``metrics.f1 > 0.8 and params.C = '1.0' and status = 'FINISHED'``.

Clauses are joined by ``and``. A clause is ``<field> <op> <value>`` where field is
``metrics.KEY``, ``params.KEY``, ``tags.KEY`` (quote odd keys with backticks:
``metrics.`val/loss```) or an attribute (``name``, ``status``, ``experiment``, ``user``,
``parent_id``). Ops: ``= != < <= > >= like``. Values: numbers, or strings in single or double
quotes. Ordering is ``FIELD [asc|desc]``, comma-separated.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Literal

from opsloop.domain.errors import InvalidInput

Kind = Literal["metric", "param", "tag", "attribute"]
ATTRIBUTES = ("name", "status", "experiment", "user", "parent_id", "start_time", "end_time")
TIME_ATTRIBUTES = ("start_time", "end_time")
OPS = ("=", "!=", "<", "<=", ">", ">=", "like")
_PREFIXES: dict[str, Kind] = {"metrics": "metric", "params": "param", "tags": "tag"}

_TOKEN = re.compile(
    r"""\s*(?:
        (?P<field>(?:metrics|params|tags)\.(?:`[^`]+`|[A-Za-z0-9_.\-/]+)|[A-Za-z_]+)
      | (?P<op><=|>=|!=|=|<|>)
      | (?P<number>-?\d+(?:\.\d*)?(?:[eE][-+]?\d+)?)
      | '(?P<single>[^']*)'
      | "(?P<double>[^"]*)"
    )""",
    re.VERBOSE,
)


@dataclass(frozen=True)
class Field:
    kind: Kind
    key: str


@dataclass(frozen=True)
class Clause:
    field: Field
    op: str
    value: float | str


@dataclass(frozen=True)
class Order:
    field: Field
    descending: bool


# Orderable but not in the API's search: the web UI's runs table sorts by duration.
TABLE_ORDER = ("duration",)
DURATION = Field("attribute", "duration")


def parse_field(text: str, where: str = "filter", also: tuple[str, ...] = ()) -> Field:
    """A search field; ``also`` names attributes allowed beyond ``ATTRIBUTES``."""
    prefix, dot, rest = text.partition(".")
    if dot and prefix in _PREFIXES:
        key = rest[1:-1] if rest.startswith("`") and rest.endswith("`") else rest
        if not key:
            raise InvalidInput(f"search field {text!r} has no key", field=where)
        return Field(_PREFIXES[prefix], key)
    if text.lower() in ATTRIBUTES + also:
        return Field("attribute", text.lower())
    raise InvalidInput(
        f"unknown search field {text!r}: use metrics.KEY, params.KEY, tags.KEY or one of "
        + ", ".join(ATTRIBUTES + also),
        field=where,
    )


def parse_filter(text: str | None) -> list[Clause]:
    if text is None or not text.strip():
        return []
    return [_parse_clause(part) for part in _split_outside_quotes(text.strip(), _AND)]


_AND = re.compile(r"\s+and\s+", re.IGNORECASE)
_COMMA = re.compile(r"\s*,\s*")


def _split_outside_quotes(text: str, separator: re.Pattern[str]) -> list[str]:
    """Split at ``separator`` where it is not inside '...', "..." or `...`."""
    parts: list[str] = []
    start = position = 0
    quote: str | None = None
    while position < len(text):
        char = text[position]
        if quote is not None:
            quote = None if char == quote else quote
        elif char in "'\"`":
            quote = char
        else:
            match = separator.match(text, position)
            if match is not None and match.end() > position:
                parts.append(text[start:position])
                start = position = match.end()
                continue
        position += 1
    parts.append(text[start:])
    return parts


def _parse_clause(text: str) -> Clause:
    tokens: list[tuple[str, str]] = []
    position = 0
    while position < len(text):
        if text[position:].strip() == "":
            break
        match = _TOKEN.match(text, position)
        if match is None or match.end() == position:
            raise InvalidInput(
                f"cannot read search clause {text!r} at {text[position:]!r}", field="filter"
            )
        kind = match.lastgroup or ""
        tokens.append((kind, match.group(kind)))
        position = match.end()
    if len(tokens) == 3 and tokens[1][0] == "field" and tokens[1][1].lower() == "like":
        tokens[1] = ("op", "like")
    if len(tokens) != 3 or tokens[0][0] != "field" or tokens[1][0] != "op":
        raise InvalidInput(
            f"search clause {text!r} must be FIELD OP VALUE, e.g. metrics.f1 > 0.8",
            field="filter",
        )
    field = parse_field(tokens[0][1])
    op = tokens[1][1].lower()
    value_kind, raw = tokens[2]
    value: float | str
    if value_kind == "number":
        value = float(raw)
    elif value_kind in ("single", "double"):
        value = raw
    else:
        raise InvalidInput(
            f"search clause {text!r}: {raw!r} is not a number or a quoted string", field="filter"
        )
    if field.kind == "attribute":
        value = _attribute_value(field.key, raw, value)
    if field.kind == "metric" and not isinstance(value, float):
        raise InvalidInput(f"metrics compare with numbers, not {raw!r}", field="filter")
    if field.kind in ("param", "tag") and isinstance(value, float):
        value = raw
    if op == "like" and not isinstance(value, str):
        raise InvalidInput("like takes a quoted pattern", field="filter")
    return Clause(field, op, value)


def _attribute_value(key: str, raw: str, value: float | str) -> float | str:
    """Times compare as epoch seconds (a number, or an ISO date or time, UTC unless it says
    otherwise); the other attributes are text and take a quoted string."""
    if key in TIME_ATTRIBUTES:
        if isinstance(value, float):
            return value
        try:
            moment = datetime.fromisoformat(value)
        except ValueError:
            raise InvalidInput(
                f"{key} takes epoch seconds or an ISO date such as '2026-11-01', not {raw!r}",
                field="filter",
            ) from None
        return (moment if moment.tzinfo else moment.replace(tzinfo=UTC)).timestamp()
    if isinstance(value, float):
        raise InvalidInput(f"{key} is text: quote the value ('{raw}')", field="filter")
    return value


def parse_order(text: str | None, also: tuple[str, ...] = ()) -> list[Order]:
    if text is None or not text.strip():
        return []
    orders = []
    for part in _split_outside_quotes(text.strip(), _COMMA):
        match = re.fullmatch(r"\s*(\S*`[^`]*`|\S+)(?:\s+(\S+))?\s*", part)
        if match is None:
            raise InvalidInput(f"order {part!r} must be FIELD [asc|desc]", field="order_by")
        direction = (match.group(2) or "asc").lower()
        if direction not in ("asc", "desc"):
            raise InvalidInput(
                f"order direction {match.group(2)!r} must be asc or desc", field="order_by"
            )
        orders.append(Order(parse_field(match.group(1), "order_by", also), direction == "desc"))
    return orders
