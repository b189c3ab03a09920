"""The retrain pipeline: the loop closing itself.

``retrain_pipeline(name=..., endpoint=..., train=..., target=..., gate=...)`` registers a
pipeline that, run by hand, on a schedule, on new labels or by an alert:

1. finds what the endpoint serves and the dataset that model was trained on (its run's input);
2. collects the endpoint's labelled traffic from the prediction log;
3. builds the next DatasetVersion = that dataset + the labelled rows (lineage: both parents),
   and a holdout DatasetVersion of labelled rows the training never sees;
4. validates the new rows against the training data: the schema must hold (else the run
   fails), drift is reported;
5. trains with the user's function, in a tracked run that records its input dataset;
6. evaluates the candidate and the champion on the holdout through the gate; a no-go ends
   the run there, recorded;
7. deploys the candidate as a canary, waits for ``canary_predictions`` canary predictions
   with labels, and compares the canary's live metric with the primary's over the same time:
   no worse (within ``tolerance``) → promote, else (or on timeout) roll back.

Every change is made through the SDK inside the run, so each Event's actor is the pipeline.
"""

from __future__ import annotations

import time
import zlib
from collections.abc import Callable
from datetime import UTC, datetime
from typing import Any

import numpy as np
import pandas as pd

import opsloop
from opsloop.domain.errors import InvalidInput
from opsloop.domain.monitoring import RANKING_K
from opsloop.domain.names import parse_dataset_ref
from opsloop.services.evaluation import metrics
from opsloop.services.evaluation.ranking import RANKING_METRICS, check_k, decoded, measure_logged
from opsloop.services.monitoring.served import is_ranked
from opsloop.services.pipelines.definitions import pipeline, step
from opsloop.store.prediction_log import INPUT_PREFIX

# The live metrics a canary can be judged by, from its labelled predictions alone.
RANKING = frozenset(RANKING_METRICS)
HIGHER_IS_BETTER = frozenset({"accuracy", "precision", "recall", "f1"}) | RANKING
LOWER_IS_BETTER = frozenset({"mae", "rmse", "mape"})
POLL_S = 1.0


@step(cache=False)
def find_champion(endpoint: str) -> dict[str, Any]:
    """What the endpoint serves now, and the dataset version it was trained on."""
    served = opsloop.get_client().get_endpoint(endpoint)
    primary, project = served.plan.primary, served.project
    if primary is None:
        raise InvalidInput(f"endpoint {endpoint!r} serves nothing to retrain", field="endpoint")
    version = opsloop.get_model_version(f"{project}/{primary.model}@{primary.version}")
    if version.run_id is None:
        raise InvalidInput(
            f"{version.ref} has no run, so its training data is unknown", field="endpoint"
        )
    inputs = opsloop.get_run(version.run_id).inputs
    if not inputs:
        raise InvalidInput(
            f"{version.ref}'s run recorded no input dataset to retrain from", field="endpoint"
        )
    dataset = opsloop.get_dataset(str(inputs[0]))
    return {
        "project": project,
        "model": primary.model,
        "version": primary.version,
        "features": [column.name for column in version.signature.inputs],
        "dataset": dataset.ref,
        "dataset_created": dataset.created_at.timestamp(),
    }


