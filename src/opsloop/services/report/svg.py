"""The maturity map as a hand-written SVG: a row per stage, in the loop's order.

Each level has a colour, a mark (an empty, a half-filled or a filled circle on the loop's
line) and its name in words, so the map reads the same in grey print and to a screen reader.
No ids: the document can be inlined in a page next to another one.
"""

from __future__ import annotations

from xml.sax.saxutils import escape, quoteattr

from opsloop.domain.report import Level, Report, StageReport
from opsloop.services.report.text import MARKS, period, side_text, subject, who

WIDTH = 900
ROW = 40
TOP = 92
FONT = "system-ui, -apple-system, 'Segoe UI', Roboto, sans-serif"
MAX_NOTE = 44

# fill, stroke, text colour
COLOURS = {
    Level.NOT_HANDLED: ("#f1f2f5", "#8a94a6", "#4b5563"),
    Level.MANUAL: ("#fff3dc", "#a45f00", "#7a4600"),
    Level.AUTOMATED: ("#e4f5ec", "#16794c", "#0f5a38"),
}
# The marks for the same levels (the terminal and the page draw them too).


def maturity_map(report: Report) -> str:
    height = TOP + ROW * len(report.stages) + 24
    parts = [
        f'<svg xmlns="http://www.w3.org/2000/svg" width="{WIDTH}" height="{height}" '
        f'viewBox="0 0 {WIDTH} {height}" role="img" aria-label={quoteattr(_summary(report))} '
        f'font-family="{FONT}" font-size="14">',
        f"<title>{escape(_summary(report))}</title>",
        f'<rect x="0" y="0" width="{WIDTH}" height="{height}" rx="10" fill="#ffffff" '
        'stroke="#e3e6ec"/>',
        f'<text x="24" y="34" font-size="18" font-weight="700" fill="#1d2330">'
        f"{escape(_heading(report))}</text>",
        f'<text x="24" y="56" fill="#6b7280">{escape(period(report))}</text>',
        *_legend(),
        *_columns(),
    ]
    first = TOP + ROW // 2
    last = TOP + ROW * (len(report.stages) - 1) + ROW // 2
    parts.append(
        f'<line x1="34" y1="{first}" x2="34" y2="{last}" stroke="#c9ced8" stroke-width="2"/>'
    )
    for index, row in enumerate(report.stages):
        parts.extend(_row(row, TOP + ROW * index))
    parts.append("</svg>")
    return "\n".join(parts) + "\n"


def _heading(report: Report) -> str:
    return f"Maturity map — {subject(report)}"


def _summary(report: Report) -> str:
    levels = "; ".join(f"{row.label}: {row.level.value}" for row in report.stages)
    return f"{_heading(report)}. {levels}."


def _legend() -> list[str]:
    parts = []
    x = 520
    for level in (Level.NOT_HANDLED, Level.MANUAL, Level.AUTOMATED):
        parts.extend(_mark(level, x, 50, 7))
        parts.append(f'<text x="{x + 12}" y="55" fill="#1d2330">{escape(level.value)}</text>')
        x += 22 + 8 * len(level.value) + 24
    return parts


def _columns() -> list[str]:
    y = TOP - 8
    style = 'font-size="12" fill="#6b7280" font-weight="600"'
    return [
        f'<text x="56" y="{y}" {style}>STAGE</text>',
        f'<text x="236" y="{y}" {style}>LEVEL</text>',
        f'<text x="396" y="{y}" {style}>WHO DID IT</text>',
        f'<text x="686" y="{y}" {style}>HOURS PER MONTH</text>',
    ]


def _row(row: StageReport, top: int) -> list[str]:
    fill, stroke, ink = COLOURS[row.level]
    middle = top + ROW // 2
    dashed = ' stroke-dasharray="4 3"' if row.level is Level.NOT_HANDLED else ""
    parts = [
        f"<g aria-label={quoteattr(f'{row.label}: {row.level.value}')}>",
        f'<line x1="24" y1="{top + ROW}" x2="{WIDTH - 24}" y2="{top + ROW}" stroke="#eef0f3"/>',
        *_mark(row.level, 34, middle, 8),
        f'<text x="56" y="{middle + 5}" font-weight="600" fill="#1d2330">'
        f"{escape(row.label)}</text>",
        f'<rect x="230" y="{top + 8}" width="150" height="{ROW - 16}" rx="12" fill="{fill}" '
        f'stroke="{stroke}"{dashed}/>',
        f'<text x="305" y="{middle + 5}" text-anchor="middle" font-weight="700" fill="{ink}">'
        f"{escape(MARKS[row.level] + ' ' + row.level.value)}</text>",
        *_two_lines(396, middle, who(row), _short(row.note)),
        *_two_lines(686, middle, *_hours(row)),
        "</g>",
    ]
    return parts


def _two_lines(x: int, middle: int, first: str, second: str) -> list[str]:
    """A line of text, and a smaller grey one under it when there is one."""
    if not second:
        return [f'<text x="{x}" y="{middle + 5}" fill="#1d2330">{escape(first)}</text>']
    return [
        f'<text x="{x}" y="{middle - 2}" fill="#1d2330">{escape(first)}</text>',
        f'<text x="{x}" y="{middle + 13}" font-size="11.5" fill="#6b7280">{escape(second)}</text>',
    ]


def _hours(row: StageReport) -> tuple[str, str]:
    """(people's hours, machines' hours) as the map's two lines; one dash when nothing
    happened, ``not measured`` where something did but its time is not recorded."""
    people, machines = row.hours.people, row.hours.machines
    if people.occurrences == 0 and machines.occurrences == 0:
        return "—", ""
    return (
        f"people: {side_text(people, nothing='none')}",
        f"machines: {side_text(machines, nothing='none')}",
    )


def _short(text: str) -> str:
    return text if len(text) <= MAX_NOTE else text[: MAX_NOTE - 1] + "…"


def _mark(level: Level, x: int, y: int, radius: int) -> list[str]:
    """An empty, half-filled or filled circle: the level without its colour."""
    _fill, stroke, _ink = COLOURS[level]
    ring = (
        f'<circle cx="{x}" cy="{y}" r="{radius}" fill="#ffffff" stroke="{stroke}" '
        'stroke-width="2"/>'
    )
    if level is Level.NOT_HANDLED:
        return [ring]
    if level is Level.AUTOMATED:
        return [
            f'<circle cx="{x}" cy="{y}" r="{radius}" fill="{stroke}" stroke="{stroke}" '
            'stroke-width="2"/>'
        ]
    half = (
        f'<path d="M {x} {y - radius} A {radius} {radius} 0 0 0 {x} {y + radius} Z" '
        f'fill="{stroke}"/>'
    )
    return [ring, half]
