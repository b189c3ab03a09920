"""Names and references: what users may type, and what is refused with the field to blame."""

from __future__ import annotations

import pytest

from opsloop.domain.errors import InvalidInput
from opsloop.domain.names import (
    DatasetRef,
    ModelRef,
    check_key,
    check_name,
    parse_dataset_ref,
    parse_model_ref,
)


@pytest.mark.parametrize(
    "name",
    ["a", "moderation", "Violation-Detector", "v1.2_final", "9lives", "a" * 128],
)
def test_valid_names_are_kept_as_given(name: str) -> None:
    assert check_name(name, "project") == name


@pytest.mark.parametrize(
    "name",
    [
        "",
        "a/b",
        "a\\b",
        "/abs",
        "..",
        ".",
        ".hidden",
        "-flag",
        "_private",
        " lead",
        "trail ",
        "two words",
        "a" * 129,
        "naïve",
        "semi;colon",
        "dollar$",
        "line\n",  # a trailing newline must not slip past the pattern's end anchor
        "tab\t",
        None,
        3,
    ],
)
def test_invalid_names_are_refused_naming_the_field(name: object) -> None:
    with pytest.raises(InvalidInput) as caught:
        check_name(name, "project")
    assert caught.value.field == "project"


@pytest.mark.parametrize(
    "key",
    ["loss", "val/loss", "train loss", "_private", "a.b-c", "eval/f1/macro", "x" * 250],
)
def test_valid_keys_are_kept_as_given(key: str) -> None:
    assert check_key(key, "metrics key") == key


@pytest.mark.parametrize(
    "key",
    [
        "",
        "..",
        "../etc",
        "a/../b",
        "a/..",
        "/abs",
        " lead",
        "-flag",
        "a\\b",
        "x" * 251,
        "loss\n",  # a trailing newline must not slip past the pattern's end anchor
        "tab\tkey",
        None,
        1.5,
    ],
)
def test_invalid_keys_are_refused_naming_the_field(key: object) -> None:
    with pytest.raises(InvalidInput) as caught:
        check_key(key, "metrics key")
    assert caught.value.field == "metrics key"


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("moderation/violation", ModelRef("moderation", "violation")),
        ("models:/moderation/violation", ModelRef("moderation", "violation")),
        ("moderation/violation@champion", ModelRef("moderation", "violation", alias="champion")),
        ("models:/p/m@challenger", ModelRef("p", "m", alias="challenger")),
        ("moderation/violation@3", ModelRef("moderation", "violation", version=3)),
        ("moderation/violation/3", ModelRef("moderation", "violation", version=3)),
        ("models:/p/m/12", ModelRef("p", "m", version=12)),
        ("p/m@latest", ModelRef("p", "m", alias="latest")),
    ],
)
def test_model_refs_parse(text: str, expected: ModelRef) -> None:
    assert parse_model_ref(text) == expected


@pytest.mark.parametrize(
    ("ref", "written"),
    [
        (ModelRef("p", "m"), "p/m"),
        (ModelRef("p", "m", version=3), "p/m@3"),
        (ModelRef("p", "m", alias="champion"), "p/m@champion"),
    ],
)
def test_model_refs_print_in_a_form_that_parses_back(ref: ModelRef, written: str) -> None:
    assert str(ref) == written
    assert parse_model_ref(written) == ref


@pytest.mark.parametrize(
    "text",
    [
        "",
        "violation",
        "models:/violation",
        "a/b/c/d",
        "/p/m",
        "p/m/",
        "p/m@",
        "p/m@a/b",
        "p/m@a@b",
        "p/../m",
        "../m",
        "p/m@..",
        "p/m@0",  # versions start at 1, as dataset references already insist
        "p/m@\u00b2",  # '²' is a str.isdigit() digit that int() cannot read: must be a 4xx
        "p/m@-1",
        "p /m",
    ],
)
def test_bad_model_refs_are_invalid_and_name_the_model_field(text: str) -> None:
    with pytest.raises(InvalidInput) as caught:
        parse_model_ref(text, field="model")
    assert caught.value.field is not None
    assert caught.value.field.startswith("model")


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("posts/train", DatasetRef("posts", "train")),
        ("posts/train@1", DatasetRef("posts", "train", 1)),
        ("posts/train@42", DatasetRef("posts", "train", 42)),
    ],
)
def test_dataset_refs_parse_and_print_back(text: str, expected: DatasetRef) -> None:
    assert parse_dataset_ref(text) == expected
    assert str(expected) == text


@pytest.mark.parametrize(
    "text",
    [
        "",
        "train",
        "a/b/c",
        "p/d@0",
        "p/d@-1",
        "p/d@x",
        "p/d@1.5",
        "p/d@",  # a pin with nothing after it must not silently mean "latest"
        "p/d@\u00b2",  # '²' is a str.isdigit() digit that int() cannot read: must be a 4xx
        "p/..",
        "../d",
        "p/d/3",
    ],
)
def test_bad_dataset_refs_are_invalid_and_name_the_field(text: str) -> None:
    with pytest.raises(InvalidInput) as caught:
        parse_dataset_ref(text, field="parents")
    assert caught.value.field is not None
    assert caught.value.field.startswith("parents")
