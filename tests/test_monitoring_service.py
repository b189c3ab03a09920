"""Monitors over a real prediction log and store: windows, values and their re-runs, drift,
live and estimated performance, quality, canary traffic; SQLite and PostgreSQL where stored."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd
import pytest
from sklearn.compose import make_column_transformer
from sklearn.linear_model import LogisticRegression
from sklearn.pipeline import Pipeline, make_pipeline
from sklearn.preprocessing import OneHotEncoder

from opsloop.domain.entities import Actor, ActorKind, ModelVersion
from opsloop.domain.errors import InvalidInput, NotFound
from opsloop.domain.monitoring import WindowResult
from opsloop.domain.names import ModelRef
from opsloop.domain.settings import Settings
from opsloop.sdk.client import Client
from opsloop.sdk.datasets import log_dataset
from opsloop.sdk.models import register_model
from opsloop.services.monitoring import MonitorService
from opsloop.services.platform import Platform

HOUR = 3600.0
T0 = 1_779_998_400.0  # 2026-05-28 20:00 UTC, an hour boundary
ACTOR = Actor(name="mona")
BASIC = "window: 1h\ntarget: spam\n"


def posts(rows: int, seed: int, shift: float = 0.0, langs: tuple[str, ...] = ("en", "fr")) -> Any:
    """Posts and whether each is spam; the truth follows a logistic curve, so a logistic
    regression's scores are calibrated."""
    rng = np.random.default_rng(seed)
    frame = pd.DataFrame(
        {
            "num_char": rng.gamma(2.0, 5.0, rows),
            "links": rng.normal(shift, 1.0, rows),
            "lang": np.array(rng.choice(langs, rows), dtype=object),
        }
    ).astype({"lang": object})
    chance = 1 / (1 + np.exp(-(2.0 * frame["links"] - 0.05 * frame["num_char"])))
    return frame, (rng.uniform(0, 1, rows) < chance).astype(int).to_numpy()


def spam_model(seed: int = 0) -> tuple[Pipeline, Any, Any]:
    frame, spam = posts(3000, seed)
    encode = make_column_transformer(
        (OneHotEncoder(handle_unknown="ignore"), ["lang"]), remainder="passthrough"
    )
    return make_pipeline(encode, LogisticRegression()).fit(frame, spam), frame, spam


@dataclass
class World:
    client: Client
    platform: Platform
    model: Pipeline
    version: ModelVersion
    monitors: MonitorService

    def log(
        self,
        frame: Any,
        start: float,
        *,
        truth: Any = None,
        labelled: Any = (),
        role: str = "primary",
        version: int = 1,
        spacing: float = 1.0,
        prefix: str = "r",
    ) -> list[dict[str, Any]]:
        """Log ``frame`` as predictions from ``start`` on, and labels for rows ``labelled``."""
        proba = self.model.predict_proba(frame)[:, 1]
        records = []
        for i, row in enumerate(frame.to_dict("records")):
            records.append(
                {
                    "request_id": f"{prefix}{start:.0f}-{i:06d}",
                    "time": start + i * spacing,
                    "endpoint": "moderation",
                    "project": "mod",
                    "model": "violation",
                    "version": version,
                    "role": role,
                    "deployment": 1,
                    "inputs": row,
                    "prediction": int(proba[i] >= 0.5),
                    "score": float(proba[i]),
                    "scores": {"0": 1 - float(proba[i]), "1": float(proba[i])},
                    "latency_ms": 1.0 + i % 10,
                }
            )
        self.platform.predictions.append_predictions(records)
        feedback = [
            {
                "request_id": records[i]["request_id"],
                "time": records[i]["time"] + 120.0,
                "endpoint": "moderation",
                "label": int(truth[i]),
                "source": "reviewer",
                "actor": "rita",
            }
            for i in labelled
        ]
        if feedback:
            self.platform.predictions.append_feedback(feedback)
        return records

    def run(self, until: float, **options: Any) -> list[WindowResult]:
        return self.monitors.run("moderation", actor=ACTOR, until=until, **options)

    def series(self, metric: str) -> list[float | None]:
        return [v.value for v in self.monitors.values("moderation", metric=metric)]


