"""The Monitoring pages without a browser: every monitor's newest window, one monitor's drift,
accuracy, label coverage and alerts over a period, bad periods refused, the resolve button
only for deployers; and the reads behind them on SQLite and PostgreSQL."""

from __future__ import annotations

import html
import json
import math
import re
import time
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import httpx
import pytest

from opsloop.domain.entities import Actor
from opsloop.domain.monitoring import Monitor, MonitorConfig, MonitorValue
from opsloop.domain.settings import Settings
from opsloop.sdk.client import Client
from opsloop.sdk.datasets import log_dataset
from opsloop.sdk.models import register_model
from opsloop.sdk.monitoring import run_monitor, set_monitor
from opsloop.server.app import create_app
from opsloop.server.ui.pages.monitoring import drift_of, label_drift_of, live_figure, score
from opsloop.services.monitoring.history import MonitorHistory
from opsloop.services.platform import Platform
from opsloop.store.repos.monitors import DriftBucket

from ._asgi import SyncASGITransport
from .test_monitoring_service import posts, spam_model

HOUR = 3600.0
WINDOWS = 12  # hours of traffic, ending at the last closed hour
DRIFTED_FROM = 8  # windows 8..11 carry shifted ``links``
LABELLED_UNTIL = 6  # windows 0..5 have 40 labels each, the others 5 (too few)
POLICY = """\
window: 1h
target: spam
drift:
  test: {numeric: ks, categorical: chi2}
  thresholds: {p_value: 0.01}
alerts:
  - {name: drift, when: "drift.share_drifted > 0.2", severity: critical, action: rollback}
notify: [log]
"""


def seed(home: Path) -> dict[str, Any]:
    """``moderation`` (monitored, 12 hourly windows, the last four with ``links`` shifted,
    its drift alert open after a rollback that failed), ``fresh`` (a monitor that has
    computed nothing yet) and ``unwatched`` (no monitor)."""
    client = Client(Settings.load(environ={}, home=home, actor="seeder"))
    try:
        platform: Platform = client._transport.app.state.platform  # type: ignore[attr-defined]
        model, frame, spam = spam_model()
        data = log_dataset(client, frame.assign(spam=spam), "posts", project="mod")
        run = client.create_run(project="mod", name="train")
        client.add_run_input(run.id, data.ref)
        version = register_model(
            client, model, "mod/violation", input_example=frame.head(), run_id=run.id
        )
        client.deploy("moderation", version.ref, force=True, reason="first")
        client.deploy("unwatched", version.ref, force=True, reason="no monitor")
        client.deploy("fresh", version.ref, force=True, reason="monitored, nothing served")
        set_monitor(client, "fresh", "window: 1h\n")
        last_closed = math.floor(time.time() / HOUR) * HOUR
        first = last_closed - WINDOWS * HOUR
        for window in range(WINDOWS):
            shift = 3.0 if window >= DRIFTED_FROM else 0.0
            rows, truth = posts(60, seed=100 + window, shift=shift)
            labelled = 40 if window < LABELLED_UNTIL else 5
            log_window(platform, model, rows, truth, first + window * HOUR, labelled)
        set_monitor(client, "moderation", POLICY)
        run_monitor(client, "moderation")
        return {"first": first, "last_closed": last_closed}
    finally:
        client.close()


def log_window(
    platform: Platform, model: Any, rows: Any, truth: Any, start: float, labelled: int
) -> None:
    proba = model.predict_proba(rows)[:, 1]
    records = [
        {
            "request_id": f"r{start:.0f}-{i:04d}",
            "time": start + 30.0 * i,
            "endpoint": "moderation",
            "project": "mod",
            "model": "violation",
            "version": 1,
            "role": "primary",
            "deployment": 1,
            "inputs": row,
            "prediction": int(proba[i] >= 0.5),
            "score": float(proba[i]),
            "scores": {"0": 1 - float(proba[i]), "1": float(proba[i])},
            "latency_ms": 2.0,
        }
        for i, row in enumerate(rows.to_dict("records"))
    ]
    platform.predictions.append_predictions(records)
    platform.predictions.append_feedback(
        [
            {
                "request_id": records[i]["request_id"],
                "time": records[i]["time"] + 60.0,
                "endpoint": "moderation",
                "label": int(truth[i]),
                "source": "reviewer",
                "actor": "rita",
            }
            for i in range(labelled)
        ]
    )


