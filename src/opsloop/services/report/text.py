"""The report in words, the same in the terminal, on the UI page and in the SVG map: what
it covers, its period, each level's mark, who performed a stage, hours per month."""

from __future__ import annotations

from opsloop.domain.report import Level, Report, SideHours, StageReport

MARKS = {Level.NOT_HANDLED: "○", Level.MANUAL: "◐", Level.AUTOMATED: "●"}


def subject(report: Report) -> str:
    """What the report covers: ``project mod · endpoint ep``, or ``every project``."""
    what = f"project {report.project}" if report.project else "every project"
    if report.endpoint:
        what += f" · endpoint {report.endpoint}"
    return what


def period(report: Report) -> str:
    since = report.since.strftime("%Y-%m-%d %H:%M")
    until = report.until.strftime("%Y-%m-%d %H:%M")
    return f"{since} → {until} UTC ({report.days:.3g} days, {report.events:,} events)"


def who(row: StageReport) -> str:
    if row.by_people == 0 and row.by_machines == 0:
        return "nothing recorded"
    return f"{row.by_people:,} by people, {row.by_machines:,} by machines"


def side_text(side: SideHours, nothing: str = "—") -> str:
    """One side's hours per month: ``nothing`` when it never happened, ``not measured`` when
    its time is not recorded."""
    if side.occurrences == 0:
        return nothing
    return "not measured" if side.hours_per_month is None else hours_text(side.hours_per_month)


def hours_text(hours: float) -> str:
    """Hours per month as the map and the terminal print them."""
    if hours == 0:
        return "0 h"
    if hours * 60 < 1:
        return "< 1 min"
    if hours < 0.1:
        return f"{hours * 60:.0f} min"
    return f"{hours:.1f} h" if hours < 100 else f"{hours:,.0f} h"
