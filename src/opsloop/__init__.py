"""opsloop: the whole MLOps loop in one package.

The object map::

    Project ─┬─ Dataset ── DatasetVersion (Parquet + profile + lineage)
             ├─ Experiment ── Run (params, metric history, tags, inputs, artifacts)
             └─ Model ── ModelVersion (flavor, sha256 artifact, signature, source run)
                               ▲
                             Alias (champion, challenger...; every move is an Event)
             Evaluation (metrics beside the champion + a gate's go / no-go) ──┘
    Endpoint ── Deployment (traffic plan: primary, canary share, shadow) ── Prediction log
                                                                            └ Feedback
    Monitor (per endpoint: windows of the log → drift, live and estimated accuracy, quality,
             service values) ── Alert (fires, resolves; notifies, rolls back, runs a pipeline)
    Pipeline (@pipeline over @step functions) ── PipelineRun ── StepRun (cached, attempts, log)
             └ PipelineTrigger (cron, N new labels, a new dataset version; or an alert)

Everyday use::

    ds = opsloop.log_dataset(df, "emails", project="moderation")
    with opsloop.start_run(project="moderation", name="lr") as run:
        run.use_dataset(ds)
        run.log_params({"C": 1.0})
        run.log_metric("loss", 0.3, step=1)
        mv = run.log_model(model, "violation", input_example=X[:5])
    opsloop.evaluate(mv.ref, "moderation/emails", gate="gates/moderation.yaml")
    opsloop.deploy(mv.ref, endpoint="moderation", canary=10)
    opsloop.predict("moderation", [{"num_char": 12.0, ...}])   # logged, with a request id
    opsloop.promote("moderation")                              # or opsloop.rollback(...)

    @opsloop.step(retries=2)
    def train(data): ...
    @opsloop.pipeline(project="moderation")
    def retrain(dataset: str = "moderation/emails"): train(opsloop.load_dataset(dataset))
    opsloop.run_pipeline("retrain")                            # a PipelineRun, step by step

    opsloop.drift(training_df, window_df).drifted    # per column: test, statistic, p-value
    opsloop.validate_dataset("moderation/emails@2", against="moderation/emails@1").verdict
    opsloop.set_monitor("moderation", "monitor.yaml")  # windows: drift, live accuracy, alerts
    opsloop.report("moderation").stages              # the maturity map, from the Event log

Embedded by default (a SQLite file and a folder under ``./.opsloop``); set ``OPSLOOP_URL`` (or
call ``opsloop.connect(url=...)``) to talk to an ``opsloop server`` instead. Names load lazily,
so ``import opsloop`` stays cheap.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

__version__ = "0.1.0"

_SDK = (
    "active_run",
    "connect",
    "send_feedback",
    "rollback",
    "promote",
    "predict",
    "export_predictions",
    "evaluate",
    "deploy",
    "get_client",
    "get_dataset",
    "get_model_version",
    "get_run",
    "load_dataset",
    "load_model",
    "log_dataset",
    "register_model",
    "search_runs",
    "set_alias",
    "start_run",
    "step",
    "pipeline",
    "run_pipeline",
    "set_monitor",
    "get_monitor",
    "run_monitor",
    "monitor_values",
    "validate_dataset",
    "report",
)
_OTHER = {
    "Client": "opsloop.sdk.client",
    "ActiveRun": "opsloop.sdk.run",
    "Settings": "opsloop.domain.settings",
    "OpsloopError": "opsloop.domain.errors",
    "NotFound": "opsloop.domain.errors",
    "Conflict": "opsloop.domain.errors",
    "InvalidInput": "opsloop.domain.errors",
    "Unavailable": "opsloop.domain.errors",
    "create_app": "opsloop.server.app",
    "drift": "opsloop.sdk.drift",
    "DriftReference": "opsloop.services.drift",
    "DriftReport": "opsloop.services.drift",
    "DriftThresholds": "opsloop.services.drift",
}

__all__ = [
    "ActiveRun",
    "Client",
    "Conflict",
    "DriftReference",
    "DriftReport",
    "DriftThresholds",
    "InvalidInput",
    "NotFound",
    "OpsloopError",
    "Settings",
    "Unavailable",
    "__version__",
    "active_run",
    "connect",
    "create_app",
    "deploy",
    "drift",
    "evaluate",
    "export_predictions",
    "get_client",
    "get_dataset",
    "get_model_version",
    "get_monitor",
    "get_run",
    "load_dataset",
    "load_model",
    "log_dataset",
    "monitor_values",
    "pipeline",
    "predict",
    "promote",
    "register_model",
    "report",
    "rollback",
    "run_monitor",
    "run_pipeline",
    "search_runs",
    "send_feedback",
    "set_alias",
    "set_monitor",
    "start_run",
    "step",
    "validate_dataset",
]

if TYPE_CHECKING:
    from opsloop.domain.errors import (
        Conflict,
        InvalidInput,
        NotFound,
        OpsloopError,
        Unavailable,
    )
    from opsloop.domain.settings import Settings
    from opsloop.sdk.api import (
        active_run,
        connect,
        deploy,
        evaluate,
        export_predictions,
        get_client,
        get_dataset,
        get_model_version,
        get_monitor,
        get_run,
        load_dataset,
        load_model,
        log_dataset,
        monitor_values,
        pipeline,
        predict,
        promote,
        register_model,
        report,
        rollback,
        run_monitor,
        run_pipeline,
        search_runs,
        send_feedback,
        set_alias,
        set_monitor,
        start_run,
        step,
        validate_dataset,
    )
    from opsloop.sdk.client import Client
    from opsloop.sdk.drift import drift
    from opsloop.sdk.run import ActiveRun
    from opsloop.server.app import create_app
    from opsloop.services.drift import DriftReference, DriftReport, DriftThresholds


def __getattr__(name: str) -> Any:
    import importlib

    if name in _SDK:
        return getattr(importlib.import_module("opsloop.sdk.api"), name)
    if name in _OTHER:
        return getattr(importlib.import_module(_OTHER[name]), name)
    raise AttributeError(f"module 'opsloop' has no attribute {name!r}")