@step(cache=False)
def labelled_traffic(
    endpoint: str, features: list[str], target: str, since: float, item: str | None = None
) -> pd.DataFrame:
    """The endpoint's primary predictions made since ``since`` (the training data's making,
    so rows an earlier retrain already took are not taken twice) that have a label.

    A ranking's feedback becomes one row per judged item, when ``item`` names the training
    data's item column: the request's inputs, the item, and its grade as ``target`` (1 for a
    clicked item)."""
    table = opsloop.export_predictions(
        endpoint, role="primary", since=datetime.fromtimestamp(since, UTC)
    )
    table = table.filter(table.column("label").is_valid())
    ranking = table.num_rows > 0 and is_ranked(table.column("prediction"))
    if ranking and item is None:
        raise InvalidInput(
            f"endpoint {endpoint!r} answers with ranked lists: its feedback (clicked items, "
            "item grades) is no label of one row of features; name the training data's item "
            "column (retrain_pipeline(item=...)) to take one row per judged item, or build "
            "a pipeline of your own (docs/pipelines.md, 'Ranking endpoints')",
            field="item",
        )
    frame = table.to_pandas()
    inputs = [name for name in features if INPUT_PREFIX + name in frame]
    if ranking:
        assert item is not None
        return _judged_rows(frame, inputs, item, target)
    rows = pd.DataFrame({name: frame[INPUT_PREFIX + name].to_numpy() for name in inputs})
    rows[target] = frame["label"].to_numpy()
    rows.index = pd.Index(frame["request_id"].to_numpy(), name="request_id")
    return rows


def _judged_rows(frame: pd.DataFrame, inputs: list[str], item: str, target: str) -> pd.DataFrame:
    """One row per item a ranking's feedback judged, indexed by its request's id (so the
    holdout split keeps a request's rows together)."""
    records: list[dict[str, Any]] = []
    ids: list[str] = []
    for request_id, label, *values in zip(
        frame["request_id"], frame["label"], *(frame[INPUT_PREFIX + n] for n in inputs), strict=True
    ):
        value = decoded(label)
        pairs = (
            value.items()
            if isinstance(value, dict)
            else ((one, 1.0) for one in value)
            if isinstance(value, list)
            else ()
        )
        for judged, grade in pairs:
            records.append({**dict(zip(inputs, values, strict=True)), item: judged, target: grade})
            ids.append(request_id)
    rows = pd.DataFrame.from_records(records, columns=[*inputs, item, target])
    rows.index = pd.Index(ids, name="request_id", dtype=object)
    return rows


@step
def extend_dataset(
    previous: str, labelled: pd.DataFrame, target: str, holdout: float
) -> dict[str, str]:
    """The next training DatasetVersion (previous + labelled rows) and a holdout version."""
    old = opsloop.load_dataset(previous)
    if labelled.empty:
        raise InvalidInput("no labelled traffic yet: nothing to retrain on", field="labels")
    # Split by request id, so the same row always falls on the same side.
    picks = np.array([zlib.crc32(str(i).encode()) % 1000 for i in labelled.index]) / 1000.0
    held = labelled[picks < holdout].reset_index(drop=True)
    fresh = labelled[picks >= holdout].reset_index(drop=True)
    fresh = fresh.astype({c: old[c].dtype for c in fresh.columns if c in old}, errors="ignore")
    combined = pd.concat([old, fresh.reindex(columns=old.columns)], ignore_index=True)
    ref = parse_dataset_ref(previous)
    project, name = ref.project, ref.dataset
    trained = opsloop.log_dataset(
        combined, name, project=project, parents=[previous], source="retrain: + labelled traffic"
    )
    holdout_version = opsloop.log_dataset(
        held.reindex(columns=[c for c in old.columns if c in held.columns]),
        f"{name}-holdout",
        project=project,
        source="retrain: labelled traffic held out of training",
    )
    return {"train": trained.ref, "holdout": holdout_version.ref, "new_rows": str(len(fresh))}


@step
def validate(previous: str, data: dict[str, str], features: list[str]) -> dict[str, Any]:
    """The labelled traffic against the training data (a ``dataset_version.validated``
    Event): the schema must hold, else the run fails; drift is reported."""
    checked = opsloop.validate_dataset(data["holdout"], against=previous, features=features)
    if checked.verdict == "fail":
        problems = "; ".join(problem.describe() for problem in checked.problems)
        raise InvalidInput(
            f"labelled traffic does not fit the training data: {problems}", field="schema"
        )
    return {"drifted": checked.drifted, "share_drifted": checked.share_drifted}


