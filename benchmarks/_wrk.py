"""Load generation for the serving benchmark: Debian's ``wrk`` (closed loop), and its output parsed.

``wrk`` keeps ``-c`` connections busy, each sending its next request when the last answer
came back, and with ``--latency`` prints a latency distribution. A POST needs a Lua script;
``run_wrk`` writes one. Any socket error or non-2xx/3xx answer makes a result invalid.
"""

from __future__ import annotations

import re
import shutil
import subprocess
import tempfile
from dataclasses import dataclass, field
from pathlib import Path

INSTALL_HINT = "install it with `apt-get install -y wrk` (Debian/Ubuntu)"

# wrk's own unit tables (src/units.c): times in us/ms/s/m/h, counts with k/M/G (base 1000).
_TIME_UNITS = {"us": 1e-6, "ms": 1e-3, "s": 1.0, "m": 60.0, "h": 3600.0}
_COUNT_UNITS = {"": 1.0, "k": 1e3, "M": 1e6, "G": 1e9, "T": 1e12}

_NUMBER = r"([0-9]+(?:\.[0-9]+)?)"
_PERCENTILE = re.compile(rf"^\s*{_NUMBER}%\s+{_NUMBER}\s*(us|ms|s|m|h)\s*$")
_LATENCY_STATS = re.compile(
    rf"^\s*Latency\s+{_NUMBER}\s*(us|ms|s|m|h)\s+{_NUMBER}\s*(us|ms|s|m|h)\s+"
    rf"{_NUMBER}\s*(us|ms|s|m|h)\s+"
)
_REQUESTS = re.compile(rf"^\s*([0-9]+) requests in {_NUMBER}\s*(us|ms|s|m|h)\b")
_RATE = re.compile(rf"^\s*Requests/sec:\s+{_NUMBER}\s*([kMGT]?)\s*$")
_SOCKET_ERRORS = re.compile(r"^\s*Socket errors:\s*(.+)$")
_NON_2XX = re.compile(r"^\s*Non-2xx or 3xx responses:\s*([0-9]+)\s*$")


class WrkOutputError(ValueError):
    """wrk's output lacks a figure the benchmark needs."""


def parse_time(value: str, unit: str) -> float:
    """Seconds from one of wrk's time figures, e.g. ``("520.00", "us")``."""
    try:
        return float(value) * _TIME_UNITS[unit]
    except (KeyError, ValueError) as exc:
        raise WrkOutputError(f"not a wrk time: {value!r} {unit!r}") from exc


def parse_count(value: str, unit: str = "") -> float:
    """A count from one of wrk's metric figures, e.g. ``("1.90", "k")`` -> 1900."""
    try:
        return float(value) * _COUNT_UNITS[unit]
    except (KeyError, ValueError) as exc:
        raise WrkOutputError(f"not a wrk count: {value!r} {unit!r}") from exc


@dataclass(frozen=True)
class WrkResult:
    """One wrk run's figures; times in seconds."""

    requests: int
    duration_s: float
    requests_per_s: float
    percentiles_s: dict[float, float]  # 50.0 -> median, 99.0 -> p99 ...
    latency_avg_s: float | None = None
    latency_max_s: float | None = None
    socket_errors: dict[str, int] = field(default_factory=dict)  # connect/read/write/timeout
    non_2xx: int = 0

    @property
    def median_s(self) -> float:
        return self.percentiles_s[50.0]

    @property
    def p99_s(self) -> float:
        return self.percentiles_s[99.0]

    @property
    def errors(self) -> int:
        return sum(self.socket_errors.values())

    @property
    def problems(self) -> list[str]:
        """Why the figures cannot be trusted; empty when they can."""
        out = []
        if self.requests == 0:
            out.append("no request completed")
        if self.non_2xx:
            out.append(f"{self.non_2xx:,} non-2xx/3xx responses")
        if self.errors:
            detail = ", ".join(f"{k} {v:,}" for k, v in self.socket_errors.items() if v)
            out.append(f"socket errors: {detail}")
        return out

    @property
    def valid(self) -> bool:
        return not self.problems

    def as_dict(self) -> dict[str, object]:
        return {
            "requests": self.requests,
            "duration_s": self.duration_s,
            "requests_per_s": self.requests_per_s,
            "percentiles_s": {f"{p:g}": s for p, s in self.percentiles_s.items()},
            "latency_avg_s": self.latency_avg_s,
            "latency_max_s": self.latency_max_s,
            "socket_errors": dict(self.socket_errors),
            "non_2xx": self.non_2xx,
            "valid": self.valid,
            "problems": self.problems,
        }


def _socket_errors(text: str) -> dict[str, int]:
    out = {}
    for part in text.split(","):
        m = re.fullmatch(r"\s*([a-z]+)\s+([0-9]+)\s*", part)
        if m is None:
            raise WrkOutputError(f"unreadable socket errors line: {text!r}")
        out[m.group(1)] = int(m.group(2))
    return out


