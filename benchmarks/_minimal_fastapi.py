"""The serving benchmark's baseline: the model served the way the FastAPI tutorial teaches.

    BENCH_MODEL_PATH=model.joblib uvicorn _minimal_fastapi:app --app-dir benchmarks

A module-level app and model on purpose (opsloop's own code builds apps in a factory): this
is the hand-written app opsloop's serving is compared with, so it stays as plain as a
person would write it — a pydantic body, a ``def`` route, ``model.predict``.
"""

import os

import joblib
from fastapi import FastAPI
from pydantic import BaseModel

model = joblib.load(os.environ["BENCH_MODEL_PATH"])
app = FastAPI()


class PredictRequest(BaseModel):
    inputs: list[list[float]]


@app.post("/predict")
def predict(request: PredictRequest):
    return {"predictions": model.predict(request.inputs).tolist()}
