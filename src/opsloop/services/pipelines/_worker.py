"""``python -m opsloop.services.pipelines._worker CALL RESULT``: one step attempt, isolated.

Reads the cloudpickled call from CALL, runs it as part of its pipeline run (so ``opsloop.*``
calls in the step act as the pipeline, on the run's store), and writes ``o`` + the cloudpickled
value, or ``e`` + the traceback, to RESULT (written beside it, then renamed: a worker killed
half way leaves no result, never half of one). Its stdout and stderr are the step's log.
"""

from __future__ import annotations

import os
import sys
from pathlib import Path


def main(call_path: str, result_path: str) -> int:
    import cloudpickle

    from opsloop.services.pipelines.context import scoped
    from opsloop.services.pipelines.executors import RESULT_ERROR, RESULT_OK, user_traceback

    outer = cloudpickle.loads(Path(call_path).read_bytes())
    # The caller's import path first, so the step's module imports here as it did there.
    sys.path[:0] = [entry for entry in outer["sys_path"] if entry not in sys.path]
    try:
        fn, args, kwargs, scope = cloudpickle.loads(outer["call"])
        with scoped(scope, None):
            value = fn(*args, **kwargs)
        result = RESULT_OK + cloudpickle.dumps(value)
    except KeyboardInterrupt:
        raise
    except BaseException as exc:  # SystemExit from step code is a failed step too
        result = RESULT_ERROR + user_traceback(exc).encode()
    sys.stdout.flush()
    sys.stderr.flush()
    partial = f"{result_path}.partial"
    with open(partial, "wb") as handle:
        handle.write(result)
    os.replace(partial, result_path)
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1], sys.argv[2]))
