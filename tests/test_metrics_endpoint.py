"""Request counters (per-second buckets and running totals) and ``GET /metrics``, scraped from
a real app after real predict and feedback calls."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import httpx
import pytest
from prometheus_client.parser import text_string_to_metric_families
from sqlalchemy.exc import OperationalError

from opsloop.domain.alerts import parse_rules
from opsloop.domain.errors import InvalidInput, NotFound
from opsloop.domain.settings import Settings
from opsloop.sdk.client import Client
from opsloop.sdk.models import register_model
from opsloop.services.serving.counters import LATENCY_BOUNDS, RequestCounters
from opsloop.store.repos import endpoints
from opsloop.store.tables import monitor_values

from ._asgi import SyncASGITransport
from ._models import spam_classifier

ROW = {"num_char": 12.0, "exclaim": 7, "links": 0.0}


class Clock:
    def __init__(self, now: float) -> None:
        self.now = now

    def __call__(self) -> float:
        return self.now


def test_counts_per_second() -> None:
    clock = Clock(1000.0)
    counters = RequestCounters(clock=clock)
    for moment, status in ((1000.2, 200), (1000.7, 200), (1001.1, 422), (1003.9, 503)):
        clock.now = moment
        counters.record("moderation", status, 0.002, rows=1)
    assert counters.window("moderation", 1000.0, 1004.0) == (4, 2)
    assert counters.window("moderation", 1000.0, 1001.0) == (2, 0)  # [start, end)
    assert counters.window("moderation", 1001.0, 1003.0) == (1, 1)
    assert counters.window("moderation", 1002.0, 1003.0) == (0, 0)  # known, no traffic


def test_no_record_is_none_not_zero() -> None:
    clock = Clock(1000.0)
    counters = RequestCounters(horizon_s=10, clock=clock)
    counters.record("moderation", 200, 0.001)
    assert counters.window("other", 990.0, 1001.0) is None  # never called here
    assert counters.window("moderation", 900.0, 1000.0) is None  # before counting began
    clock.now = 1020.0
    assert counters.window("moderation", 1000.0, 1021.0) is None  # older than the horizon
    assert counters.window("moderation", 1011.0, 1021.0) == (0, 0)


def test_memory_is_a_ring_old_seconds_are_overwritten() -> None:
    clock = Clock(1000.0)
    counters = RequestCounters(horizon_s=10, clock=clock)
    counters.record("moderation", 200, 0.001)
    clock.now = 1010.5  # the same slot of the ring, ten seconds on
    counters.record("moderation", 200, 0.001)
    counters.record("moderation", 500, 0.001)
    clock.now = 1012.0
    counters.record("moderation", 200, 0.001)  # moves second 1010 into the ring
    assert counters.window("moderation", 1010.0, 1011.0) == (2, 1)
    assert counters.window("moderation", 1002.0, 1013.0) == (3, 1)
    (totals,) = counters.totals()  # totals keep everything since the start
    assert totals.statuses == {200: 3, 500: 1}


def test_totals_for_a_scrape() -> None:
    clock = Clock(1000.0)
    counters = RequestCounters(clock=clock)
    for latency in (0.0005, 0.003, 0.003, 20.0):
        counters.record("moderation", 200, latency, rows=2)
    counters.record("moderation", 422, 0.01, route="feedback")
    predict, feedback = counters.totals()
    assert (predict.route, predict.statuses, predict.rows) == ("predict", {200: 4}, 8)
    assert predict.latency_sum_s == pytest.approx(20.0065)
    assert len(predict.latency_buckets) == len(LATENCY_BOUNDS) + 1
    assert predict.latency_buckets[0] == 1  # <= 1 ms
    assert predict.latency_buckets[LATENCY_BOUNDS.index(0.005)] == 2
    assert predict.latency_buckets[-1] == 1  # above the last bound
    assert (feedback.route, feedback.statuses, feedback.rows) == ("feedback", {422: 1}, 0)
    assert counters.window("moderation", 999.0, 1001.0) == (4, 0)  # feedback is apart


@pytest.fixture
def served(sqlite_settings: Settings) -> Iterator[Client]:
    """An embedded client whose app serves mod/violation@1 on ``moderation``."""
    client = Client(sqlite_settings)
    model, frame = spam_classifier()
    register_model(client, model, "mod/violation", input_example=frame.head())
    client.deploy("moderation", "mod/violation@1", force=True, reason="test")
    yield client
    client.close()


def scrape(client: Client) -> dict[str, Any]:
    """``/metrics`` parsed: family name -> {(sample name, labels...): value}."""
    text = client.request("GET", "/metrics", api=False).decode()
    families: dict[str, Any] = {}
    for family in text_string_to_metric_families(text):
        samples = families.setdefault(family.name, {})
        for sample in family.samples:
            key = (sample.name, *sorted(sample.labels.items()))
            samples[key] = sample.value
    return families


def test_metrics_count_real_requests(served: Client) -> None:
    served.predict("moderation", [ROW])
    served.predict("moderation", [ROW, ROW])
    answered = served.predict("moderation", [ROW])
    with pytest.raises(InvalidInput):
        served.predict("moderation", [])
    with pytest.raises(NotFound):
        served.predict("no-such-endpoint", [ROW])
    served.send_feedback("moderation", [{"id": answered["predictions"][0]["id"], "label": 1}])
    found = scrape(served)

    requests = found["opsloop_requests"]
    moderation = [("endpoint", "moderation")]

    def key(name: str, route: str, *labels: tuple[str, str]) -> tuple[Any, ...]:
        return (name, *sorted([*moderation, ("route", route), *labels]))

    assert requests[key("opsloop_requests_total", "predict", ("status", "200"))] == 3
    assert requests[key("opsloop_requests_total", "predict", ("status", "422"))] == 1
    assert requests[key("opsloop_requests_total", "feedback", ("status", "200"))] == 1
    # a made-up endpoint is not counted: any name can be made up
    assert all(("endpoint", "no-such-endpoint") not in k for k in requests)
    latency = found["opsloop_request_latency_seconds"]
    assert latency[key("opsloop_request_latency_seconds_count", "predict")] == 4
    assert latency[key("opsloop_request_latency_seconds_bucket", "predict", ("le", "+Inf"))] == 4
    assert latency[key("opsloop_request_latency_seconds_sum", "predict")] > 0
    logged = found["opsloop_predictions_logged"]
    assert logged[("opsloop_predictions_logged_total", *moderation)] == 4  # rows
    info = found["opsloop_endpoint_info"]
    assert info == {
        (
            "opsloop_endpoint_info",
            ("endpoint", "moderation"),
            ("model", "violation"),
            ("role", "primary"),
            ("version", "1"),
        ): 1.0
    }
    firing = found["opsloop_alerts_firing"]
    assert set(firing.values()) == {0.0} and len(firing) == 3  # one per severity
    assert "process_cpu_seconds" in found  # the process collector, on this app's registry


def test_metrics_show_open_alerts(served: Client) -> None:
    app: Any = served._transport.app  # type: ignore[attr-defined]
    platform = app.state.platform
    with platform.db.begin() as conn:
        conn.execute(
            monitor_values.insert().values(
                endpoint_id=endpoints.get_id(conn, "moderation"),
                metric="drift.share_drifted",
                window_start=0.0,
                window_end=3600.0,
                value=0.5,
                detail=None,
                computed_at=3600.0,
            )
        )
    rules = parse_rules(
        [{"name": "drift", "when": "drift.share_drifted > 0.3", "severity": "critical"}]
    )
    platform.alerts.evaluate("moderation", rules, [], 3660.0)
    firing = scrape(served)["opsloop_alerts_firing"]
    critical = ("opsloop_alerts_firing", ("endpoint", "moderation"), ("severity", "critical"))
    warning = ("opsloop_alerts_firing", ("endpoint", "moderation"), ("severity", "warning"))
    assert (firing[critical], firing[warning]) == (1.0, 0.0)


def test_apps_in_one_process_keep_their_own_metrics(served: Client, tmp_path: Any) -> None:
    other = Client(Settings.load(environ={}, home=tmp_path / "other", actor="tester"))
    try:
        served.predict("moderation", [ROW])
        first, second = scrape(served), scrape(other)
        assert first["opsloop_requests"]
        assert second["opsloop_requests"] == {}  # nothing was asked of it
        assert "opsloop_endpoint_info" in second
        app = other._transport.app  # type: ignore[attr-defined]
        with httpx.Client(transport=SyncASGITransport(app), base_url="http://t") as http:
            answer = http.get("/metrics")
        assert answer.headers["content-type"].startswith("text/plain; version=")
    finally:
        other.close()


def test_failed_calls_for_names_not_served_cost_no_memory(served: Client) -> None:
    """A made-up name is never a series of its own: a client error for it is not counted,
    a server error (here the store failing under the lookup) is counted under (unknown)."""
    served.predict("moderation", [ROW])
    db = served._transport.app.state.platform.db  # type: ignore[attr-defined]
    with db.begin() as conn:  # the store breaks: looking an endpoint up fails
        conn.exec_driver_sql("ALTER TABLE endpoints RENAME TO endpoints_away")
    try:
        # In process, the app's 500 comes back as the error itself.
        with pytest.raises(OperationalError, match="no such table: endpoints"):
            served.predict("made-up-during-outage", [ROW])
        served.predict("moderation", [ROW])  # the loaded endpoint still serves
    finally:
        with db.begin() as conn:
            conn.exec_driver_sql("ALTER TABLE endpoints_away RENAME TO endpoints")
    with pytest.raises(NotFound):
        served.predict("made-up", [ROW])
    requests = scrape(served)["opsloop_requests"]
    endpoints_seen = {dict(key[1:])["endpoint"] for key in requests}
    assert endpoints_seen == {"moderation", "(unknown)"}
    unknown = ("opsloop_requests_total", ("endpoint", "(unknown)"), ("route", "predict"))
    assert requests[(*unknown, ("status", "500"))] == 1
