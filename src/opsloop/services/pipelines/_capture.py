"""A step's output captured into its log: ``print``, ``sys.stderr`` and ``logging`` records.

Capture follows a context variable, not the process: ``sys.stdout`` and ``sys.stderr`` are
wrapped once by a stream that writes to the current step's log when there is one and to the
original stream otherwise, so steps of runs on other threads never mix their logs.
"""

from __future__ import annotations

import io
import logging
import sys
import threading
from collections import deque
from collections.abc import Iterator
from contextlib import contextmanager
from contextvars import ContextVar
from typing import Any

MAX_LOG_CHARS = 64_000
LOG_FORMAT = "%(asctime)s %(levelname)s %(name)s: %(message)s"


class BoundedLog:
    """Text that keeps its last ``limit`` characters and says how many it dropped."""

    def __init__(self, limit: int = MAX_LOG_CHARS) -> None:
        self.limit = limit
        self._parts: deque[str] = deque()
        self._size = 0
        self._dropped = 0
        self._lock = threading.Lock()

    def write(self, text: str) -> int:
        if not text:
            return 0
        with self._lock:
            self._parts.append(text)
            self._size += len(text)
            while self._size > self.limit:
                excess = self._size - self.limit
                first = self._parts[0]
                if len(first) <= excess:
                    self._parts.popleft()
                    cut = len(first)
                else:
                    self._parts[0] = first[excess:]
                    cut = excess
                self._size -= cut
                self._dropped += cut
        return len(text)

    def text(self) -> str:
        with self._lock:
            body = "".join(self._parts)
            if self._dropped:
                return f"[... {self._dropped} earlier characters dropped ...]\n{body}"
            return body


_current: ContextVar[BoundedLog | None] = ContextVar("opsloop_step_log", default=None)
_install_lock = threading.Lock()


class _RoutedStream(io.TextIOBase):
    """Writes to the current step's log, or to the stream it wraps outside a step."""

    def __init__(self, original: Any) -> None:
        self.original = original

    def write(self, text: str) -> int:
        log = _current.get()
        if log is not None:
            return log.write(text)
        return int(self.original.write(text))

    def flush(self) -> None:
        if _current.get() is None:
            self.original.flush()

    def isatty(self) -> bool:
        return _current.get() is None and bool(self.original.isatty())

    @property
    def encoding(self) -> str:  # type: ignore[override]
        return str(getattr(self.original, "encoding", "utf-8"))

    def fileno(self) -> int:
        return int(self.original.fileno())

    def __getattr__(self, name: str) -> Any:  # ``buffer``, ``errors``...: the wrapped stream's
        return getattr(self.original, name)


class _StepLogHandler(logging.Handler):
    def __init__(self) -> None:
        super().__init__()
        self.setFormatter(logging.Formatter(LOG_FORMAT))

    def emit(self, record: logging.LogRecord) -> None:
        log = _current.get()
        if log is not None:
            log.write(self.format(record) + "\n")
            return
        # Alone on the root logger we would silence Python's last-resort handler, which
        # prints warnings when logging is not configured: stand in for it.
        root = logging.getLogger()
        last_resort = logging.lastResort
        if root.handlers == [self] and last_resort and record.levelno >= last_resort.level:
            last_resort.handle(record)


_handler = _StepLogHandler()


def _install() -> None:
    with _install_lock:
        if not isinstance(sys.stdout, _RoutedStream):
            sys.stdout = _RoutedStream(sys.stdout)
        if not isinstance(sys.stderr, _RoutedStream):
            sys.stderr = _RoutedStream(sys.stderr)
        root = logging.getLogger()
        if _handler not in root.handlers:
            root.addHandler(_handler)


@contextmanager
def captured(log: BoundedLog) -> Iterator[None]:
    """Send this context's output to ``log`` for the block."""
    _install()
    token = _current.set(log)
    try:
        yield
    finally:
        _current.reset(token)