@pytest.fixture(scope="module")
def world(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Any]:
    home = tmp_path_factory.mktemp("ui-monitoring") / "home"
    return {"home": home, **seed(home)}


@pytest.fixture
def visitor(world: dict[str, Any]) -> Iterator[tuple[httpx.Client, dict[str, str]]]:
    app = create_app(Settings.load(environ={}, home=world["home"], auth=True))
    platform = app.state.platform
    secrets = {
        role: platform.auth.create(role, Actor(name="root"), name=f"{role}-{time.time_ns()}").secret
        for role in ("viewer", "deployer")
    }
    with httpx.Client(transport=SyncASGITransport(app), base_url="http://testserver") as http:
        yield http, secrets
    platform.close()


def logged_in(visitor: tuple[httpx.Client, dict[str, str]], role: str) -> httpx.Client:
    http, secrets = visitor
    answer = http.post("/login", data={"token": secrets[role], "next": "/"})
    assert answer.status_code == 303
    return http


def figures(html: str, chart: str) -> Any:
    found = re.search(rf'<script type="application/json" id="{chart}">(.*?)</script>', html, re.S)
    assert found is not None, chart
    return json.loads(found.group(1))


def rows_of(html: str, table: str) -> list[str]:
    body = re.search(rf'<table class="grid" id="{table}">.*?<tbody>(.*?)</tbody>', html, re.S)
    assert body is not None, table
    return re.findall(r"<tr.*?</tr>", body.group(1), re.S)


def text(fragment: str) -> str:
    return " ".join(html.unescape(re.sub(r"<[^>]+>", " ", fragment)).split())


# -- the list --------------------------------------------------------------------------------


def test_the_list_shows_each_monitors_newest_window_and_who_has_none(
    visitor: tuple[httpx.Client, dict[str, str]], world: dict[str, Any]
) -> None:
    http = logged_in(visitor, "viewer")
    page = http.get("/ui/monitoring")
    assert page.status_code == 200
    assert page.headers["server-timing"].startswith("render;dur=")
    fresh, row = rows_of(page.text, "monitors")  # by endpoint name
    assert "no window computed yet" in text(fresh) and "moderation" not in text(fresh)
    shown = text(row)
    assert "moderation" in shown and "every 1h" in shown
    assert shown.split()[0] == "critical"  # the open drift alert
    assert "1 of 3" in shown and "links" in shown  # drifted features of the newest window
    assert "uncertain" in shown  # its 5 labels are fewer than min_labels
    assert "8.3% (5)" in shown  # label coverage, and the labels behind it
    newest_end = time.strftime("%H:%M", time.gmtime(world["last_closed"]))
    assert f"→ {newest_end} UTC" in shown
    assert re.search(r"\b60\b", shown)  # requests in the window
    unmonitored = page.text.split('id="unmonitored"')[1]
    assert "unwatched" in unmonitored
    assert "moderation" not in unmonitored and "fresh" not in unmonitored
    assert "opsloop monitor set unwatched" in unmonitored


# -- one monitor -----------------------------------------------------------------------------


def test_the_drifted_feature_comes_first_with_its_test_and_threshold(
    visitor: tuple[httpx.Client, dict[str, str]],
) -> None:
    http = logged_in(visitor, "viewer")
    page = http.get("/ui/monitoring/moderation")
    assert page.status_code == 200
    rows = rows_of(page.text, "features")
    names = [re.search(r'data-feature="([^"]+)"', row).group(1) for row in rows]  # type: ignore[union-attr]
    assert names == ["links", "lang", "num_char"]  # drifted first, then by name
    links = text(rows[0])
    assert "drifted" in links and "ks" in links and "0.01" in links  # test and cut-off
    assert "4 of 12" in links  # windows drifted in the period
    assert all("drifted" not in text(row).split()[1] for row in rows[1:])
    chart = figures(page.text, "drift-figures")
    assert [s["label"] for s in chart["series"]] == ["links", "lang", "num_char", "threshold"]
    assert len(chart["x"]) == WINDOWS
    links_scores = chart["series"][0]["values"]
    assert all(value > 1 for value in links_scores[DRIFTED_FROM:])  # past the threshold
    assert all(value < 1 for value in links_scores[:DRIFTED_FROM])
    assert set(chart["series"][-1]["values"]) == {1.0}


