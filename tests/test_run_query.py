"""The run search language: filters and orderings, and the errors that name what is wrong."""

from __future__ import annotations

import pytest

from opsloop.domain.errors import InvalidInput
from opsloop.domain.run_query import Clause, Field, Order, parse_filter, parse_order

F1 = Field("metric", "f1")


@pytest.mark.parametrize("text", [None, "", "   "])
def test_empty_filter_matches_everything(text: str | None) -> None:
    assert parse_filter(text) == []


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("metrics.f1 > 0.8", [Clause(F1, ">", 0.8)]),
        ("metrics.f1>0.8", [Clause(F1, ">", 0.8)]),
        ("  metrics.f1   >=   0.8  ", [Clause(F1, ">=", 0.8)]),
        ("metrics.f1 = 1", [Clause(F1, "=", 1.0)]),
        ("metrics.f1 != 1", [Clause(F1, "!=", 1.0)]),
        ("metrics.f1 < 1", [Clause(F1, "<", 1.0)]),
        ("metrics.f1 <= 1", [Clause(F1, "<=", 1.0)]),
        ("metrics.loss >= -1.5", [Clause(Field("metric", "loss"), ">=", -1.5)]),
        ("metrics.loss < 1e-3", [Clause(Field("metric", "loss"), "<", 0.001)]),
        ("metrics.loss < 2.5E2", [Clause(Field("metric", "loss"), "<", 250.0)]),
        ("metrics.val/loss < 2", [Clause(Field("metric", "val/loss"), "<", 2.0)]),
        ("metrics.`val/loss` < 2", [Clause(Field("metric", "val/loss"), "<", 2.0)]),
        ("metrics.`train loss` < 2", [Clause(Field("metric", "train loss"), "<", 2.0)]),
        ("metrics.`a=b` = 2", [Clause(Field("metric", "a=b"), "=", 2.0)]),
        # Params and tags are text: a number is compared as it was written.
        ("params.C = '1.0'", [Clause(Field("param", "C"), "=", "1.0")]),
        ("params.C = 1.0", [Clause(Field("param", "C"), "=", "1.0")]),
        ("params.C = 10", [Clause(Field("param", "C"), "=", "10")]),
        ('tags.team = "mod"', [Clause(Field("tag", "team"), "=", "mod")]),
        ("tags.note = ''", [Clause(Field("tag", "note"), "=", "")]),
        ("tags.`owner name` = 'ana'", [Clause(Field("tag", "owner name"), "=", "ana")]),
        ("name = 'rock and roll'", [Clause(Field("attribute", "name"), "=", "rock and roll")]),
        ("status = 'FINISHED'", [Clause(Field("attribute", "status"), "=", "FINISHED")]),
        ("STATUS = 'FAILED'", [Clause(Field("attribute", "status"), "=", "FAILED")]),
        ("parent_id = 'abc'", [Clause(Field("attribute", "parent_id"), "=", "abc")]),
        ("start_time > 5", [Clause(Field("attribute", "start_time"), ">", 5.0)]),
        ("name like 'r%'", [Clause(Field("attribute", "name"), "like", "r%")]),
        ("name LIKE 'r%'", [Clause(Field("attribute", "name"), "like", "r%")]),
        ('params.opt like "ad%"', [Clause(Field("param", "opt"), "like", "ad%")]),
        (
            "metrics.f1 > 0.8 and params.C = '1'",
            [Clause(F1, ">", 0.8), Clause(Field("param", "C"), "=", "1")],
        ),
        (
            "metrics.f1 > 0.8 AND tags.team != 'x' And user = 'ana'",
            [
                Clause(F1, ">", 0.8),
                Clause(Field("tag", "team"), "!=", "x"),
                Clause(Field("attribute", "user"), "=", "ana"),
            ],
        ),
        ("tags.brand = 'andor'", [Clause(Field("tag", "brand"), "=", "andor")]),
    ],
)
def test_filters_parse_to_clauses(text: str, expected: list[Clause]) -> None:
    assert parse_filter(text) == expected


@pytest.mark.parametrize(
    "text",
    [
        "metrics.f1 >",
        "metrics.f1 0.8",
        "> 0.8",
        "= 1",
        "bogus = 1",
        "metrics. > 1",
        "metrics.`` > 1",
        "metrics.f1 = 'high'",
        "metrics.f1 like '%'",
        "metrics.f1 ~ 3",
        "metrics.f1 == 3",
        "name like 3",
        "name = unquoted",
        "name = 'unterminated",
        "metrics.f1 > 0.8 or name = 'x'",
        "metrics.f1 > 0.8 and",
        "and metrics.f1 > 0.8",
        "metrics.f1 > 0.8 and and name = 'x'",
        "metrics.f1 > 0.8x",
        "metrics.f1 > 1 2",
    ],
)
def test_bad_filters_are_invalid_and_name_the_filter(text: str) -> None:
    with pytest.raises(InvalidInput) as caught:
        parse_filter(text)
    assert caught.value.field == "filter"


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        (None, []),
        ("", []),
        ("metrics.f1", [Order(F1, False)]),
        ("metrics.f1 asc", [Order(F1, False)]),
        ("metrics.f1 desc", [Order(F1, True)]),
        ("metrics.f1 DESC", [Order(F1, True)]),
        ("start_time desc", [Order(Field("attribute", "start_time"), True)]),
        ("Name", [Order(Field("attribute", "name"), False)]),
        ("params.C asc", [Order(Field("param", "C"), False)]),
        ("metrics.`val/loss` desc", [Order(Field("metric", "val/loss"), True)]),
        ("metrics.`train loss` desc", [Order(Field("metric", "train loss"), True)]),
        (
            "metrics.f1 desc, name asc,tags.team",
            [
                Order(F1, True),
                Order(Field("attribute", "name"), False),
                Order(Field("tag", "team"), False),
            ],
        ),
    ],
)
def test_orderings_parse(text: str | None, expected: list[Order]) -> None:
    assert parse_order(text) == expected


@pytest.mark.parametrize(
    "text",
    [
        "metrics.f1 sideways",
        "metrics.f1 desc extra",
        "metrics.f1,,name",
        "metrics.f1 desc,",
        "bogus desc",
        "metrics. desc",
        "desc metrics.f1",
    ],
)
def test_bad_orderings_are_invalid_and_name_order_by(text: str) -> None:
    with pytest.raises(InvalidInput) as caught:
        parse_order(text)
    assert caught.value.field == "order_by"


def test_duration_orders_the_ui_table_but_is_no_search_field() -> None:
    from opsloop.domain.run_query import DURATION, TABLE_ORDER

    assert parse_order("duration desc, name", TABLE_ORDER) == [
        Order(DURATION, True),
        Order(Field("attribute", "name"), False),
    ]
    with pytest.raises(InvalidInput, match="unknown search field 'duration'"):
        parse_order("duration desc")  # the API's search does not take it
