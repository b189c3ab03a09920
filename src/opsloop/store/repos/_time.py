from __future__ import annotations

import time
from datetime import UTC, datetime


def now() -> float:
    return time.time()


def at(epoch: float) -> datetime:
    return datetime.fromtimestamp(epoch, UTC)


def at_or_none(epoch: float | None) -> datetime | None:
    return None if epoch is None else at(epoch)


def epoch_of(moment: datetime | float) -> float:
    """Epoch seconds of a time (naive means UTC) or of epoch seconds already."""
    if not isinstance(moment, datetime):
        return float(moment)
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=UTC)
    return moment.timestamp()


def epoch_or_none(moment: datetime | float | None) -> float | None:
    return None if moment is None else epoch_of(moment)
