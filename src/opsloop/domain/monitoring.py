"""Monitors: an endpoint's checks over time windows of its prediction log, and what they found.

A monitor is YAML; only ``window`` is required::

    window: 1h                  # 30s, 15m, 1h, 1d: windows aligned to multiples of it (UTC)
    reference: moderation/posts@3        # the training data; default: the dataset the
                                         # primary model's run used as input
    calibration: moderation/holdout@1    # held-out data for the label-free estimate; default:
                                         # the newest evaluation's dataset, else the reference
    # baseline: {since: 2026-05-01T00:00:00Z, until: 2026-05-02T00:00:00Z}   # or a log window
    features: [num_char, exclaim, lang]  # default: the model signature's inputs
    target: spam                # the reference's label column (label drift, the estimate)
    positive: 1                 # the positive class of a binary classifier (default: the last)
    task: ranking               # classification | regression | ranking (default: detected)
    k: 10                       # ranking: metrics over the first k items of each list
    relevance_threshold: 4      # ranking: a graded item is relevant from this grade (default:
                                # any grade above 0); a clicked item always is
    min_labels: 30              # a window with fewer labels is flagged uncertain
    drift:
      test: psi                 # or {numeric: ks, categorical: chi2}; default: by kind
      thresholds: {p_value: 0.01, psi: 0.2}
    alerts: [...]               # rules on the values (see docs/alerts.md)
    notify: [...]               # where alerts go

Every value a pass computes is a ``MonitorValue``: a metric name (``drift.lang``,
``performance.accuracy``, ``canary.service.latency_p99_ms``, ... listed in
docs/monitoring.md), its window, a number (None when undefined) and a JSON detail.
"""

from __future__ import annotations

import math
from datetime import UTC, date, datetime
from typing import Any

from pydantic import Field

from opsloop.domain import _yaml
from opsloop.domain._yaml import BadKey
from opsloop.domain.alerts import shown_url
from opsloop.domain.entities import Entity, storable
from opsloop.domain.errors import InvalidInput
from opsloop.domain.names import parse_dataset_ref
from opsloop.domain.numbers import is_number

MONITOR_KEYS = (
    "window",
    "reference",
    "calibration",
    "baseline",
    "features",
    "target",
    "positive",
    "task",
    "k",
    "relevance_threshold",
    "min_labels",
    "drift",
    "alerts",
    "notify",
)
DRIFT_KEYS = ("test", "thresholds")
BASELINE_KEYS = ("since", "until")
KINDS = ("numeric", "categorical")
MIN_LABELS = 30
TASKS = ("classification", "regression", "ranking")
RANKING_K = 10
MIN_WINDOW_S = 1.0
MAX_WINDOW_S = 31 * 86400.0
_SHAPE = "a YAML mapping with 'window:' and optional reference, features, drift, alerts..."

Label = bool | int | float | str


class DriftPolicy(Entity):
    """Which test decides per feature (None: by kind and size; a name: for every kind it
    applies to; or one per kind) and cut-offs that replace the defaults."""

    test: str | dict[str, str] | None = None
    thresholds: dict[str, int | float] = Field(default_factory=dict)


class Baseline(Entity):
    """A window of the endpoint's own log used as the reference, ``[since, until)``."""

    since: datetime
    until: datetime


class MonitorConfig(Entity):
    """A monitor's checked policy."""

    window: str = Field(description="as written: 30s, 15m, 1h, 1d")
    window_s: float
    reference: str | None = Field(default=None, description="project/dataset@version")
    calibration: str | None = Field(
        default=None, description="held-out project/dataset@version for the estimate"
    )
    baseline: Baseline | None = None
    features: list[str] | None = None
    target: str | None = None
    positive: Label | None = None
    task: str | None = Field(default=None, description="classification, regression or ranking")
    k: int = Field(default=RANKING_K, description="ranking metrics over the first k items")
    relevance_threshold: float | None = Field(
        default=None, description="the grade from which an item is relevant (None: above 0)"
    )
    min_labels: int = MIN_LABELS
    drift: DriftPolicy = DriftPolicy()
    alerts: list[Any] = Field(default=[], description="alert rules, as written")
    notify: list[Any] = Field(default=[], description="notifiers, as written")

    @classmethod
    def parse(cls, text: str) -> MonitorConfig:
        """The YAML ``text`` as a config; ``InvalidInput(field="monitor")`` naming the key
        and, where it can, its line."""
        data = _yaml.load_mapping(text, MONITOR_KEYS, "monitor", _SHAPE)
        try:
            return cls._from_mapping(data)
        except BadKey as exc:
            raise key_error(text, exc.path, exc.reason) from None

    @classmethod
    def _from_mapping(cls, data: dict[str, Any]) -> MonitorConfig:
        if "window" not in data:
            raise InvalidInput(
                "monitor needs 'window:' (how long each window is: 30s, 15m, 1h, 1d)",
                field="monitor",
            )
        window_s = _window(data["window"])
        if data.get("reference") is not None and data.get("baseline") is not None:
            raise BadKey(("baseline",), "give a reference dataset or a baseline, not both")
        if data.get("calibration") is not None and data.get("baseline") is not None:
            raise BadKey(
                ("calibration",), "a baseline calibrates on its own labels: give one or the other"
            )
        positive = data.get("positive")
        if positive is not None and not _is_label(positive):
            raise BadKey(("positive",), f"must be one label (text or a number), got {positive!r}")
        alerts, notify = _alerts(data)
        return cls(
            window=str(data["window"]).strip(),
            window_s=window_s,
            reference=_reference(data.get("reference")),
            calibration=_reference(data.get("calibration"), "calibration"),
            baseline=_baseline(data.get("baseline")),
            features=_features(data.get("features")),
            target=_text(data, "target"),
            positive=positive,
            task=_task(data.get("task")),
            k=_k(data.get("k")),
            relevance_threshold=_threshold(data.get("relevance_threshold")),
            min_labels=_min_labels(data.get("min_labels")),
            drift=_drift(data.get("drift")),
            alerts=alerts,
            notify=notify,
        )