def make_world(settings: Settings, *, with_run: bool = True, **service: Any) -> Iterator[World]:
    client = Client(settings)
    platform: Platform = client._transport.app.state.platform  # type: ignore[attr-defined]
    model, frame, spam = spam_model()
    run_id = None
    if with_run:
        data = log_dataset(client, frame.assign(spam=spam), "posts", project="mod")
        run = client.create_run(project="mod", name="train")
        client.add_run_input(run.id, data.ref)
        run_id = run.id
    version = register_model(
        client, model, "mod/violation", input_example=frame.head(), run_id=run_id
    )
    client.deploy("moderation", version.ref, force=True, reason="test")
    monitors = MonitorService(
        platform.db,
        platform.deployments,
        platform.registry,
        platform.datasets,
        platform.predictions,
        **service,
    )
    try:
        yield World(client, platform, model, version, monitors)
    finally:
        client.close()


@pytest.fixture
def world(settings: Settings) -> Iterator[World]:
    """SQLite and PostgreSQL: for what the store keeps."""
    yield from make_world(settings)


@pytest.fixture
def lite(sqlite_settings: Settings) -> Iterator[World]:
    """SQLite only: for what a pass computes."""
    yield from make_world(sqlite_settings)


# -- the policy ---------------------------------------------------------------------------


def test_configure_keeps_the_policy_and_records_who_set_it(world: World) -> None:
    monitors = world.monitors
    first = monitors.configure("moderation", BASIC, ACTOR)
    assert first.endpoint == "moderation" and first.config.window_s == HOUR
    assert first.source == BASIC and first.updated_by == "mona"
    assert monitors.get("moderation") == first
    world.log(posts(10, 1)[0], T0)
    world.run(T0 + HOUR)
    again = monitors.configure("moderation", "window: 30m\n", Actor(name="ola"))
    assert again.config.window == "30m" and again.updated_by == "ola"
    assert again.last_window_end is not None
    assert again.last_window_end.timestamp() == T0 + HOUR  # progress is kept
    found = world.client.events(subject="endpoint:moderation", kind="monitor.configured")
    assert [(e.actor, e.data["created"], e.data["window"]) for e in found] == [
        ("mona", True, "1h"),
        ("ola", False, "30m"),
    ]


def test_a_monitor_needs_an_endpoint_and_is_not_found_until_set(world: World) -> None:
    with pytest.raises(NotFound, match="endpoint 'nowhere' not found"):
        world.monitors.configure("nowhere", BASIC, ACTOR)
    with pytest.raises(NotFound, match="has no monitor") as caught:
        world.monitors.get("moderation")
    assert caught.value.field == "monitor"


@pytest.mark.parametrize(
    ("text", "words"),
    [
        ("window: 1h\nreference: mod/nothing@1\n", "monitor key 'reference' (line 2): dataset"),
        (
            "window: 1h\ndrift:\n  thresholds: {p_value: 2}\n",
            "monitor key 'drift.thresholds.p_value' (line 3): thresholds.p_value must be",
        ),
        (
            "window: 1h\ndrift:\n  thresholds:\n    hellinger: 0.1\n",
            "monitor key 'drift.thresholds.hellinger' (line 4): unknown drift threshold",
        ),
        ("window: 1h\ndrift:\n  test: kss\n", "monitor key 'drift.test' (line 3): unknown drift"),
        (
            "window: 1h\ndrift:\n  test: {categorical: ks}\n",
            "monitor key 'drift.test.categorical' (line 3): drift test 'ks' does not apply",
        ),
    ],
)
def test_configure_refuses_what_the_store_and_the_statistics_do_not_know(
    lite: World, text: str, words: str
) -> None:
    with pytest.raises(InvalidInput) as caught:
        lite.monitors.configure("moderation", text, ACTOR)
    assert caught.value.field == "monitor"
    assert words in caught.value.headline


# -- windows, values, re-runs ---------------------------------------------------------------


