"""The functions ``import opsloop`` gives: a default client, made on first use from settings."""

from __future__ import annotations

import atexit
import dataclasses
import threading
import uuid
from collections.abc import Mapping, Sequence
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, Literal

from opsloop.domain.deployments import Deployment, FeedbackReceipt
from opsloop.domain.entities import AliasMove, DatasetVersion, ModelVersion, Run
from opsloop.domain.errors import InvalidInput
from opsloop.domain.evaluation import Evaluation
from opsloop.domain.monitoring import Monitor, MonitorValue, WindowResult
from opsloop.domain.names import check_label, check_name, parse_dataset_ref, parse_model_ref
from opsloop.domain.pipelines import PipelineRun
from opsloop.domain.report import Report
from opsloop.domain.validation import DatasetValidation
from opsloop.sdk import datasets as _datasets
from opsloop.sdk import environment
from opsloop.sdk import models as _models
from opsloop.sdk import monitoring as _monitoring
from opsloop.sdk._files import text_or_file
from opsloop.sdk.client import Client
from opsloop.sdk.run import ActiveRun, active_runs
from opsloop.services.pipelines.context import Scope, current_scope
from opsloop.services.pipelines.definitions import pipeline as pipeline  # ``@opsloop.pipeline``
from opsloop.services.pipelines.definitions import step as step  # ``@opsloop.step``
from opsloop.services.tracking import clean_params, clean_tags

_default: Client | None = None
_default_lock = threading.Lock()
_scoped: dict[tuple[int, str], Client] = {}


def connect(**settings: Any) -> Client:
    """Make the default client from explicit settings (``url=``, ``home=``, ``database_url=``,
    ...); otherwise the first call below makes one from the environment."""
    global _default
    with _default_lock:
        if _default is not None:
            _default.close()
        _default = Client(**settings)
        return _default


def get_client() -> Client:
    """The default client; inside a pipeline step, one acting as the pipeline on its run's
    store (in process when the run executes here, else opened from the run's settings)."""
    global _default
    scope = current_scope()
    if scope is not None:
        return _client_for(scope)
    with _default_lock:
        if _default is None:
            _default = Client()
        return _default


def _client_for(scope: Scope) -> Client:
    platform = scope.platform
    key = (id(platform) if platform is not None else 0, scope.actor.name)
    with _default_lock:
        found = _scoped.get(key)
        if found is not None:
            return found
        if platform is not None:
            made = Client.over(platform, scope.actor)
            platform.on_close(lambda: _forget(key))
        elif scope.settings is not None:  # a worker process: open the run's store
            settings = dataclasses.replace(
                scope.settings, actor=scope.actor.name, url=None, auth=False
            )
            made = Client(settings, actor_kind=scope.actor.kind)
            atexit.register(made.close)
        else:
            raise InvalidInput("this pipeline step has no store to talk to", field="pipeline")
        _scoped[key] = made
        return made


def _forget(key: tuple[int, str]) -> None:
    with _default_lock:
        found = _scoped.pop(key, None)
    if found is not None:
        found.close()


def start_run(
    project: str | None = None,
    name: str | None = None,
    *,
    experiment: str = "default",
    params: Mapping[str, Any] | None = None,
    tags: Mapping[str, Any] | None = None,
    parent: ActiveRun | str | None = None,
    nested: bool = True,
    client: Client | None = None,
) -> ActiveRun:
    """Start a run; use it as a context manager. Inside another active run it becomes that
    run's child (``nested=False`` starts a top-level run instead). Returns at once: the run
    reaches the server in the background (see ``opsloop.sdk.run``)."""
    client = client or get_client()
    stack = active_runs()
    if parent is None and nested and stack:
        parent = stack[-1]
    if project is None:
        if not isinstance(parent, ActiveRun):
            raise InvalidInput("start_run needs a project", field="project")
        project = parent.project
    check_name(project, "project")
    check_name(experiment, "experiment")
    if name is not None:
        check_label(name, "name")
    sha, dirty = environment.git_state()
    spec = {
        "id": uuid.uuid4().hex,
        "project": project,
        "experiment": experiment,
        "name": name,
        "parent_id": parent.id if isinstance(parent, ActiveRun) else parent,
        "start_time": datetime.now(UTC).isoformat(),
        "params": clean_params(params),
        "tags": clean_tags(tags),
        "git_sha": sha,
        "git_dirty": dirty,
        "python_version": environment.python_version(),
        "packages": environment.packages(),
    }
    active = ActiveRun(client, spec, parent if isinstance(parent, ActiveRun) else None)
    stack.append(active)
    return active


