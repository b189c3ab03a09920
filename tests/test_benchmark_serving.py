"""The serving benchmark's pure helpers: wrk output parsing, the POST script, the bars."""

from __future__ import annotations

import argparse
import shutil
import sys
import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import ClassVar

import pytest

sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "benchmarks"))

import _wrk
import serving
from _wrk import WrkOutputError, WrkResult, parse_wrk_output

CLEAN = """\
Running 10s test @ http://127.0.0.1:37855/predict
  1 threads and 1 connections
  Thread Stats   Avg      Stdev     Max   +/- Stdev
    Latency     1.03ms  452.43us   8.24ms   97.70%
    Req/Sec     1.00k    88.03     1.08k    90.00%
  Latency Distribution
     50%  940.00us
     75%    1.06ms
     90%    1.13ms
     99%    3.00ms
  9992 requests in 10.00s, 1.37MB read
Requests/sec:    999.19
Transfer/sec:    140.21KB
"""

TROUBLED = """\
Running 1m test @ http://127.0.0.1:43765/invocations
  2 threads and 64 connections
  Thread Stats   Avg      Stdev     Max   +/- Stdev
    Latency   150.90ms   41.58ms    1.02s    79.47%
    Req/Sec   229.23     99.27   333.00     81.25%
  Latency Distribution
     50%  131.18ms
     75%  139.81ms
     90%  231.64ms
     99%    1.50s
  25020 requests in 1.00m, 3.48MB read
  Socket errors: connect 0, read 12, write 0, timeout 3
  Non-2xx or 3xx responses: 7
Requests/sec:    416.21
Transfer/sec:     59.26KB
"""


def test_clean_output_parses_with_units() -> None:
    result = parse_wrk_output(CLEAN)
    assert result.requests == 9992
    assert result.duration_s == pytest.approx(10.0)
    assert result.requests_per_s == pytest.approx(999.19)
    assert result.median_s == pytest.approx(940e-6)
    assert result.percentiles_s[75.0] == pytest.approx(1.06e-3)
    assert result.p99_s == pytest.approx(3.0e-3)
    assert result.latency_avg_s == pytest.approx(1.03e-3)
    assert result.latency_max_s == pytest.approx(8.24e-3)
    assert result.valid and result.problems == []


def test_errors_and_non_2xx_make_a_result_invalid() -> None:
    result = parse_wrk_output(TROUBLED)
    assert result.duration_s == pytest.approx(60.0)
    assert result.p99_s == pytest.approx(1.5)
    assert result.latency_max_s == pytest.approx(1.02)
    assert result.socket_errors == {"connect": 0, "read": 12, "write": 0, "timeout": 3}
    assert result.non_2xx == 7
    assert not result.valid
    assert result.problems == ["7 non-2xx/3xx responses", "socket errors: read 12, timeout 3"]


def test_no_request_is_invalid() -> None:
    text = CLEAN.replace("9992 requests", "0 requests")
    assert parse_wrk_output(text).problems == ["no request completed"]


@pytest.mark.parametrize(
    ("drop", "complaint"),
    [
        ("Requests/sec:", "'Requests/sec' line"),
        ("     50%", "50% latency"),
        ("     99%", "99% latency"),
        ("requests in", "'N requests in T' line"),
    ],
)
def test_missing_figures_raise(drop: str, complaint: str) -> None:
    text = "\n".join(line for line in CLEAN.splitlines() if drop not in line)
    with pytest.raises(WrkOutputError, match=complaint):
        parse_wrk_output(text)


def test_an_unreadable_socket_errors_line_raises() -> None:
    text = CLEAN.replace("Requests/sec:", "  Socket errors: connect zero\nRequests/sec:")
    with pytest.raises(WrkOutputError, match="socket errors"):
        parse_wrk_output(text)


@pytest.mark.parametrize(
    ("value", "unit", "seconds"),
    [("520.00", "us", 520e-6), ("1.50", "ms", 1.5e-3), ("2", "s", 2.0), ("1.00", "m", 60.0)],
)
def test_parse_time(value: str, unit: str, seconds: float) -> None:
    assert _wrk.parse_time(value, unit) == pytest.approx(seconds)


@pytest.mark.parametrize(
    ("text", "expected"),
    [('{"a": "b"}', '"{\\"a\\": \\"b\\"}"'), ("back\\slash\nline", '"back\\\\slash\\nline"')],
)
def test_lua_string_escapes(text: str, expected: str) -> None:
    assert _wrk.lua_string(text) == expected