def test_each_closed_window_is_computed_once_and_a_rerun_replaces_its_values(world: World) -> None:
    world.monitors.configure("moderation", BASIC, ACTOR)
    frame, truth = posts(30, 2)
    for hour in range(3):
        world.log(frame, T0 + hour * HOUR + 600, truth=truth, labelled=range(0, 30, 3))
    done = world.run(T0 + 2.5 * HOUR)
    assert [w.window_end.timestamp() for w in done] == [T0 + HOUR, T0 + 2 * HOUR]
    assert world.run(T0 + 2.5 * HOUR) == []  # nothing new has closed
    later = world.run(T0 + 3 * HOUR)
    assert [w.window_start.timestamp() for w in later] == [T0 + 2 * HOUR]
    assert world.series("service.requests") == [30.0, 30.0, 30.0]
    assert world.monitors.get("moderation").last_window_end.timestamp() == T0 + 3 * HOUR

    # Late labels: the first window again, now with every row labelled.
    world.log(frame, T0 + 601, truth=truth, labelled=range(30), prefix="late")
    again = world.run(T0 + 3 * HOUR, since=T0 + 10)
    assert len(again) == 3
    assert world.series("service.requests") == [60.0, 30.0, 30.0]  # replaced, not added
    assert world.series("performance.labels") == [40.0, 10.0, 10.0]
    assert world.monitors.get("moderation").last_window_end.timestamp() == T0 + 3 * HOUR
    ran = world.client.events(subject="endpoint:moderation", kind="monitor.ran")
    assert [e.data["windows"] for e in ran] == [2, 1, 3]
    assert {e.actor for e in ran} == {"mona"}


def test_labels_that_come_late_make_their_windows_computed_again(world: World) -> None:
    world.monitors.configure("moderation", BASIC, ACTOR)
    frame, truth = posts(30, 2)
    logged = [world.log(frame, T0 + hour * HOUR + 600, prefix=f"h{hour}-") for hour in range(3)]
    assert len(world.run(T0 + 3 * HOUR)) == 3
    assert world.series("performance.labels") == [0.0, 0.0, 0.0]

    # Labels for the second hour's predictions arrive through the API, long after.
    late = [{"id": r["request_id"], "label": int(t)} for r, t in zip(logged[1], truth, strict=True)]
    world.client.send_feedback("moderation", late[:12])
    again = world.run(T0 + 3 * HOUR)  # an ordinary run: no window has closed, no since
    assert [w.window_start.timestamp() for w in again] == [T0 + HOUR, T0 + 2 * HOUR]
    assert world.series("performance.labels") == [0.0, 12.0, 0.0]
    assert world.run(T0 + 3 * HOUR) == []  # taken in once

    # The scheduler takes them in too, at most once per window length.
    world.client.send_feedback("moderation", late[12:])
    done = world.monitors.run_due(T0 + 3 * HOUR + 1)
    assert [w.window_start.timestamp() for w in done["moderation"]] == [T0 + HOUR, T0 + 2 * HOUR]
    assert world.series("performance.labels") == [0.0, 30.0, 0.0]
    world.client.send_feedback("moderation", late[:1])
    assert world.monitors.run_due(T0 + 3 * HOUR + 2) == {}  # too soon after the last
    assert list(world.monitors.run_due(T0 + 4 * HOUR + 2)) == ["moderation"]


def test_labels_for_windows_not_computed_yet_compute_nothing_again(world: World) -> None:
    world.monitors.configure("moderation", BASIC, ACTOR)
    frame, _ = posts(10, 2)
    world.log(frame, T0 + 600, prefix="a")
    later = world.log(frame, T0 + HOUR + 600, prefix="b")
    assert len(world.run(T0 + HOUR)) == 1
    world.client.send_feedback("moderation", [{"id": later[0]["request_id"], "label": 1}])
    assert world.run(T0 + HOUR) == []  # the labelled prediction's window is still open
    assert world.monitors.get("moderation").labels_seen_event is not None
    (second,) = world.run(T0 + 2 * HOUR)
    assert second.labels == 1


