"""What a valid name looks like, and how model and dataset references are written.

Names end up in URLs, file paths and shell commands, so they are kept to a safe alphabet.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from opsloop.domain.errors import InvalidInput

NAME_PATTERN = re.compile(r"[A-Za-z0-9][A-Za-z0-9_.-]{0,127}")
KEY_PATTERN = re.compile(r"[A-Za-z0-9_][A-Za-z0-9_.\-/ ]{0,249}")
MAX_PARAM_VALUE = 6000
MAX_LABEL = 128
MAX_TAG_VALUE = 6000


def check_name(value: object, field: str) -> str:
    """``value`` if it is a valid entity name; else ``InvalidInput`` naming ``field``."""
    if not isinstance(value, str):
        raise InvalidInput(f"{field} must be a string", field=field)
    if not value:
        raise InvalidInput(f"{field} must not be empty", field=field)
    if "/" in value or "\\" in value:
        raise InvalidInput(f"{field} {value!r} must not contain a path separator", field=field)
    if value in {".", ".."} or not NAME_PATTERN.fullmatch(value):
        raise InvalidInput(
            f"{field} {value!r} must start with a letter or digit and hold only letters, "
            "digits, '_', '.', '-' (at most 128 characters)",
            field=field,
        )
    return value


def check_label(value: object, field: str) -> str:
    """Display names (a run's name): any printable text, 1 to 128 characters. Unlike entity
    names they never appear in paths or URLs; runs are addressed by id."""
    if not isinstance(value, str) or not value.strip():
        raise InvalidInput(f"{field} must be a non-empty string", field=field)
    if len(value) > MAX_LABEL or not value.isprintable():
        raise InvalidInput(
            f"{field} must be printable text of at most {MAX_LABEL} characters", field=field
        )
    return value


def check_key(value: object, field: str) -> str:
    """Keys of params, metrics and tags: a little wider than names ('/' groups, spaces)."""
    if not isinstance(value, str) or not value:
        raise InvalidInput(f"{field} must be a non-empty string", field=field)
    if not KEY_PATTERN.fullmatch(value) or ".." in value.split("/"):
        raise InvalidInput(
            f"{field} {value!r} must hold only letters, digits, '_', '.', '-', '/', ' ' "
            "(at most 250 characters)",
            field=field,
        )
    return value


MAX_VERSION = 2**31 - 1


def parse_version(text: str, field: str = "version") -> int:
    """A version number as written in a reference or a URL: ASCII digits, 1 to 2**31 - 1."""
    if not (text.isascii() and text.isdigit()) or not 1 <= int(text) <= MAX_VERSION:
        raise InvalidInput(
            f"{field} {text!r} must be a whole number from 1 to {MAX_VERSION}", field=field
        )
    return int(text)


def is_version(text: str) -> bool:
    return text.isascii() and text.isdigit()


@dataclass(frozen=True)
class ModelRef:
    """``project/model``, optionally pinned: ``@alias`` or ``/version`` (or ``@3``)."""

    project: str
    model: str
    version: int | None = None
    alias: str | None = None

    @property
    def full_name(self) -> str:
        return f"{self.project}/{self.model}"

    def __str__(self) -> str:
        if self.version is not None:
            return f"{self.full_name}@{self.version}"
        if self.alias is not None:
            return f"{self.full_name}@{self.alias}"
        return self.full_name


def parse_model_ref(text: str, field: str = "model") -> ModelRef:
    """Parse ``[models:/]project/model[@alias|@version|/version]``."""
    if not isinstance(text, str) or not text:
        raise InvalidInput(f"{field} must be written project/model[@alias|@version]", field=field)
    body = text.removeprefix("models:/")
    pin: str | None = None
    if "@" in body:
        body, pin = body.split("@", 1)
    parts = body.split("/")
    if len(parts) == 3 and pin is None:
        body, pin = "/".join(parts[:2]), parts[2]
        parts = parts[:2]
    if len(parts) != 2:
        raise InvalidInput(
            f"{field} {text!r} must be written project/model[@alias|@version]", field=field
        )
    project = check_name(parts[0], f"{field} project")
    model = check_name(parts[1], f"{field} name")
    if pin is None:
        return ModelRef(project, model)
    return pinned(project, model, pin, field, alias_field=f"{field} alias")


def pinned(
    project: str, model: str, pin: str, field: str = "version", alias_field: str | None = None
) -> ModelRef:
    """``project/model`` at ``pin``: a version number, or an alias (``latest`` included)."""
    if is_version(pin):
        return ModelRef(project, model, version=parse_version(pin, field))
    return ModelRef(project, model, alias=check_name(pin, alias_field or field))


@dataclass(frozen=True)
class DatasetRef:
    """``project/dataset``, optionally ``@version``."""

    project: str
    dataset: str
    version: int | None = None

    def __str__(self) -> str:
        pin = f"@{self.version}" if self.version is not None else ""
        return f"{self.project}/{self.dataset}{pin}"


def parse_dataset_ref(text: str, field: str = "dataset") -> DatasetRef:
    if not isinstance(text, str) or not text:
        raise InvalidInput(f"{field} must be written project/dataset[@version]", field=field)
    body, _, pin = text.partition("@")
    parts = body.split("/")
    if len(parts) != 2:
        raise InvalidInput(
            f"{field} {text!r} must be written project/dataset[@version]", field=field
        )
    project = check_name(parts[0], f"{field} project")
    dataset = check_name(parts[1], f"{field} name")
    if "@" not in text:
        return DatasetRef(project, dataset)
    return DatasetRef(project, dataset, parse_version(pin, field))


MAX_REQUEST_ID = 128


def check_request_id(value: object, field: str) -> str:
    """A prediction's request id: the key feedback joins on (the caller's, or made by us)."""
    if not isinstance(value, str) or not value or len(value) > MAX_REQUEST_ID:
        raise InvalidInput(
            f"{field} must be non-empty text of at most {MAX_REQUEST_ID} characters", field=field
        )
    return value