def test_accuracy_estimate_and_coverage_per_window_flag_too_few_labels(
    visitor: tuple[httpx.Client, dict[str, str]],
) -> None:
    http = logged_in(visitor, "viewer")
    page = http.get("/ui/monitoring/moderation?days=1")
    accuracy = figures(page.text, "performance-figures")
    assert [s["label"] for s in accuracy["series"]] == ["live (labels)", "estimated"]
    live, estimated = (s["values"] for s in accuracy["series"])
    assert len(live) == WINDOWS and all(0 <= v <= 1 for v in live + estimated)
    coverage = figures(page.text, "coverage-figures")["series"][0]["values"]
    labelled = [40 / 60] * LABELLED_UNTIL + [5 / 60] * (WINDOWS - LABELLED_UNTIL)
    assert coverage == pytest.approx(labelled, abs=1e-3)
    assert "6 of 12 windows with traffic had fewer than 30 labels" in text(page.text)
    windows = rows_of(page.text, "windows")
    assert len(windows) == WINDOWS  # newest first
    assert "too few labels" in windows[0] and "too few labels" not in windows[-1]
    assert text(windows[0]).split()[3:5] == ["60", "5"]  # requests, labels


def test_the_alert_shows_its_rule_value_and_what_each_action_did(
    visitor: tuple[httpx.Client, dict[str, str]],
) -> None:
    http = logged_in(visitor, "viewer")
    page = http.get("/ui/monitoring/moderation")
    alerts = text(page.text.split('id="alerts"')[1])
    assert "drift.share_drifted > 0.2" in alerts and "critical" in alerts and "firing" in alerts
    assert "0.333" in alerts  # the value that fired it
    assert "error · rollback" in alerts  # one deployment: nothing to roll back to
    assert "ok · notify log" in alerts
    assert "data-resolve" not in page.text and 'id="resolve"' not in page.text  # a viewer


def test_a_deployer_sees_the_resolve_button_and_the_api_resolves_with_the_reason(
    tmp_path: Path,
) -> None:
    home = tmp_path / "home"
    seed(home)
    app = create_app(Settings.load(environ={}, home=home, auth=True))
    secret = app.state.platform.auth.create("deployer", Actor(name="root"), name="dana").secret
    with httpx.Client(transport=SyncASGITransport(app), base_url="http://testserver") as http:
        http.post("/login", data={"token": secret, "next": "/"})
        page = http.get("/ui/monitoring/moderation")
        button = re.search(r'data-resolve="(\d+)" data-rule="drift"', page.text)
        assert button is not None and 'id="resolve"' in page.text
        done = http.post(
            f"/api/v1/alerts/{button.group(1)}/resolve",
            json={"reason": "retrained already"},
            headers={"X-Opsloop-CSRF": http.cookies["opsloop_csrf"]},
        )
        assert done.status_code == 200, done.text
        after = http.get("/ui/monitoring/moderation")
        alerts = text(after.text.split('id="alerts"')[1])
        assert "resolved" in alerts and "by dana: retrained already" in alerts
        assert "data-resolve" not in after.text  # nothing open to resolve
        _, listed = rows_of(http.get("/ui/monitoring").text, "monitors")
        assert text(listed).split()[0] == "ok"  # no open alert left
    app.state.platform.close()


@pytest.mark.parametrize("days", ["2", "week", "-7", "7.0", "", "²"])
def test_a_bad_period_is_a_page_naming_it(
    visitor: tuple[httpx.Client, dict[str, str]], days: str
) -> None:
    http = logged_in(visitor, "viewer")
    page = http.get("/ui/monitoring/moderation", params={"days": days})
    assert page.status_code == 422
    assert page.headers["content-type"].startswith("text/html")
    assert "days must be one of 1, 7, 30, 90" in page.text


def test_a_monitor_that_computed_nothing_yet_says_so(
    visitor: tuple[httpx.Client, dict[str, str]],
) -> None:
    http = logged_in(visitor, "viewer")
    page = http.get("/ui/monitoring/fresh?days=90")
    assert page.status_code == 200
    shown = text(page.text)
    assert "No drift in this period" in shown and "No window computed in this period" in shown
    assert "data-chart" not in page.text and "None." in shown  # no alerts either