def test_the_first_run_starts_at_the_first_logged_prediction(world: World) -> None:
    world.monitors.configure("moderation", BASIC, ACTOR)
    assert world.run(T0 + 5 * HOUR) == []  # nothing logged yet
    world.log(posts(5, 3)[0], T0 + 2 * HOUR + 10)
    found = world.run(T0 + 4 * HOUR)
    assert [(w.window_start.timestamp(), w.requests) for w in found] == [
        (T0 + 2 * HOUR, 5),
        (T0 + 3 * HOUR, 0),
    ]
    assert found[1].values == {"service.requests": 0.0, "service.throughput_rps": 0.0}
    assert found[1].skipped["drift"] == "no predictions in the window"


def test_a_long_catch_up_computes_only_the_most_recent_windows(lite: World) -> None:
    from opsloop.services.monitoring.window import MAX_WINDOWS

    lite.monitors.configure("moderation", "window: 1m\n", ACTOR)
    lite.log(posts(3, 4)[0], T0 + 5)
    found = lite.run(T0 + (MAX_WINDOWS + 30) * 60.0, since=T0)
    assert len(found) == MAX_WINDOWS
    assert found[0].window_start.timestamp() == T0 + 30 * 60.0  # the oldest 30 are skipped
    assert sum(w.requests for w in found) == 0


def test_a_catch_up_over_days_reads_and_stores_a_day_at_a_time(world: World) -> None:
    world.monitors.configure("moderation", BASIC, ACTOR)
    day = 24 * HOUR
    for start in (T0, T0 + day, T0 + 2 * day):  # 20:00 on three days
        world.log(posts(6, 9)[0], start)
    found = world.run(T0 + 2 * day + HOUR)
    assert len(found) == 49
    assert sum(w.requests for w in found) == 18
    assert [w.requests for w in found if w.requests] == [6, 6, 6]
    ran = world.client.events(subject="endpoint:moderation", kind="monitor.ran")
    assert [e.data["windows"] for e in ran] == [4, 24, 21]  # 20:00-24:00, a day, 00:00-21:00


def test_until_never_passes_now(world: World) -> None:
    monitors = MonitorService(
        world.platform.db,
        world.platform.deployments,
        world.platform.registry,
        world.platform.datasets,
        world.platform.predictions,
        clock=lambda: T0 + 1.5 * HOUR,
    )
    monitors.configure("moderation", BASIC, ACTOR)
    world.log(posts(5, 3)[0], T0 + 10)
    world.log(posts(5, 4)[0], T0 + HOUR + 10)
    found = monitors.run("moderation", actor=ACTOR, until=T0 + 9 * HOUR)
    assert [w.window_end.timestamp() for w in found] == [T0 + HOUR]  # the second is still open


def test_values_by_metric_prefix_time_and_last_windows(world: World) -> None:
    world.monitors.configure("moderation", BASIC, ACTOR)
    for hour in range(4):
        world.log(posts(20, hour)[0], T0 + hour * HOUR)
    world.run(T0 + 4 * HOUR)
    values = world.monitors.values
    drift = values("moderation", prefix="drift.")
    assert {v.metric for v in drift} == {
        "drift.num_char",
        "drift.links",
        "drift.lang",
        "drift.prediction",
        "drift.share_drifted",
    }
    assert len(drift) == 4 * 5
    ends = [v.window_end.timestamp() for v in drift]
    assert ends == sorted(ends)  # oldest window first
    last_two = values("moderation", metric="service.requests", limit=2)
    assert [v.window_end.timestamp() for v in last_two] == [T0 + 3 * HOUR, T0 + 4 * HOUR]
    since = values("moderation", prefix="service.req", since=T0 + 2 * HOUR)
    assert [v.window_end.timestamp() for v in since] == [T0 + 3 * HOUR, T0 + 4 * HOUR]
    assert values("moderation", prefix="drift_") == []  # '_' is no wildcard
    with pytest.raises(InvalidInput) as caught:
        values("moderation", limit=0)
    assert caught.value.field == "limit"


