"""A page number read from a page's query string, and checked against the last page, the
same way on every page."""

from __future__ import annotations

import math

from opsloop.domain.errors import InvalidInput

MAX_PAGE = 1_000_000


def page_number(text: str | None, field: str = "page") -> int:
    """A whole number from 1 to ``MAX_PAGE`` (absent or empty: 1); InvalidInput naming
    ``field`` otherwise. ASCII digits only: ``"²".isdigit()`` holds, but ``int`` refuses it."""
    if text is None or text == "":
        return 1
    if not (text.isascii() and text.isdigit() and len(text) <= 7) or not (
        1 <= int(text) <= MAX_PAGE
    ):
        raise InvalidInput(
            f"{field} must be a whole number from 1 to {MAX_PAGE:,}, not {text[:40]!r}",
            field=field,
        )
    return int(text)


def last_page(number: int, total: int, size: int, field: str = "page") -> int:
    """How many pages ``total`` rows fill, ``size`` a page (at least one); InvalidInput
    naming ``field`` when ``number`` is past the last."""
    pages = max(1, math.ceil(total / size))
    if number > pages:
        raise InvalidInput(f"{field} {number} is past the last page ({pages})", field=field)
    return pages