@pytest.mark.parametrize(
    ("path", "words"),
    [
        ("/ui/monitoring/nothing", "endpoint &#39;nothing&#39; not found"),
        ("/ui/monitoring/unwatched", "has no monitor"),
    ],
)
def test_an_endpoint_without_a_monitor_is_a_404_page(
    visitor: tuple[httpx.Client, dict[str, str]], path: str, words: str
) -> None:
    http = logged_in(visitor, "viewer")
    page = http.get(path)
    assert page.status_code == 404 and words in page.text


def test_a_period_bounds_what_is_drawn(
    visitor: tuple[httpx.Client, dict[str, str]], world: dict[str, Any]
) -> None:
    http = logged_in(visitor, "viewer")
    week = figures(http.get("/ui/monitoring/moderation?days=7").text, "drift-figures")
    assert week["x"][0] == world["first"] + HOUR and week["x"][-1] == world["last_closed"]
    assert 'class="here" aria-current="page">7 days' in http.get("/ui/monitoring/moderation").text


def test_with_auth_off_the_local_user_may_resolve(world: dict[str, Any]) -> None:
    app = create_app(Settings.load(environ={}, home=world["home"], actor="local"))
    with httpx.Client(transport=SyncASGITransport(app), base_url="http://testserver") as http:
        page = http.get("/ui/monitoring/moderation")
        assert page.status_code == 200 and 'data-rule="drift"' in page.text
    app.state.platform.close()


# -- the score on one scale ------------------------------------------------------------------


@pytest.mark.parametrize(
    ("value", "threshold", "by_p_value", "drifted", "expected"),
    [
        (0.05, 0.05, True, False, 1.0),  # p at the cut-off
        (0.0025, 0.05, True, True, 2.0),  # p = cut-off squared
        (0.0, 0.05, True, True, 10.0),  # p = 0: drawn at the cap
        (0.3, 0.2, False, True, 1.5),  # distance / cut-off
        (9.0, 0.1, False, True, 10.0),  # far past it: capped
        (0.3, 0.0, False, True, 10.0),  # a zero cut-off: drifted or not
        (None, 0.05, True, None, None),  # no values in the window
    ],
)
def test_a_drift_score_is_one_at_the_threshold(
    value: float | None,
    threshold: float,
    by_p_value: bool,
    drifted: bool | None,
    expected: float | None,
) -> None:
    found = score(value, threshold, by_p_value, drifted)
    assert found == (None if expected is None else pytest.approx(expected))


@pytest.mark.parametrize(
    ("figures", "shown"),
    [
        ({"performance.accuracy": 0.9, "performance.mae": 2.0}, ("", 0.9)),
        ({"performance.accuracy": None, "performance.mae": 2.0}, ("MAE", 2.0)),
        ({"performance.ndcg_at_k": 0.4}, ("NDCG@k", 0.4)),
        ({"performance.mae": None, "performance.ndcg_at_k": None}, ("", None)),
        ({}, ("", None)),
    ],
)
def test_a_window_shows_accuracy_else_a_regressors_mae_else_a_rankings_ndcg(
    figures: dict[str, float | None], shown: tuple[str, float | None]
) -> None:
    assert live_figure(figures) == shown