def test_run_due_runs_the_monitors_whose_window_has_closed(world: World) -> None:
    world.monitors.configure("moderation", BASIC, ACTOR)
    assert world.monitors.run_due(T0 + 3 * HOUR) == {}  # nothing logged
    world.log(posts(5, 3)[0], T0 + 10)
    assert world.monitors.run_due(T0 + 0.5 * HOUR) == {}  # its window is still open
    done = world.monitors.run_due(T0 + HOUR + 1)
    assert [w.requests for w in done["moderation"]] == [5]
    assert world.monitors.run_due(T0 + 1.9 * HOUR) == {}
    assert list(world.monitors.run_due(T0 + 2 * HOUR + 1)) == ["moderation"]
    ran = world.client.events(subject="endpoint:moderation", kind="monitor.ran")
    assert {(e.actor, e.actor_kind) for e in ran} == {("monitor", ActorKind.MONITOR)}


# -- what a pass computes -------------------------------------------------------------------


def test_drift_is_flagged_on_shifted_traffic_and_not_on_unshifted(lite: World) -> None:
    lite.monitors.configure("moderation", BASIC, ACTOR)
    lite.log(posts(1500, 11)[0], T0, spacing=2.0)  # the training distribution
    lite.log(posts(1500, 12, shift=1.5)[0], T0 + HOUR, spacing=2.0)  # links moved
    calm, shifted = lite.run(T0 + 2 * HOUR)
    values = {v.metric: v for v in lite.monitors.values("moderation", prefix="drift.", limit=1)}
    assert calm.values["drift.share_drifted"] == 0.0
    assert shifted.values["drift.share_drifted"] == pytest.approx(1 / 3)
    assert values["drift.share_drifted"].detail["drifted"] == ["links"]
    assert values["drift.share_drifted"].detail["reference"] == "mod/posts@1"
    links = values["drift.links"].detail
    assert links["drifted"] is True and links["test"] == "wasserstein"
    assert shifted.values["drift.links"] == links["statistic"] > links["threshold"]
    assert values["drift.lang"].detail["drifted"] is False
    assert values["drift.prediction"].detail["drifted"] is True  # more links: more spam
    assert set(values["drift.prediction"].detail) >= {"score", "class"}
    calm_links = lite.monitors.values("moderation", metric="drift.links")[0]
    assert calm_links.detail["drifted"] is False


def test_a_baseline_window_of_the_log_is_a_reference(lite: World) -> None:
    lite.monitors.configure(
        "moderation",
        f"window: 1h\nbaseline:\n  since: {T0:.0f}\n  until: {T0 + HOUR:.0f}\ndrift:\n  test: ks\n",
        ACTOR,
    )
    lite.log(posts(800, 21)[0], T0, spacing=4.0)
    lite.log(posts(800, 22)[0], T0 + HOUR, spacing=4.0)
    lite.log(posts(800, 23, shift=1.0)[0], T0 + 2 * HOUR, spacing=4.0)
    _, calm, shifted = lite.run(T0 + 3 * HOUR)
    assert calm.values["drift.share_drifted"] == 0.0
    assert shifted.values["drift.share_drifted"] > 0
    (links,) = lite.monitors.values("moderation", metric="drift.links", limit=1)
    assert links.detail["test"] == "ks" and links.detail["drifted"] is True
    assert links.detail["p_value"] < 0.05
    lang = lite.monitors.values("moderation", metric="drift.lang", limit=1)[0].detail
    assert lang["test"] != "ks"  # ks does not apply to categories: the default decides


