"""Helpers for side-by-side benchmarks against peer tools (stdlib only).

Each peer (MLflow, ...) lives in its own virtualenv under ``<repo>/.bench-venvs/<name>``,
never in the project's own dependencies. A peer script runs inside that venv and prints
one JSON object as the last line of its stdout.
"""

from __future__ import annotations

import json
import os
import shutil
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.parse
import urllib.request
from pathlib import Path
from typing import Any

REPO_ROOT = Path(__file__).resolve().parent.parent
VENVS_DIR = REPO_ROOT / ".bench-venvs"
MARKER_NAME = ".opsloop-peer.json"
_TAIL_CHARS = 4000


def _tail(text: str | bytes | None, limit: int = _TAIL_CHARS) -> str:
    """Return the last ``limit`` characters of ``text``."""
    if text is None:
        return ""
    if isinstance(text, bytes):
        text = text.decode("utf-8", "replace")
    return text[-limit:]


def _venv_python(venv: Path) -> Path:
    """Path of the python executable inside ``venv``."""
    if os.name == "nt":
        return venv / "Scripts" / "python.exe"
    return venv / "bin" / "python"


def _marker_payload(requirements: list[str]) -> dict[str, Any]:
    """What the marker file records; a difference forces a rebuild."""
    return {
        "requirements": list(requirements),
        "python": list(sys.version_info[:3]),
    }


def _read_marker(path: Path) -> dict[str, Any] | None:
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None
    return data if isinstance(data, dict) else None


def peer_python(name: str, requirements: list[str]) -> Path:
    """Return the python of a cached virtualenv for peer ``name`` with ``requirements``.

    The venv is built once at ``<repo>/.bench-venvs/<name>``; a marker file holds the
    requirement list, so changing the list rebuilds it. Raises RuntimeError with pip's
    output tail if creation or installation fails.
    """
    if not name or "/" in name or "\\" in name or name.startswith("."):
        raise ValueError(f"invalid peer name: {name!r}")
    venv = VENVS_DIR / name
    python = _venv_python(venv)
    marker = venv / MARKER_NAME
    wanted = _marker_payload(requirements)
    if python.exists() and _read_marker(marker) == wanted:
        return python

    if venv.exists():
        shutil.rmtree(venv)
    VENVS_DIR.mkdir(parents=True, exist_ok=True)
    print(
        f"[bench] building peer venv {name!r}: {' '.join(requirements) or '(empty)'} ...",
        file=sys.stderr,
        flush=True,
    )
    started = time.perf_counter()
    env = dict(os.environ)
    env.pop("PYTHONPATH", None)
    env.pop("VIRTUAL_ENV", None)
    env["PIP_DISABLE_PIP_VERSION_CHECK"] = "1"
    env["PIP_NO_INPUT"] = "1"
    steps: list[list[str]] = [[sys.executable, "-m", "venv", str(venv)]]
    if requirements:
        steps.append([str(python), "-m", "pip", "install", *requirements])
    for cmd in steps:
        proc = subprocess.run(cmd, capture_output=True, text=True, env=env, check=False)
        if proc.returncode != 0:
            shutil.rmtree(venv, ignore_errors=True)
            raise RuntimeError(
                f"building peer venv {name!r} failed (exit {proc.returncode}): "
                f"{' '.join(cmd)}\n{_tail(proc.stdout + proc.stderr)}"
            )
    marker.write_text(json.dumps(wanted, indent=1), encoding="utf-8")
    print(
        f"[bench] peer venv {name!r} ready in {time.perf_counter() - started:.0f}s",
        file=sys.stderr,
        flush=True,
    )
    return python


def run_peer(python: Path, script: Path, *args: str, timeout: float = 1800) -> dict[str, Any]:
    """Run ``script`` with the peer ``python`` and return the JSON object on its last stdout line.

    Raises RuntimeError (with the stderr tail) on a non-zero exit, a timeout, or output
    whose last line is not a JSON object.
    """
    cmd = [str(python), str(script), *args]
    env = dict(os.environ)
    env.pop("PYTHONPATH", None)
    try:
        proc = subprocess.run(
            cmd,
            capture_output=True,
            text=True,
            timeout=timeout,
            env=env,
            check=False,
        )
    except subprocess.TimeoutExpired as exc:
        raise RuntimeError(
            f"peer script timed out after {timeout:g}s: {' '.join(cmd)}\n{_tail(exc.stderr)}"
        ) from exc
    if proc.returncode != 0:
        raise RuntimeError(
            f"peer script failed (exit {proc.returncode}): {' '.join(cmd)}\n{_tail(proc.stderr)}"
        )
    lines = [line for line in proc.stdout.splitlines() if line.strip()]
    try:
        result = json.loads(lines[-1]) if lines else None
    except ValueError:
        result = None
    if not isinstance(result, dict):
        raise RuntimeError(
            f"peer script printed no JSON object on its last line: {' '.join(cmd)}\n"
            f"stdout tail:\n{_tail(proc.stdout, 1000)}\nstderr tail:\n{_tail(proc.stderr)}"
        )
    return result


def free_port() -> int:
    """Return a TCP port on 127.0.0.1 that was free a moment ago."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


def wait_http(url: str, timeout: float = 60.0) -> None:
    """Poll ``url`` with HTTP GET until it answers (any HTTP status) or ``timeout`` passes.

    Only loopback hosts are allowed. Raises TimeoutError if nothing answered in time.
    """
    host = urllib.parse.urlsplit(url).hostname
    if host not in ("127.0.0.1", "localhost", "::1"):
        raise ValueError(f"wait_http only polls loopback URLs, got {url!r}")
    opener = urllib.request.build_opener(urllib.request.ProxyHandler({}))
    deadline = time.monotonic() + timeout
    last_error: Exception | None = None
    while True:
        try:
            with opener.open(url, timeout=5) as resp:
                resp.read()
            return
        except urllib.error.HTTPError:
            return  # the server answered, just not with 2xx
        except (urllib.error.URLError, OSError) as exc:
            last_error = exc
        if time.monotonic() >= deadline:
            raise TimeoutError(f"no HTTP answer from {url} within {timeout:g}s: {last_error}")
        time.sleep(0.1)


def fmt_s(seconds: float | None, ms_places: int = 1) -> str:
    """A duration for a results table: µs, ms (``ms_places`` decimals) or s."""
    if seconds is None:
        return "-"
    if seconds < 1e-3:
        return f"{seconds * 1e6:.0f} µs"
    if seconds < 1:
        return f"{seconds * 1e3:.{ms_places}f} ms"
    return f"{seconds:.2f} s"