def test_grouped_windows_draw_each_features_worst_and_the_newest_verdict_leads() -> None:
    """Two windows a group: a distance's largest and a test's smallest p-value each."""
    now = datetime.now(UTC)
    monitor = Monitor(
        endpoint="moderation",
        config=MonitorConfig.parse("window: 1h\n"),
        source="window: 1h\n",
        created_at=now,
        updated_at=now,
        updated_by="mona",
    )
    psi = {"test": "psi", "p_value": None, "threshold": 0.2, "drifted": False}
    ks = {"test": "ks", "p_value": 0.0025, "threshold": 0.05, "drifted": True}
    ks["statistics"] = {"ks": 0.4, "ks_p_value": 0.0025}

    def newest(metric: str, value: float, detail: dict[str, Any]) -> MonitorValue:
        start, end = datetime.fromtimestamp(4 * HOUR, UTC), datetime.fromtimestamp(5 * HOUR, UTC)
        return MonitorValue(
            metric=metric, window_start=start, window_end=end, value=value, detail=detail
        )

    history = MonitorHistory(
        monitor=monitor,
        since=0.0,
        group_s=int(2 * HOUR),
        values=[],
        drift=[  # groups 1 (windows ending 2h, 3h) and 2 (4h, 5h)
            DriftBucket(1, "drift.area", 0.3, None, 3 * HOUR),
            DriftBucket(1, "drift.bytes", 0.2, 0.5, 3 * HOUR),
            DriftBucket(2, "drift.area", 0.1, None, 5 * HOUR),
            DriftBucket(2, "drift.bytes", 0.4, 0.0025, 5 * HOUR),
        ],
        drifted={2 * HOUR: ["area"], 3 * HOUR: [], 4 * HOUR: [], 5 * HOUR: ["bytes"]},
        newest_drift=[newest("drift.area", 0.1, psi), newest("drift.bytes", 0.4, ks)],
    )
    features, chart = drift_of(history)
    assert [(f.name, f.drifted, f.test, f.drifted_windows, f.windows) for f in features] == [
        ("bytes", True, "ks", 1, 4),  # drifted in the newest window: first
        ("area", False, "psi", 1, 4),
    ]
    assert chart is not None and chart["x"] == [3 * HOUR, 5 * HOUR]
    scores = {line["label"]: line["values"] for line in chart["series"]}
    assert scores["area"] == [1.5, 0.5]  # 0.3 then 0.1 against 0.2
    assert scores["bytes"] == [pytest.approx(0.231, abs=1e-3), 2.0]  # log p / log 0.05
    assert scores["threshold"] == [1.0, 1.0]


# -- the reads behind the pages, on both stores ----------------------------------------------