def test_label_coverage_and_the_uncertain_flag(lite: World) -> None:
    lite.monitors.configure("moderation", "window: 1h\nmin_labels: 40\n", ACTOR)
    frame, truth = posts(200, 31)
    many, few = range(0, 200, 4), range(0, 200, 20)  # 50 labels, then 10
    logged = lite.log(frame, T0, truth=truth, labelled=many)
    lite.log(frame, T0 + HOUR, truth=truth, labelled=few)
    first, second = lite.run(T0 + 2 * HOUR)
    assert (first.labels, first.uncertain, second.labels, second.uncertain) == (50, False, 10, True)
    assert lite.series("performance.label_coverage") == [0.25, 0.05]
    assert lite.series("performance.uncertain") == [0.0, 1.0]
    assert lite.series("performance.label_delay_s") == [120.0, 120.0]
    predicted = np.array([record["prediction"] for record in logged])
    rows = np.array(list(many))
    assert first.values["performance.accuracy"] == pytest.approx(
        np.mean(predicted[rows] == truth[rows])
    )
    (accuracy,) = lite.monitors.values("moderation", metric="performance.accuracy", limit=1)
    assert accuracy.detail == {"labels": 10, "uncertain": True}


def test_the_estimate_is_close_to_the_accuracy_labels_show_later(lite: World) -> None:
    lite.monitors.configure("moderation", BASIC, ACTOR)
    frame, truth = posts(3000, 41, shift=0.7)  # shifted inputs, the same relation to spam
    lite.log(frame, T0, truth=truth, labelled=range(3000), spacing=1.0)
    (window,) = lite.run(T0 + HOUR)
    assert window.values["estimated.accuracy"] == pytest.approx(
        window.values["performance.accuracy"], abs=0.03
    )
    assert window.values["estimated.f1"] == pytest.approx(window.values["performance.f1"], abs=0.04)
    (estimated,) = lite.monitors.values("moderation", metric="estimated.accuracy", limit=1)
    assert estimated.detail["realized"] == window.values["performance.accuracy"]
    assert estimated.detail["calibration_rows"] == 3000
    # No held-out data: the calibration is the training data's, and the detail says so.
    detail = estimated.detail
    assert (detail["calibrated_on"], detail["held_out"]) == ("mod/posts@1", False)


def test_quality_counts_in_a_window(lite: World) -> None:
    lite.monitors.configure("moderation", BASIC, ACTOR)
    frame = posts(10, 51)[0]
    frame.loc[0:1, "lang"] = "de"  # a language the training data never had
    frame.loc[2, "num_char"] = 10_000.0  # far above anything seen in training
    lite.log(frame, T0)
    odd = frame.head(2).to_dict("records")
    odd[0]["links"] = None  # missing
    odd[1]["links"] = "many"  # not a number: breaks the signature (double)
    lite.platform.predictions.append_predictions(
        [
            {
                "request_id": f"odd-{i}",
                "time": T0 + 100 + i,
                "endpoint": "moderation",
                "role": "primary",
                "inputs": row,
                "prediction": 0,
                "score": 0.1,
                "latency_ms": 1.0,
            }
            for i, row in enumerate(odd)
        ]
    )
    (window,) = lite.run(T0 + HOUR)
    assert window.values["quality.missing_share"] == pytest.approx(1 / 36)
    assert window.values["quality.schema_violations"] == 1.0
    assert window.values["quality.unseen_share"] == pytest.approx(4 / 12)
    numeric_cells = 12 + 12 - 2  # num_char, links less the missing one and the bad one
    assert window.values["quality.out_of_range_share"] == pytest.approx(1 / numeric_cells)
    (violations,) = lite.monitors.values("moderation", metric="quality.schema_violations")
    assert violations.detail == {"features": {"num_char": 0, "links": 1, "lang": 0}}


def test_canary_traffic_gets_its_own_prefixed_values(lite: World) -> None:
    canary = register_model(lite.client, lite.model, "mod/violation", input_example=posts(5, 0)[0])
    lite.client.deploy("moderation", canary.ref, canary=10, force=True, reason="test")
    lite.monitors.configure("moderation", BASIC, ACTOR)
    frame, truth = posts(60, 61)
    lite.log(frame, T0, truth=truth, labelled=range(60))
    records = lite.log(
        frame.head(20),
        T0 + 5,
        truth=truth,
        labelled=range(20),
        role="canary",
        version=2,
        prefix="c",
    )
    (window,) = lite.run(T0 + HOUR)
    assert window.values["service.requests"] == 60
    assert window.values["canary.service.requests"] == 20
    predicted = np.array([r["prediction"] for r in records])
    assert window.values["canary.performance.accuracy"] == pytest.approx(
        np.mean(predicted == truth[:20])
    )
    assert window.values["canary.performance.labels"] == 20
    assert window.values["canary.performance.uncertain"] == 1.0  # 20 < 30
    assert not any(name.startswith("canary.drift") for name in window.values)