@step
def train_model(
    train: Callable[[pd.DataFrame, str], Any],
    data: dict[str, str],
    target: str,
    champion: dict[str, Any],
) -> str:
    """Fit the user's function on the new dataset in a tracked run; the new version's ref."""
    frame = opsloop.load_dataset(data["train"])
    features = champion["features"]
    with opsloop.start_run(project=champion["project"], name="retrain") as run:
        run.use_dataset(data["train"])
        model = train(frame, target)
        version = run.log_model(model, champion["model"], input_example=frame[features].head())
    return str(version.ref)


@step(cache=False)
def judge(candidate: str, data: dict[str, str], gate: str, endpoint: str, target: str) -> str:
    """The gate's verdict on the holdout, the candidate compared with what the endpoint serves."""
    return str(
        opsloop.evaluate(
            candidate, data["holdout"], gate=gate, endpoint=endpoint, target=target
        ).verdict
    )


@step(cache=False)
def deploy_canary(candidate: str, endpoint: str, canary: float) -> int:
    """The candidate as a canary; the deployment's number, which the watch holds on to."""
    done = opsloop.deploy(
        candidate, endpoint=endpoint, canary=canary, reason="retrain: passed the gate"
    )
    return done.number


@step(cache=False)
def watch_canary(
    endpoint: str,
    deployment: int,
    since: float,
    predictions: int,
    metric: str,
    tolerance: float,
    timeout_s: float,
    k: int = RANKING_K,
    relevance_threshold: float | None = None,
) -> dict[str, Any]:
    """Judge once the canary and the primary each have ``predictions`` labelled predictions
    since ``since``: promote when the canary's ``metric`` is no worse than the primary's over
    the same time; roll back if worse or out of time. If the
    endpoint changed meanwhile (a person, or an alert's rollback), leave it as it is. A ranking
    metric (``ndcg_at_k``...) is taken at ``k``, an item relevant from
    ``relevance_threshold``, as a monitor takes it."""
    check_canary(metric, k)
    deadline = time.monotonic() + timeout_s
    started = datetime.fromtimestamp(since, UTC)
    while True:
        if opsloop.get_client().get_endpoint(endpoint).deployment != deployment:
            return {"outcome": "superseded: the endpoint changed during the watch"}
        scores = _live_scores(endpoint, started, metric, k, relevance_threshold)
        counted = {role: scores.get(role, (0, None))[0] for role in ("canary", "primary")}
        if min(counted.values()) >= predictions:
            break
        if time.monotonic() >= deadline:
            back = opsloop.rollback(
                endpoint,
                reason=f"retrain: in {timeout_s:g} s the canary got {counted['canary']} and "
                f"the primary {counted['primary']} of the {predictions} labelled predictions "
                "each needs",
            )
            return {"outcome": "rolled back", "deployment": back.number, "scores": scores}
        time.sleep(POLL_S)
    canary_value = scores["canary"][1]
    primary_value = scores.get("primary", (0, None))[1]
    held = _no_worse(canary_value, primary_value, metric, tolerance)
    detail = f"canary {metric} {_fmt(canary_value)} vs primary {_fmt(primary_value)}"
    if held:
        done = opsloop.promote(endpoint, reason=f"retrain: {detail}")
        return {"outcome": "promoted", "deployment": done.number, "scores": scores}
    back = opsloop.rollback(endpoint, reason=f"retrain: {detail}")
    return {"outcome": "rolled back", "deployment": back.number, "scores": scores}


