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
}

__all__ = [
    "ActiveRun",
    "Client",
    "Conflict",
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
    "evaluate",
    "export_predictions",
    "get_client",
    "get_dataset",
    "get_model_version",
    "get_run",
    "load_dataset",
    "load_model",
    "log_dataset",
    "predict",
    "promote",
    "register_model",
    "rollback",
    "search_runs",
    "send_feedback",
    "set_alias",
    "start_run",
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
        get_run,
        load_dataset,
        load_model,
        log_dataset,
        predict,
        promote,
        register_model,
        rollback,
        search_runs,
        send_feedback,
        set_alias,
        start_run,
    )
    from opsloop.sdk.client import Client
    from opsloop.sdk.run import ActiveRun
    from opsloop.server.app import create_app


def __getattr__(name: str) -> Any:
    import importlib

    if name in _SDK:
        return getattr(importlib.import_module("opsloop.sdk.api"), name)
    if name in _OTHER:
        return getattr(importlib.import_module(_OTHER[name]), name)
    raise AttributeError(f"module 'opsloop' has no attribute {name!r}")