def active_run() -> ActiveRun | None:
    stack = active_runs()
    return stack[-1] if stack else None


def log_dataset(
    data: Any,
    name: str,
    *,
    project: str,
    parents: Sequence[DatasetVersion | str] = (),
    source: str = "",
    description: str = "",
) -> DatasetVersion:
    """Store a pandas/polars/Arrow table as the next version of ``project/name``."""
    return _datasets.log_dataset(
        get_client(),
        data,
        name,
        project=project,
        parents=parents,
        source=source,
        description=description,
    )


def load_dataset(
    ref: str | DatasetVersion, as_: Literal["pandas", "arrow", "polars"] = "pandas"
) -> Any:
    """Read ``project/name[@version]`` back (latest version when none is given)."""
    return _datasets.load_dataset(get_client(), ref, as_)


def get_dataset(ref: str) -> DatasetVersion:
    return get_client().get_dataset_version(parse_dataset_ref(ref))


def validate_dataset(
    data: str | DatasetVersion,
    *,
    against: str | DatasetVersion,
    features: Sequence[str] | None = None,
) -> DatasetValidation:
    """Check dataset version ``data`` against version ``against``: every feature (default:
    every column of ``against``) present with a compatible kind of values, or the verdict is
    ``fail``; drift per column is reported. Recorded as a ``dataset_version.validated`` Event."""
    text = data.ref if isinstance(data, DatasetVersion) else data
    reference = against.ref if isinstance(against, DatasetVersion) else against
    return get_client().validate_dataset(parse_dataset_ref(text), reference, features)


def register_model(
    model: Any,
    name: str,
    *,
    input_example: Any = None,
    flavor: str | None = None,
    description: str = "",
) -> ModelVersion:
    """Register a model outside any run (``name`` is ``project/model``)."""
    return _models.register_model(
        get_client(),
        model,
        name,
        input_example=input_example,
        flavor=flavor,
        description=description,
    )


def load_model(uri: str) -> Any:
    return _models.load_model(get_client(), uri)


def get_model_version(uri: str) -> ModelVersion:
    return get_client().get_model_version(parse_model_ref(uri))


def set_alias(model: str, alias: str, version: int, *, reason: str = "") -> AliasMove:
    """Point ``alias`` of ``project/model`` at ``version``; the move is recorded as an Event."""
    ref = parse_model_ref(model)
    return get_client().set_alias(ref.project, ref.model, alias, version, reason)


def get_run(run_id: str) -> Run:
    return get_client().get_run(run_id)


def search_runs(
    project: str,
    filter: str | None = None,
    *,
    order_by: str | None = None,
    experiment: str | None = None,
    limit: int = 100,
) -> list[Run]:
    runs, _total = get_client().search_runs(
        project, filter=filter, order_by=order_by, experiment=experiment, limit=limit
    )
    return runs


def evaluate(
    model: str,
    data: str,
    *,
    gate: str | None = None,
    endpoint: str | None = None,
    target: str | None = None,
    segment: str | None = None,
) -> Evaluation:
    """Measure ``model`` beside the champion on dataset ``data``; judge it by ``gate`` (YAML
    text or a path to a YAML file). The verdict is stored and is what ``deploy`` checks."""
    if gate is not None:
        gate = text_or_file(gate)
    return get_client().evaluate(
        parse_model_ref(model), data, gate=gate, endpoint=endpoint, target=target, segment=segment
    )