class _Recorder(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"  # keep-alive, as wrk expects
    seen: ClassVar[list[tuple[str, str, str, bytes]]] = []

    def do_POST(self) -> None:
        body = self.rfile.read(int(self.headers["Content-Length"]))
        self.seen.append((self.command, self.path, self.headers["Content-Type"], body))
        status = 200 if self.path == "/predict" else 404
        self.send_response(status)
        self.send_header("Content-Length", "2")
        self.end_headers()
        self.wfile.write(b"{}")

    def log_message(self, *args: object) -> None:
        pass


@pytest.fixture
def recorder() -> Iterator[str]:
    _Recorder.seen.clear()
    server = ThreadingHTTPServer(("127.0.0.1", 0), _Recorder)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}"
    finally:
        server.shutdown()
        server.server_close()


@pytest.mark.skipif(shutil.which("wrk") is None, reason="needs wrk (apt-get install -y wrk)")
def test_run_wrk_posts_the_body_and_flags_non_2xx(recorder: str) -> None:
    body = serving.request_body([[1.5, -2.0, 3e-05]])
    ok, _ = _wrk.run_wrk(recorder + "/predict", body, threads=1, connections=1, duration_s=1)
    assert ok.valid and ok.requests > 0 and ok.requests_per_s > 0
    assert _Recorder.seen[0] == ("POST", "/predict", "application/json", body.encode())
    wrong, _ = _wrk.run_wrk(recorder + "/nope", body, threads=1, connections=1, duration_s=1)
    assert wrong.non_2xx == wrong.requests > 0
    assert not wrong.valid


@pytest.mark.parametrize(
    ("answer", "expected"),
    [
        ({"predictions": [0, 1]}, [0, 1]),  # MLflow and the minimal app
        (
            {"model": "bench/clf@1", "predictions": [{"id": "x", "prediction": 1, "scores": {}}]},
            [1],
        ),  # opsloop
    ],
)
def test_predictions_of_each_answer(answer: object, expected: list[int]) -> None:
    assert serving.predictions_of(answer) == expected


def test_predictions_of_rejects_an_answer_without_predictions() -> None:
    with pytest.raises(ValueError, match="no 'predictions'"):
        serving.predictions_of({"error_code": "BAD_REQUEST"})


def test_only_keeps_the_canonical_order_and_rejects_unknown_names() -> None:
    assert serving.parse_only("fastapi, mlflow") == ["mlflow", "fastapi"]
    with pytest.raises(argparse.ArgumentTypeError):
        serving.parse_only("mlflow,torchserve")


def _result(rate: float, median_s: float, p99_s: float, non_2xx: int = 0) -> WrkResult:
    return WrkResult(1000, 10.0, rate, {50.0: median_s, 99.0: p99_s}, non_2xx=non_2xx)


def _runs(ops_rate: float, ops_median: float, ops_p99: float, **kw: int) -> dict[str, object]:
    return {
        "opsloop": {"at1": _result(0, ops_median, 0), "at64": _result(ops_rate, 0, ops_p99, **kw)},
        "mlflow": {"at1": _result(0, 2e-3, 0), "at64": _result(800, 0, 0.75)},
        "fastapi": {"at1": _result(0, 1e-3, 0), "at64": _result(1800, 0, 0.2)},
    }


def test_bars_pass_and_fail_on_their_ratios() -> None:
    bars = serving.build_bars(_runs(2400, 1e-3, 0.25))  # 3x MLflow, = FastAPI, 3x better p99
    assert [(b.passed, round(b.ratio or 0, 2)) for b in bars] == [
        (True, 3.0),
        (True, 1.0),
        (True, 3.0),
    ]
    bars = serving.build_bars(_runs(2000, 1.1e-3, 0.3))
    assert [b.passed for b in bars] == [False, False, False]


def test_an_invalid_figure_gives_no_verdict() -> None:
    bars = serving.build_bars(_runs(5000, 0.5e-3, 0.01, non_2xx=3))
    assert [b.passed for b in bars] == [None, True, None]
    assert bars[0].why_missing == "opsloop @64 INVALID"


def test_a_missing_or_wrong_server_gives_no_verdict() -> None:
    runs = _runs(5000, 0.5e-3, 0.01)
    del runs["mlflow"]
    runs["fastapi"]["sanity"] = "predicted [0], expected [1]"  # type: ignore[index]
    bars = serving.build_bars(runs)
    assert [b.passed for b in bars] == [None, None, None]
    assert [b.why_missing for b in bars] == [
        "MLflow not measured",
        "minimal FastAPI predicted wrong",
        "MLflow not measured",
    ]