def test_without_a_reference_drift_and_the_estimate_say_why(sqlite_settings: Settings) -> None:
    for world in make_world(sqlite_settings, with_run=False):
        world.monitors.configure("moderation", "window: 1h\n", ACTOR)
        frame, truth = posts(40, 71)
        world.log(frame, T0, truth=truth, labelled=range(40))
        (window,) = world.run(T0 + HOUR)
        assert not any(name.startswith(("drift.", "estimated.")) for name in window.values)
        assert "no reference" in window.skipped["drift"]
        assert window.values["performance.labels"] == 40
        assert window.values["quality.missing_share"] == 0.0
        assert "quality.out_of_range_share" not in window.values


class Alerts:
    def __init__(self) -> None:
        self.calls: list[tuple[str, list[Any], list[Any], float]] = []

    def evaluate(
        self, endpoint: str, rules: list[Any], notifiers: list[Any], now: float
    ) -> list[Any]:
        self.calls.append((endpoint, rules, notifiers, now))
        return []


class Counters:
    def window(self, endpoint: str, start: float, end: float) -> tuple[int, int] | None:
        return (40, 2) if start == T0 else None


def test_alerts_are_evaluated_after_a_pass_and_counters_give_the_error_rate(
    sqlite_settings: Settings,
) -> None:
    alerts = Alerts()
    for world in make_world(sqlite_settings, alerts=alerts, counters=Counters()):
        world.monitors.configure(
            "moderation",
            "window: 1h\nalerts:\n  - {name: drift, when: 'drift.share_drifted > 0.3'}\n"
            "notify: [log]\n",
            ACTOR,
        )
        world.log(posts(10, 81)[0], T0)
        world.log(posts(10, 82)[0], T0 + HOUR)
        first, second = world.run(T0 + 2 * HOUR)
        assert first.values["service.error_rate"] == 0.05
        assert "service.error_rate" not in second.values
        ((endpoint, rules, notifiers, _),) = alerts.calls
        assert endpoint == "moderation"
        assert [(r.name, r.metric, r.threshold) for r in rules] == [
            ("drift", "drift.share_drifted", 0.3)
        ]
        assert [n.kind for n in notifiers] == ["log"]


def test_a_regressor_gets_error_figures_and_number_drift(sqlite_settings: Settings) -> None:
    from sklearn.linear_model import LinearRegression

    client = Client(sqlite_settings)
    try:
        platform: Platform = client._transport.app.state.platform  # type: ignore[attr-defined]
        frame = posts(500, 91)[0][["num_char", "links"]]
        target = 2.0 * frame["links"] + 0.1 * frame["num_char"]
        model = LinearRegression().fit(frame, target)
        data = log_dataset(client, frame.assign(length=target), "lengths", project="mod")
        run = client.create_run(project="mod", name="fit")
        client.add_run_input(run.id, data.ref)
        version = register_model(client, model, "mod/length", input_example=frame, run_id=run.id)
        client.deploy("lengths", version.ref, force=True, reason="test")
        monitors = MonitorService(
            platform.db,
            platform.deployments,
            platform.registry,
            platform.datasets,
            platform.predictions,
        )
        monitors.configure("lengths", "window: 1h\nmin_labels: 5\n", ACTOR)
        live = posts(50, 92, shift=2.0)[0][["num_char", "links"]]
        guessed = model.predict(live)
        platform.predictions.append_predictions(
            [
                {
                    "request_id": f"q{i}",
                    "time": T0 + i,
                    "endpoint": "lengths",
                    "role": "primary",
                    "inputs": row,
                    "prediction": float(guessed[i]),
                    "latency_ms": 2.0,
                }
                for i, row in enumerate(live.to_dict("records"))
            ]
        )
        truth = guessed + np.where(np.arange(50) % 2 == 0, 1.0, -3.0)  # errors of 1 and 3
        platform.predictions.append_feedback(
            [
                {"request_id": f"q{i}", "time": T0 + 60, "endpoint": "lengths", "label": truth[i]}
                for i in range(10)
            ]
        )
        (window,) = monitors.run("lengths", actor=ACTOR, until=T0 + HOUR)
        assert window.values["performance.mae"] == pytest.approx(2.0)
        assert window.values["performance.rmse"] == pytest.approx(np.sqrt(5.0))
        assert "performance.accuracy" not in window.values
        assert window.values["drift.share_drifted"] == 0.5  # links moved, num_char did not
        (prediction,) = monitors.values("lengths", metric="drift.prediction")
        assert prediction.detail["prediction"]["kind"] == "numeric"
        assert prediction.detail["drifted"] is True
        assert window.skipped["estimate"] == "the model gives no class scores"
    finally:
        client.close()