class Monitor(Entity):
    endpoint: str
    config: MonitorConfig
    source: str = Field(description="the YAML as it was given")
    last_window_end: datetime | None = Field(
        default=None, description="end of the newest window computed"
    )
    labels_seen_event: int | None = Field(
        default=None,
        description="the newest feedback.received event taken in: labels after it that "
        "fall in computed windows make them computed again",
    )
    created_at: datetime
    updated_at: datetime
    updated_by: str

    def redacted(self) -> Monitor:
        """The monitor as readers see it: webhook URLs (whose paths are often their secret)
        cut to scheme and host, in the policy and in its YAML alike."""
        source, notify = self.source, []
        for entry in self.config.notify:
            if isinstance(entry, dict) and isinstance(entry.get("webhook"), str):
                shown = shown_url(entry["webhook"])
                source = source.replace(entry["webhook"], shown)
                entry = {**entry, "webhook": shown}
            notify.append(entry)
        config = self.config.model_copy(update={"notify": notify})
        return self.model_copy(update={"config": config, "source": source})


class MonitorValue(Entity):
    """One metric of one window. ``value`` is None where the metric is undefined."""

    metric: str
    window_start: datetime
    window_end: datetime
    value: float | None
    detail: dict[str, Any] | None = None


class WindowResult(Entity):
    """What one window gave: its values by metric, and the parts left out and why."""

    endpoint: str
    window_start: datetime
    window_end: datetime
    requests: int = Field(description="primary predictions in the window")
    labels: int = Field(description="of them, how many have feedback")
    uncertain: bool = Field(description="fewer labels than min_labels")
    values: dict[str, float | None]
    skipped: dict[str, str] = Field(default={}, description="part -> why it was not computed")


def key_error(text: str, path: _yaml.KeyPath, reason: str) -> InvalidInput:
    """The error for a bad value under ``path`` of monitor YAML ``text``."""
    return _yaml.key_error(text, path, reason, "monitor")


def _window(value: Any) -> float:
    seconds = _yaml.duration_s(value)
    if seconds is None:
        raise BadKey(("window",), f"must be a duration such as 30s, 15m, 1h, 1d, got {value!r}")
    if not MIN_WINDOW_S <= seconds <= MAX_WINDOW_S:
        raise BadKey(("window",), f"must be from 1s to 31d, got {value!r}")
    return seconds


def _reference(value: Any, key: str = "reference") -> str | None:
    if value is None:
        return None
    if not isinstance(value, str):
        raise BadKey((key,), f"must be written project/dataset@version, got {value!r}")
    try:
        return str(parse_dataset_ref(value, key))
    except InvalidInput as exc:
        raise BadKey((key,), exc.headline) from None


def _baseline(value: Any) -> Baseline | None:
    if value is None:
        return None
    if not isinstance(value, dict) or sorted(map(str, value)) != sorted(BASELINE_KEYS):
        raise BadKey(
            ("baseline",), f"must be a mapping with exactly since and until, got {value!r}"
        )
    since, until = _moment(value["since"], "since"), _moment(value["until"], "until")
    if since >= until:
        raise BadKey(("baseline", "until"), "must be after since")
    return Baseline(since=since, until=until)


def _moment(value: Any, key: str) -> datetime:
    """A time as YAML gives it: a timestamp, ISO text (``Z`` allowed) or epoch seconds."""
    moment: datetime | None = None
    if isinstance(value, datetime):
        moment = value
    elif isinstance(value, date):
        moment = datetime(value.year, value.month, value.day)
    elif is_number(value):
        try:
            moment = datetime.fromtimestamp(float(value), UTC)
        except (OverflowError, OSError, ValueError):
            raise BadKey(
                ("baseline", key), f"must be a time from year 1 to 9999 in UTC, got {value!r}"
            ) from None
    elif isinstance(value, str):
        try:
            moment = datetime.fromisoformat(value.strip().replace("Z", "+00:00"))
        except ValueError:
            moment = None
    if moment is None:
        raise BadKey(
            ("baseline", key), f"must be a time (ISO 8601 or epoch seconds), got {value!r}"
        )
    try:
        storable(moment)
    except ValueError as exc:
        raise BadKey(("baseline", key), f"{exc}, got {value!r}") from None
    return moment.replace(tzinfo=UTC) if moment.tzinfo is None else moment.astimezone(UTC)


