"""The three servers of ``benchmarks/serving.py``, each started, answering, and always stopped.

opsloop registers the model in a fresh embedded store and runs ``opsloop serve``; MLflow
saves it with ``peer_mlflow_serving.py`` in its own venv and runs ``mlflow models serve``;
the minimal app is ``_minimal_fastapi.py`` under the project venv's uvicorn.
"""

from __future__ import annotations

import contextlib
import importlib.util
import os
import sys
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from _peers import free_port, peer_python, run_peer
from _servers import Server, running

HERE = Path(__file__).resolve().parent
MLFLOW_REQUIREMENTS = ["mlflow==3.17.*"]  # the same cached venv as benchmarks/tracking.py
MODEL_NAME, ENDPOINT = "bench/clf", "bench"


@dataclass
class Target:
    """A server under test, up and answering."""

    name: str
    server: Server
    predict_path: str
    info: dict[str, Any] = field(default_factory=dict)

    @property
    def predict_url(self) -> str:
        return self.server.url + self.predict_path


# --- the model ---------------------------------------------------------------------------


def fit_model(workdir: Path) -> tuple[Any, Any, Path, Path]:
    """Fit the model; returns (model, X, joblib path, .npy path of a 5-row input example)."""
    import joblib
    import numpy as np
    from sklearn.datasets import load_breast_cancer
    from sklearn.linear_model import LogisticRegression

    X, y = load_breast_cancer(return_X_y=True)
    model = LogisticRegression(max_iter=5000).fit(X, y)
    model_path, example_path = workdir / "model.joblib", workdir / "example.npy"
    joblib.dump(model, model_path)
    np.save(example_path, X[:5])
    return model, X, model_path, example_path


def sanity_rows(model: Any, X: Any, per_class: int = 3) -> list[int]:
    """Row indices with both predicted classes, so a server that answers a constant fails."""
    predicted = model.predict(X)
    rows: list[int] = []
    for cls in sorted(set(predicted.tolist())):
        rows += [i for i, p in enumerate(predicted.tolist()) if p == cls][:per_class]
    return rows


# --- the three servers -------------------------------------------------------------------


def _base_env() -> dict[str, str]:
    env = dict(os.environ)
    for key in ("PYTHONPATH", "VIRTUAL_ENV"):
        env.pop(key, None)
    env["NO_PROXY"] = env["no_proxy"] = "127.0.0.1,localhost"
    return env


def _uvicorn_picks() -> dict[str, str]:
    """What uvicorn's ``auto`` loop and http pick in this (the project's) venv."""
    has = importlib.util.find_spec
    return {
        "loop": "uvloop" if has("uvloop") else "asyncio",
        "http": "httptools" if has("httptools") else "h11",
    }


def prepare_opsloop(home: Path, model: Any, example: Any) -> str:
    """Register ``model`` in a fresh embedded store at ``home`` and deploy it to ``ENDPOINT``.

    The one place that knows opsloop's SDK: if a keyword moves, fix it here.
    """
    import opsloop

    client = opsloop.connect(home=str(home))
    try:
        version = opsloop.register_model(model, MODEL_NAME, input_example=example)
        ref = f"{MODEL_NAME}@{version.version}"
        # A forced deploy: the benchmark model has no evaluation verdict to gate on.
        opsloop.deploy(ref, endpoint=ENDPOINT, force=True, reason="benchmark")
    finally:
        client.close()
    return ref


@contextlib.contextmanager
def opsloop_server(workdir: Path, model: Any, X: Any, timeout: float) -> Iterator[Target]:
    home = workdir / "opsloop-home"
    ref = prepare_opsloop(home, model, X[:5])
    cli = Path(sys.executable).parent / "opsloop"
    cmd = [str(cli)] if cli.exists() else [sys.executable, "-m", "opsloop.cli.main"]
    port = free_port()
    cmd += ["serve", ENDPOINT, "--host", "127.0.0.1", "--port", str(port)]
    env = {**_base_env(), "OPSLOOP_HOME": str(home)}
    with running(
        "opsloop serve", cmd, port=port, ready_path="/healthz", env=env, cwd=workdir,
        log_path=workdir / "opsloop-serve.log", timeout=timeout,
    ) as server:  # fmt: skip
        info = {"model": ref, "prediction_logging": "on (default)", **_uvicorn_picks()}
        yield Target("opsloop", server, f"/endpoints/{ENDPOINT}/predict", info)


@contextlib.contextmanager
def mlflow_server(
    workdir: Path, model_path: Path, example_path: Path, timeout: float
) -> Iterator[Target]:
    python = peer_python("mlflow", MLFLOW_REQUIREMENTS)
    model_dir = workdir / "mlflow-model"
    info = run_peer(
        python,
        HERE / "peer_mlflow_serving.py",
        "--model", str(model_path), "--example", str(example_path), "--out", str(model_dir),
        timeout=600,
    )  # fmt: skip
    port = free_port()
    bin_dir = python.parent
    cmd = [str(bin_dir / "mlflow"), "models", "serve", "-m", str(model_dir)]
    cmd += ["--env-manager", "local", "--workers", "1", "--host", "127.0.0.1", "--port", str(port)]
    env = _base_env()
    env.update(
        {
            "PATH": str(bin_dir) + os.pathsep + env.get("PATH", ""),  # it runs `uvicorn` by name
            # mlflow passes no --no-access-log; uvicorn's CLI reads UVICORN_<OPTION> instead.
            "UVICORN_ACCESS_LOG": "false",
            "MLFLOW_DISABLE_TELEMETRY": "true",
            "DO_NOT_TRACK": "true",
            "GIT_PYTHON_REFRESH": "quiet",
        }
    )
    for key in ("MLFLOW_TRACKING_URI", "MLFLOW_REGISTRY_URI"):
        env.pop(key, None)
    with running(
        "mlflow models serve", cmd, port=port, ready_path="/ping", env=env, cwd=workdir,
        log_path=workdir / "mlflow-serve.log", timeout=timeout,
    ) as server:  # fmt: skip
        yield Target("mlflow", server, "/invocations", info)


@contextlib.contextmanager
def fastapi_server(workdir: Path, model_path: Path, timeout: float) -> Iterator[Target]:
    port = free_port()
    cmd = [sys.executable, "-m", "uvicorn", "_minimal_fastapi:app", "--app-dir", str(HERE)]
    cmd += ["--host", "127.0.0.1", "--port", str(port), "--workers", "1", "--no-access-log"]
    env = {**_base_env(), "BENCH_MODEL_PATH": str(model_path)}
    with running(
        "minimal FastAPI", cmd, port=port, ready_path="/docs", env=env, cwd=workdir,
        log_path=workdir / "fastapi.log", timeout=timeout,
    ) as server:  # fmt: skip
        import uvicorn

        info = {"uvicorn_version": uvicorn.__version__, **_uvicorn_picks()}
        yield Target("fastapi", server, "/predict", info)