def deploy(
    model: str,
    *,
    endpoint: str,
    canary: float | None = None,
    shadow: bool = False,
    force: bool = False,
    reason: str = "",
) -> Deployment:
    """Serve ``model`` (``project/model@version``) on ``endpoint``: as the primary, as a canary
    taking ``canary`` percent of requests, or as a shadow."""
    return get_client().deploy(
        endpoint, model, canary=canary, shadow=shadow, force=force, reason=reason
    )


def promote(endpoint: str, *, reason: str = "") -> Deployment:
    return get_client().promote(endpoint, reason)


def rollback(
    endpoint: str, *, steps: int = 1, number: int | None = None, reason: str = ""
) -> Deployment:
    """Restore the traffic plan ``steps`` deployments back, or deployment ``number``."""
    return get_client().rollback(endpoint, steps=steps, number=number, reason=reason)


def predict(
    endpoint: str,
    inputs: Sequence[Any],
    *,
    ids: Sequence[str] | None = None,
    key: str | None = None,
) -> dict[str, Any]:
    """Ask an endpoint; every answer is logged under its request id."""
    return get_client().predict(endpoint, inputs, ids=ids, key=key)


def send_feedback(
    endpoint: str, labels: Sequence[Mapping[str, Any]], *, source: str = "user"
) -> FeedbackReceipt:
    """The truth for logged predictions: ``[{"id": request_id, "label": ...}, ...]``."""
    return get_client().send_feedback(endpoint, labels, source=source)


def export_predictions(
    endpoint: str,
    *,
    since: datetime | None = None,
    until: datetime | None = None,
    role: str | None = None,
    inputs: bool = True,
) -> Any:
    """The prediction log joined with feedback, as a pyarrow Table (``inputs=False``: without
    the ``input.*`` columns)."""
    from opsloop.services.datasets import parquet_to_table

    data = get_client().export_predictions(
        endpoint, since=since, until=until, role=role, inputs=inputs
    )
    return parquet_to_table(data)


def run_pipeline(name: str, /, **params: Any) -> PipelineRun:
    """Run pipeline ``name`` with ``params`` and wait for it to end; returns the run with its
    steps (check ``run.status``: a failed run is returned, not raised)."""
    client = get_client()
    started = client.start_pipeline(name, params)
    return client.wait_for_pipeline_run(started.id)


def set_monitor(endpoint: str, config: str | Path) -> Monitor:
    """Set (or replace) ``endpoint``'s monitor from YAML text or a YAML file's path."""
    return _monitoring.set_monitor(get_client(), endpoint, config)


def get_monitor(endpoint: str) -> Monitor:
    return _monitoring.get_monitor(get_client(), endpoint)


def run_monitor(
    endpoint: str, *, until: datetime | None = None, since: datetime | None = None
) -> list[WindowResult]:
    """Compute every window closed since the monitor's last run (``since``: again from then)."""
    return _monitoring.run_monitor(get_client(), endpoint, until=until, since=since)


def monitor_values(
    endpoint: str,
    *,
    metric: str | None = None,
    prefix: str | None = None,
    since: datetime | None = None,
    limit: int | None = None,
) -> list[MonitorValue]:
    """Stored values, oldest window first (``limit``: the last N windows)."""
    return _monitoring.monitor_values(
        get_client(), endpoint, metric=metric, prefix=prefix, since=since, limit=limit
    )


def report(
    project: str | None = None,
    *,
    endpoint: str | None = None,
    since: datetime | str | None = None,
    until: datetime | str | None = None,
) -> Report:
    """The measure of the loop over ``[since, until)`` (default: the last 30 days): lead
    times, delivery figures, the maturity map and hours per month (docs/report.md)."""
    return get_client().report(project=project, endpoint=endpoint, since=since, until=until)