def test_the_history_reads_verdicts_from_the_details_on_each_store(settings: Settings) -> None:
    from opsloop.store.repos import endpoints, monitors
    from opsloop.store.tables import monitor_values

    client = Client(settings)
    try:
        platform: Platform = client._transport.app.state.platform  # type: ignore[attr-defined]
        model, frame, _ = spam_model()
        version = register_model(client, model, "mod/violation", input_example=frame.head())
        client.deploy("moderation", version.ref, force=True, reason="test")
        set_monitor(client, "moderation", "window: 1h\n")
        psi = {"test": "psi", "p_value": None, "threshold": 0.2, "drifted": True}
        psi["statistics"] = {"psi": 0.5}
        chi2 = {"test": "chi2", "threshold": 0.05, "drifted": False}
        share = {"drifted": ["links"], "features": 2}
        label = {
            **psi,
            "drifted": False,
            "statistics": {"psi": 0.1},
            "compared": "grades",
            "unseen": {"4.5": 3},
        }

        def rows(end: float) -> list[tuple[str, float, Any]]:
            p_value = end / HOUR / 10  # 0.1, 0.2, 0.3: one per window
            lang = {
                **chi2,
                "p_value": p_value,
                "statistics": {"chi2": 1.0, "chi2_p_value": p_value},
            }
            return [
                ("drift.links", 0.5, psi),
                ("drift.lang", 1.0, lang),
                ("drift.share_drifted", 0.5, share),
                ("drift.label", 0.1, label),
                ("performance.accuracy", 0.75, None),
            ]

        with platform.db.begin() as conn:
            endpoint_id = endpoints.get_id(conn, "moderation")
            for end in (HOUR, 2 * HOUR, 3 * HOUR):
                conn.execute(
                    monitor_values.insert(),
                    [
                        {
                            "endpoint_id": endpoint_id,
                            "metric": metric,
                            "window_start": end - HOUR,
                            "window_end": end,
                            "value": value,
                            "detail": detail,
                            "computed_at": end + 5,
                        }
                        for metric, value, detail in rows(end)
                    ],
                )
            monitors.advance(conn, endpoint_id, 3 * HOUR)
        history = platform.monitoring.history(
            "moderation", ["performance.accuracy"], since=HOUR, max_windows=10, max_points=10
        )
        assert [(p.metric, p.window_end, p.value) for p in history.values] == [
            ("performance.accuracy", 2 * HOUR, 0.75),
            ("performance.accuracy", 3 * HOUR, 0.75),
        ]
        # One window a group; only lang's test decides by a p-value, read out of its detail.
        # The labels' drift is no feature's: not drawn with them, only shown as the newest.
        assert history.group_s == HOUR
        assert sorted(history.drift) == [
            (2, "drift.lang", 1.0, pytest.approx(0.2), 2 * HOUR),
            (2, "drift.links", 0.5, None, 2 * HOUR),
            (3, "drift.lang", 1.0, pytest.approx(0.3), 3 * HOUR),
            (3, "drift.links", 0.5, None, 3 * HOUR),
        ]
        assert history.drifted == {2 * HOUR: ["links"], 3 * HOUR: ["links"]}
        assert [(v.metric, v.window_end.timestamp()) for v in history.newest_drift] == [
            ("drift.label", 3 * HOUR),
            ("drift.lang", 3 * HOUR),
            ("drift.links", 3 * HOUR),
            ("drift.share_drifted", 3 * HOUR),
        ]
        shown = label_drift_of(history)
        assert shown is not None and (shown.compared, shown.unseen) == ("grades", {"4.5": 3})
        assert (shown.verdict.statistic, shown.verdict.drifted) == (0.1, False)
        # Fewer points than windows: three windows a group, the smallest p-value of each.
        grouped = platform.monitoring.history("moderation", [], 0.0, max_windows=10, max_points=1)
        assert grouped.group_s == 3 * HOUR
        lang = sorted(b for b in grouped.drift if b.metric == "drift.lang")
        assert lang == [
            (0, "drift.lang", 1.0, pytest.approx(0.1), 2 * HOUR),
            (1, "drift.lang", 1.0, pytest.approx(0.3), 3 * HOUR),
        ]
        # At most the newest max_windows windows.
        newest = platform.monitoring.history("moderation", [], 0.0, max_windows=1, max_points=10)
        assert {b.window_end for b in newest.drift} == {3 * HOUR}
        (value,) = platform.monitoring.newest_windows(["drift.share_drifted"])["moderation"]
        assert (value.window_end, value.detail, value.computed_at) == (
            3 * HOUR,
            share,
            3 * HOUR + 5,
        )
        # A newer window whose only drift is the labels' (no feature in the reference) is
        # still the newest drift shown.
        with platform.db.begin() as conn:
            conn.execute(
                monitor_values.insert(),
                {
                    "endpoint_id": endpoint_id,
                    "metric": "drift.label",
                    "window_start": 3 * HOUR,
                    "window_end": 4 * HOUR,
                    "value": 0.3,
                    "detail": {**label, "drifted": True},
                    "computed_at": 4 * HOUR + 5,
                },
            )
            monitors.advance(conn, endpoint_id, 4 * HOUR)
        later = platform.monitoring.history("moderation", [], 0.0, max_windows=10, max_points=10)
        assert [(v.metric, v.window_end.timestamp()) for v in later.newest_drift] == [
            ("drift.label", 4 * HOUR)
        ]
        assert {b.metric for b in later.drift} == {"drift.lang", "drift.links"}
        shown = label_drift_of(later)
        assert shown is not None and (shown.verdict.statistic, shown.verdict.drifted) == (0.3, True)
    finally:
        client.close()


def test_the_overview_shows_the_newest_window_of_each_monitor(
    visitor: tuple[httpx.Client, dict[str, str]], world: dict[str, Any]
) -> None:
    """The overview and the endpoints list read every monitor's newest window at once."""
    from opsloop.server.ui.render import number

    http = logged_in(visitor, "viewer")
    platform = Platform.open(Settings.load(environ={}, home=world["home"]))
    try:
        newest = {v.metric: v.value for v in platform.monitoring.values("moderation", limit=1)}
    finally:
        platform.close()
    for path in ("/", "/ui/endpoints"):
        row = next(r for r in http.get(path).text.split("<tr>") if ">moderation</a>" in r)
        cells = re.findall(r'<td class="num">\s*([^<\s]+)', row)
        expected = [newest["service.requests"], newest.get("service.latency_p99_ms")]
        assert cells[:2] == [number(value) for value in expected]
        assert number(newest["performance.accuracy"]) in row
        assert number(newest["estimated.accuracy"]) in row
        assert "no monitor" not in row