def test_the_estimate_calibrates_on_held_out_data_when_there_is_some(
    sqlite_settings: Settings,
) -> None:
    """A forest fits its training data almost perfectly: calibrated there, it looks surer of
    itself than it is, and the estimate is optimistic. Calibrated on a holdout (here: the
    dataset of the version's newest evaluation), it comes close to what the labels show."""
    from sklearn.ensemble import RandomForestClassifier

    client = Client(sqlite_settings)
    platform: Platform = client._transport.app.state.platform  # type: ignore[attr-defined]
    try:
        frame, spam = posts(2000, 61)
        encode = make_column_transformer(
            (OneHotEncoder(handle_unknown="ignore"), ["lang"]), remainder="passthrough"
        )
        forest = RandomForestClassifier(n_estimators=40, random_state=0)
        model = make_pipeline(encode, forest).fit(frame, spam)
        data = log_dataset(client, frame.assign(spam=spam), "posts", project="mod")
        run = client.create_run(project="mod", name="train")
        client.add_run_input(run.id, data.ref)
        version = register_model(
            client, model, "mod/violation", input_example=frame.head(), run_id=run.id
        )
        client.deploy("moderation", version.ref, force=True, reason="test")
        monitors = MonitorService(
            platform.db,
            platform.deployments,
            platform.registry,
            platform.datasets,
            platform.predictions,
        )
        world = World(client, platform, model, version, monitors)
        monitors.configure("moderation", BASIC, ACTOR)
        live, truth = posts(3000, 62)
        world.log(live, T0, truth=truth, labelled=range(3000))

        (optimistic,) = world.run(T0 + HOUR)
        realized = optimistic.values["performance.accuracy"]
        assert optimistic.values["estimated.accuracy"] - realized > 0.1

        holdout, held_spam = posts(2000, 63)
        log_dataset(client, holdout.assign(spam=held_spam), "holdout", project="mod")
        client.evaluate(ModelRef("mod", "violation", version=1), "mod/holdout@1", target="spam")
        (calibrated,) = world.run(T0 + HOUR, since=T0)
        assert calibrated.values["estimated.accuracy"] == pytest.approx(realized, abs=0.04)
        (estimated,) = monitors.values("moderation", metric="estimated.accuracy", limit=1)
        assert (estimated.detail["calibrated_on"], estimated.detail["held_out"]) == (
            "mod/holdout@1",
            True,
        )
    finally:
        client.close()


def test_calibration_data_is_a_dataset_that_exists_and_not_with_a_baseline(world: World) -> None:
    with pytest.raises(InvalidInput, match=r"monitor key 'calibration' .* not found"):
        world.monitors.configure("moderation", "window: 1h\ncalibration: mod/nothing@1\n", ACTOR)
    both = "window: 1h\ncalibration: mod/posts@1\nbaseline: {since: 0, until: 10}\n"
    with pytest.raises(InvalidInput, match="baseline calibrates on its own labels"):
        world.monitors.configure("moderation", both, ACTOR)