def retrain_pipeline(
    *,
    name: str,
    endpoint: str,
    train: Callable[[pd.DataFrame, str], Any],
    target: str,
    gate: str,
    canary: float = 10.0,
    canary_predictions: int = 200,
    canary_timeout_s: float = 3600.0,
    metric: str = "accuracy",
    tolerance: float = 0.0,
    holdout: float = 0.3,
    project: str | None = None,
    item: str | None = None,
    k: int = RANKING_K,
    relevance_threshold: float | None = None,
) -> Callable[..., dict[str, Any]]:
    """Register (and return) the retrain pipeline ``name`` for ``endpoint``.

    ``train(frame, target)`` returns a fitted model; ``gate`` is the gate's YAML text. For an
    endpoint that answers with ranked lists, ``item`` names the training data's item column
    (its feedback becomes one row per judged item), and a ranking ``metric`` (``ndcg_at_k``)
    judges the canary at ``k``, an item relevant from ``relevance_threshold``.
    """
    if not 0 < holdout < 1:
        raise InvalidInput("holdout must be a fraction between 0 and 1", field="holdout")
    check_canary(metric, k)

    def retrain(endpoint: str = endpoint) -> dict[str, Any]:
        champion = find_champion(endpoint)
        labelled = labelled_traffic(
            endpoint, champion["features"], target, champion["dataset_created"], item
        )
        data = extend_dataset(champion["dataset"], labelled, target, holdout)
        checked = validate(champion["dataset"], data, champion["features"])
        candidate = train_model(train, data, target, champion)
        verdict = judge(candidate, data, gate, endpoint, target)
        result: dict[str, Any] = {"candidate": candidate, "verdict": verdict, "drift": checked}
        if verdict != "go":
            return {**result, "outcome": "stopped by the gate"}
        since = time.time()
        number = deploy_canary(candidate, endpoint, canary)
        watched = watch_canary(
            endpoint,
            number,
            since,
            canary_predictions,
            metric,
            tolerance,
            canary_timeout_s,
            k,
            relevance_threshold,
        )
        return {**result, **watched}

    retrain.__doc__ = f"Retrain {endpoint}'s model on its labelled traffic, gate, canary, promote."
    return pipeline(name=name, project=project)(retrain)


def check_canary(metric: str, k: int) -> None:
    """``metric`` must be one a canary's labelled predictions alone can give, and ``k`` (the
    cut-off of a ranking metric) a whole number from 1."""
    if metric not in HIGHER_IS_BETTER | LOWER_IS_BETTER:
        known = ", ".join(sorted(HIGHER_IS_BETTER | LOWER_IS_BETTER))
        raise InvalidInput(
            f"metric {metric!r} cannot judge a canary (one of: {known})", field="metric"
        )
    check_k(k)


def _live_scores(
    endpoint: str,
    since: datetime,
    metric: str,
    k: int = RANKING_K,
    relevance_threshold: float | None = None,
) -> dict[str, tuple[int, float | None]]:
    """Per role: labelled predictions since ``since`` and ``metric`` over them."""
    table = opsloop.export_predictions(endpoint, since=since, inputs=False)
    frame = table.select(["role", "prediction", "label"]).to_pandas()
    frame = frame[frame["label"].notna()]
    found: dict[str, tuple[int, float | None]] = {}
    for role, rows in frame.groupby("role"):
        if metric in RANKING:
            ranked, _ = measure_logged(rows["prediction"], rows["label"], k, relevance_threshold)
            value = ranked.get(metric)
        elif metric in LOWER_IS_BETTER:
            value = metrics.regression(rows["label"], rows["prediction"]).get(metric)
        else:
            value = metrics.classification(rows["label"], rows["prediction"]).metrics.get(metric)
        found[str(role)] = (len(rows), value)
    return found


def _no_worse(canary: float | None, primary: float | None, metric: str, tolerance: float) -> bool:
    if canary is None:
        return False  # not measurable on its labels: not shown to be no worse
    if primary is None:
        return True  # undefined on the primary's labels: nothing says the canary is worse
    if metric in LOWER_IS_BETTER:
        return canary <= primary + tolerance
    return canary >= primary - tolerance


def _fmt(value: float | None) -> str:
    return "n/a" if value is None else f"{value:.4f}"
