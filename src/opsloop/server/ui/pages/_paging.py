"""A page number read from a page's query string, the same way on every page."""

from __future__ import annotations

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