def _features(value: Any) -> list[str] | None:
    if value is None:
        return None
    if not isinstance(value, list) or not value:
        raise BadKey(("features",), f"must be a non-empty list of input names, got {value!r}")
    for item in value:
        if not isinstance(item, str) or not item:
            raise BadKey(("features",), f"each feature must be a name, got {item!r}")
    if len(set(value)) != len(value):
        repeated = next(item for item in value if value.count(item) > 1)
        raise BadKey(("features",), f"{repeated!r} is listed twice")
    return list(value)


def _text(data: dict[str, Any], key: str) -> str | None:
    value = data.get(key)
    if value is None:
        return None
    if not isinstance(value, str) or not value.strip():
        raise BadKey((key,), f"must be a column name, got {value!r}")
    return value


def _task(value: Any) -> str | None:
    if value is None:
        return None
    if value not in TASKS:
        raise BadKey(("task",), f"must be one of {', '.join(TASKS)}, got {value!r}")
    return str(value)


def _k(value: Any) -> int:
    if value is None:
        return RANKING_K
    if isinstance(value, bool) or not isinstance(value, int) or value < 1:
        raise BadKey(("k",), f"must be a whole number >= 1, got {value!r}")
    return value


def _threshold(value: Any) -> float | None:
    if value is None:
        return None
    if not is_number(value):
        raise BadKey(("relevance_threshold",), f"must be a number, got {value!r}")
    return float(value)


def _min_labels(value: Any) -> int:
    if value is None:
        return MIN_LABELS
    if isinstance(value, bool) or not isinstance(value, int) or value < 1:
        raise BadKey(("min_labels",), f"must be a whole number >= 1, got {value!r}")
    return value


def _drift(value: Any) -> DriftPolicy:
    if value is None:
        return DriftPolicy()
    if not isinstance(value, dict):
        raise BadKey(("drift",), f"must be a mapping of test and thresholds, got {value!r}")
    unknown = sorted(str(key) for key in value if key not in DRIFT_KEYS)
    if unknown:
        raise BadKey(
            ("drift", unknown[0]), f"is not a drift option (allowed: {', '.join(DRIFT_KEYS)})"
        )
    test = _test(value.get("test"))
    thresholds = value.get("thresholds") or {}
    if not isinstance(thresholds, dict):
        raise BadKey(
            ("drift", "thresholds"), f"must be a mapping of name: number, got {thresholds!r}"
        )
    checked: dict[str, int | float] = {}
    for name, number in thresholds.items():
        if not is_number(number) or number < 0:
            raise BadKey(
                ("drift", "thresholds", str(name)), f"must be a number >= 0, got {number!r}"
            )
        checked[str(name)] = number
    return DriftPolicy(test=test, thresholds=checked)


def _test(value: Any) -> str | dict[str, str] | None:
    """One test name for every kind it applies to, or one per kind."""
    if value is None:
        return None
    if isinstance(value, str) and value.strip():
        return value.strip()
    if isinstance(value, dict) and value and all(str(kind) in KINDS for kind in value):
        for kind, name in value.items():
            if not isinstance(name, str) or not name.strip():
                raise BadKey(("drift", "test", str(kind)), f"must be a test name, got {name!r}")
        return {str(kind): name.strip() for kind, name in value.items()}
    raise BadKey(
        ("drift", "test"),
        f"must be a test name, or a mapping of numeric/categorical to one, got {value!r}",
    )


def _alerts(data: dict[str, Any]) -> tuple[list[Any], list[Any]]:
    """The alert rules and notifiers, checked by their own parsers and kept as written."""
    from opsloop.domain.alerts import parse_notifiers, parse_rules

    alerts, notify = data.get("alerts"), data.get("notify")
    if alerts is not None:
        parse_rules(alerts)
    if notify is not None:
        parse_notifiers(notify)
    return _plain(alerts or []), _plain(notify or [])


def _plain(value: Any) -> Any:
    """YAML values as JSON keeps them (a timestamp becomes ISO text)."""
    if isinstance(value, dict):
        return {str(key): _plain(item) for key, item in value.items()}
    if isinstance(value, list):
        return [_plain(item) for item in value]
    if isinstance(value, datetime | date):
        return value.isoformat()
    return value


def _is_label(value: Any) -> bool:
    if isinstance(value, float):
        return math.isfinite(value)
    return isinstance(value, bool | int | str)
