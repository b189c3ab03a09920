"""Save the serving benchmark's model as an MLflow model; run INSIDE the MLflow peer venv.

    python peer_mlflow_serving.py --model model.joblib --example example.npy --out DIR

Loads the fitted scikit-learn model (pickled with joblib by ``serving.py``), saves it with
``mlflow.sklearn.save_model`` and a NumPy input example (so the signature is a tensor spec and
``{"inputs": [[...]]}`` is the body ``/invocations`` takes), then prints one JSON object as the
last line of stdout: versions, and which event loop and HTTP parser uvicorn will pick here.
``serving.py`` starts ``mlflow models serve`` itself, so it owns the process group.
"""

from __future__ import annotations

import os

# Keep MLflow off the network and quiet; must be set before mlflow is imported.
os.environ.update(
    {
        "MLFLOW_DISABLE_TELEMETRY": "true",
        "DO_NOT_TRACK": "true",
        "MLFLOW_DISABLE_AGENT_HINT": "1",
        "GIT_PYTHON_REFRESH": "quiet",
        "PYTHONWARNINGS": "ignore",
    }
)

import argparse
import importlib.util
import json
import logging
import sys
import warnings
from pathlib import Path

warnings.filterwarnings("ignore")

import joblib  # type: ignore[import-not-found, unused-ignore]  # noqa: E402
import mlflow  # type: ignore[import-not-found, unused-ignore]  # noqa: E402
import mlflow.sklearn  # type: ignore[import-not-found, unused-ignore]  # noqa: E402
import numpy as np  # type: ignore[import-not-found, unused-ignore]  # noqa: E402
import sklearn  # type: ignore[import-not-found, unused-ignore]  # noqa: E402
import uvicorn  # type: ignore[import-not-found, unused-ignore]  # noqa: E402

logging.getLogger("mlflow").setLevel(logging.ERROR)


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=(__doc__ or "").splitlines()[0])
    ap.add_argument("--model", required=True, type=Path, help="joblib file of the fitted model")
    ap.add_argument("--example", required=True, type=Path, help=".npy file, a few input rows")
    ap.add_argument("--out", required=True, type=Path, help="MLflow model folder (must not exist)")
    args = ap.parse_args(argv)

    model = joblib.load(args.model)
    example = np.load(args.example)
    mlflow.sklearn.save_model(
        model,
        str(args.out),
        input_example=example,
        # Explicit requirements skip MLflow's inference (a subprocess that reloads the model);
        # `--env-manager local` ignores them anyway.
        pip_requirements=[f"scikit-learn=={sklearn.__version__}"],
    )
    has = importlib.util.find_spec
    out = {
        "mlflow_version": mlflow.__version__,
        "sklearn_version": sklearn.__version__,
        "uvicorn_version": uvicorn.__version__,
        "python": sys.version.split()[0],
        # What uvicorn's "auto" picks: uvloop and httptools when installed.
        "loop": "uvloop" if has("uvloop") else "asyncio",
        "http": "httptools" if has("httptools") else "h11",
    }
    print(json.dumps(out, sort_keys=True), flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