def parse_wrk_output(text: str) -> WrkResult:
    """Parse what ``wrk --latency`` prints; raises WrkOutputError when a needed figure is missing.

    Needed: the request count and duration, ``Requests/sec``, and the 50% and 99% lines of
    the latency distribution. The socket-error and non-2xx lines appear only when non-zero.
    """
    requests: int | None = None
    duration_s: float | None = None
    rate: float | None = None
    avg_s = max_s = None
    percentiles: dict[float, float] = {}
    socket_errors: dict[str, int] = {}
    non_2xx = 0
    for line in text.splitlines():
        if m := _PERCENTILE.match(line):
            percentiles[float(m.group(1))] = parse_time(m.group(2), m.group(3))
        elif m := _LATENCY_STATS.match(line):
            avg_s = parse_time(m.group(1), m.group(2))
            max_s = parse_time(m.group(5), m.group(6))
        elif m := _REQUESTS.match(line):
            requests = int(m.group(1))
            duration_s = parse_time(m.group(2), m.group(3))
        elif m := _RATE.match(line):
            rate = parse_count(m.group(1), m.group(2))
        elif m := _SOCKET_ERRORS.match(line):
            socket_errors = _socket_errors(m.group(1))
        elif m := _NON_2XX.match(line):
            non_2xx = int(m.group(1))
    missing = [
        name
        for name, value in (
            ("'N requests in T' line", requests),
            ("'Requests/sec' line", rate),
            ("50% latency (run wrk with --latency)", percentiles.get(50.0)),
            ("99% latency (run wrk with --latency)", percentiles.get(99.0)),
        )
        if value is None
    ]
    if missing:
        raise WrkOutputError(f"wrk output lacks: {'; '.join(missing)}\n{text[-2000:]}")
    assert requests is not None and duration_s is not None and rate is not None
    return WrkResult(
        requests=requests,
        duration_s=duration_s,
        requests_per_s=rate,
        percentiles_s=percentiles,
        latency_avg_s=avg_s,
        latency_max_s=max_s,
        socket_errors=socket_errors,
        non_2xx=non_2xx,
    )


def lua_string(text: str) -> str:
    """``text`` as a double-quoted Lua string literal."""
    escaped = (
        text.replace("\\", "\\\\").replace('"', '\\"').replace("\n", "\\n").replace("\r", "\\r")
    )
    return f'"{escaped}"'


def post_script(body: str, content_type: str = "application/json") -> str:
    """A wrk Lua script that sends ``body`` as a POST on every request."""
    return (
        'wrk.method = "POST"\n'
        f'wrk.headers["Content-Type"] = {lua_string(content_type)}\n'
        f"wrk.body = {lua_string(body)}\n"
    )


def wrk_path() -> str:
    """Path of the ``wrk`` executable; RuntimeError with an install hint when missing."""
    path = shutil.which("wrk")
    if path is None:
        raise RuntimeError(f"`wrk` not found on PATH: {INSTALL_HINT}")
    return path


def wrk_version() -> str:
    """wrk's version line, e.g. ``wrk debian/4.1.0-3+b2 [epoll]``."""
    proc = subprocess.run([wrk_path(), "-v"], capture_output=True, text=True, check=False)
    first = (proc.stdout + proc.stderr).strip().splitlines()
    return first[0].split(" Copyright")[0].strip() if first else "wrk (unknown version)"


def run_wrk(
    url: str,
    body: str,
    *,
    threads: int,
    connections: int,
    duration_s: int,
    timeout_s: int = 30,
) -> tuple[WrkResult, str]:
    """POST ``body`` to ``url`` for ``duration_s`` seconds; returns the figures and wrk's output.

    ``timeout_s`` is wrk's per-request timeout: a slow answer should count in the latency
    figures, not vanish as a timeout error (wrk's default is 2 s).
    """
    if duration_s < 1:
        raise ValueError("wrk durations are whole seconds, at least 1")
    with tempfile.TemporaryDirectory(prefix="opsloop-wrk-") as tmp:
        script = Path(tmp) / "post.lua"
        script.write_text(post_script(body), encoding="utf-8")
        cmd = [
            wrk_path(),
            f"-t{threads}",
            f"-c{connections}",
            f"-d{duration_s}s",
            f"--timeout={timeout_s}s",
            "--latency",
            "-s",
            str(script),
            url,
        ]
        proc = subprocess.run(
            cmd,
            capture_output=True,
            text=True,
            timeout=duration_s + timeout_s + 60,
            check=False,
        )
    output = proc.stdout + proc.stderr
    if proc.returncode != 0:
        raise RuntimeError(f"wrk failed (exit {proc.returncode}): {' '.join(cmd)}\n{output}")
    return parse_wrk_output(output), output
