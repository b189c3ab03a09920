from __future__ import annotations

import time
from datetime import UTC, datetime


def now() -> float:
    return time.time()


def at(epoch: float) -> datetime:
    return datetime.fromtimestamp(epoch, UTC)


def at_or_none(epoch: float | None) -> datetime | None:
    return None if epoch is None else at(epoch)


def epoch_of(moment: datetime) -> float:
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=UTC)
    return moment.timestamp()
