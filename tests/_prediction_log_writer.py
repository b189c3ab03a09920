"""A stand-in for the inference server, run as a subprocess by tests/test_prediction_log.py.

``python _prediction_log_writer.py ROOT forever`` appends batches until killed and prints the
request ids of each batch once ``append_predictions`` has returned, as a server answers requests
only then. ``... ROOT BATCHES`` appends that many batches without compacting, prints ``ready``
and waits to be killed, leaving orphaned segments.
"""

from __future__ import annotations

import sys
import time
from datetime import UTC, datetime
from typing import Any

ENDPOINT = "moderation"
BASE_TIME = datetime(2026, 5, 9, 12, tzinfo=UTC).timestamp()
BATCH = 16


def prediction(
    request_id: str, *, at: float = BASE_TIME, endpoint: str = ENDPOINT, **changes: Any
) -> dict[str, Any]:
    record: dict[str, Any] = {
        "request_id": request_id,
        "time": at,
        "endpoint": endpoint,
        "project": "trust",
        "model": "violation",
        "version": 3,
        "role": "primary",
        "deployment": 7,
        "inputs": {"length": 120, "ratio": 0.25, "lang": "en", "flagged": False},
        "prediction": 1,
        "score": 0.91,
        "scores": {"0": 0.09, "1": 0.91},
        "latency_ms": 1.5,
    }
    record.update(changes)
    return record


def main(root: str, batches: str) -> None:
    from opsloop.store.prediction_log import PredictionLog

    # Forever: small, short-lived segments, so sealing and compaction run all the time and the
    # kill lands in the middle of any of them. Counted: nothing compacts; segments are orphaned.
    forever = batches == "forever"
    log = PredictionLog(
        root,
        segment_bytes=16 * 1024,
        segment_age_s=0.05 if forever else 3600.0,
        background=forever,
    )
    number = 0
    while forever or number < int(batches):
        ids = [f"{number:06d}-{i:02d}" for i in range(BATCH)]
        log.append_predictions([prediction(i, at=BASE_TIME + number) for i in ids])
        print(" ".join(ids), flush=True)
        number += 1
    print("ready", flush=True)
    time.sleep(3600)


if __name__ == "__main__":
    main(*sys.argv[1:3])
