"""Monitor YAML: what it accepts, and errors that name the key and its line."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from opsloop.domain.errors import InvalidInput
from opsloop.domain.monitoring import MIN_LABELS, MonitorConfig


@pytest.mark.parametrize(
    ("text", "seconds"),
    [("30s", 30.0), ("15m", 900.0), ("1h", 3600.0), ("1d", 86400.0), ("1.5h", 5400.0), (60, 60.0)],
)
def test_windows_are_read_as_seconds(text: object, seconds: float) -> None:
    assert MonitorConfig.parse(f"window: {text}").window_s == seconds


def test_a_full_config_is_read() -> None:
    config = MonitorConfig.parse(
        "window: 15m\n"
        "reference: mod/posts@3\n"
        "features: [num_char, lang]\n"
        "target: spam\n"
        "positive: 1\n"
        "min_labels: 50\n"
        "drift:\n"
        "  test: {numeric: ks, categorical: chi2}\n"
        "  thresholds: {p_value: 0.01, large_sample: 500}\n"
        "alerts:\n"
        "  - {name: drift, when: 'drift.share_drifted > 0.3', for: 2}\n"
        "notify: [log]\n"
    )
    assert config.window_s == 900.0
    assert config.reference == "mod/posts@3"
    assert config.features == ["num_char", "lang"]
    assert (config.target, config.positive, config.min_labels) == ("spam", 1, 50)
    assert config.drift.test == {"numeric": "ks", "categorical": "chi2"}
    assert config.drift.thresholds == {"p_value": 0.01, "large_sample": 500}
    assert isinstance(config.drift.thresholds["large_sample"], int)
    assert config.alerts[0]["when"] == "drift.share_drifted > 0.3"
    assert config.notify == ["log"]


def test_defaults() -> None:
    config = MonitorConfig.parse("window: 1h")
    assert config.min_labels == MIN_LABELS == 30
    assert config.reference is None and config.baseline is None and config.features is None
    assert config.drift.test is None and config.drift.thresholds == {}


def test_a_baseline_reads_iso_text_and_yaml_timestamps_as_utc() -> None:
    config = MonitorConfig.parse(
        "window: 1h\nbaseline:\n  since: 2026-05-01T00:00:00Z\n  until: '2026-05-02 12:00'\n"
    )
    assert config.baseline is not None
    assert config.baseline.since == datetime(2026, 5, 1, tzinfo=UTC)
    assert config.baseline.until == datetime(2026, 5, 2, 12, tzinfo=UTC)


@pytest.mark.parametrize(
    ("text", "words"),
    [
        ("window: 1w", "monitor key 'window' (line 1): must be a duration such as 30s"),
        ("window: 0s", "monitor key 'window' (line 1): must be from 1s to 31d"),
        ("window: 1h\n\nmin_labels: 0", "monitor key 'min_labels' (line 3): must be a whole"),
        ("window: 1h\nreference: posts", "monitor key 'reference' (line 2)"),
        (
            "window: 1h\nreference: a/b@1\nbaseline: {since: 1, until: 2}",
            "monitor key 'baseline' (line 3): give a reference dataset or a baseline, not both",
        ),
        (
            "window: 1h\nbaseline:\n  since: 2026-05-02\n  until: 2026-05-01",
            "monitor key 'baseline.until' (line 4): must be after since",
        ),
        (
            "window: 1h\nbaseline:\n  since: yesterday\n  until: 2026-05-01",
            "monitor key 'baseline.since' (line 3): must be a time",
        ),
        (  # a moment in year 0 once read in UTC
            "window: 1h\nbaseline:\n  since: 0001-01-01T00:00:00+14:00\n  until: 2026-05-01",
            "monitor key 'baseline.since' (line 3): must be a time from year 1 to 9999 in UTC",
        ),
        (
            "window: 1h\nbaseline:\n  since: 2026-05-01\n  until: 9999-12-31T23:59:59.999999",
            "monitor key 'baseline.until' (line 4): must be a time from year 1 to 9999 in UTC",
        ),
        (
            "window: 1h\nbaseline:\n  since: 100000000000000000000\n  until: 2026-05-01",
            "monitor key 'baseline.since' (line 3): must be a time from year 1 to 9999 in UTC",
        ),
        ("window: 1h\nfeatures: [a, b, a]", "monitor key 'features' (line 2): 'a' is listed twice"),
        ("window: 1h\nfeatures: a", "monitor key 'features' (line 2): must be a non-empty list"),
        (
            "window: 1h\ndrift:\n  tests: ks",
            "monitor key 'drift.tests' (line 3): is not a drift option",
        ),
        (
            "window: 1h\ndrift:\n  test: {numbers: ks}",
            "monitor key 'drift.test' (line 3): must be a test name, or a mapping",
        ),
        (
            "window: 1h\ndrift:\n  thresholds:\n    psi: -1",
            "monitor key 'drift.thresholds.psi' (line 4): must be a number >= 0",
        ),
        ("window: 1h\npositive: [1]", "monitor key 'positive' (line 2): must be one label"),
        ("reference: a/b@1", "monitor needs 'window:'"),
        ("window: 1h\nwindows: 2h", "unknown key(s) 'windows'"),
        ("window: 1h\nwindow: 2h", "key 'window' is written twice (again at line 2)"),
        ("window: [1h", "monitor is not valid YAML at line 1"),
        ("- 1h", "monitor must be a YAML mapping"),
    ],
)
def test_a_bad_config_names_the_key_and_its_line(text: str, words: str) -> None:
    with pytest.raises(InvalidInput) as caught:
        MonitorConfig.parse(text)
    assert caught.value.field == "monitor"
    assert words in caught.value.headline


def test_alert_rules_are_checked_by_their_own_parser() -> None:
    with pytest.raises(InvalidInput) as caught:
        MonitorConfig.parse("window: 1h\nalerts:\n  - {name: x, when: 'drift.share_drifted >'}\n")
    assert caught.value.field == "monitor"
    assert "alert" in caught.value.headline
