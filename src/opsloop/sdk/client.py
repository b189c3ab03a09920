"""``Client``: every SDK call is one request to the REST API (sent by ``Connection``)."""

from __future__ import annotations

import hashlib
from collections.abc import Mapping, Sequence
from datetime import datetime
from typing import Any

from opsloop.domain.auth import IssuedToken, Token
from opsloop.domain.deployments import Deployment, Endpoint, FeedbackReceipt
from opsloop.domain.entities import (
    AliasMove,
    Dataset,
    DatasetVersion,
    Event,
    Experiment,
    MetricSeries,
    Model,
    ModelVersion,
    Project,
    Run,
    Signature,
)
from opsloop.domain.errors import IntegrityError, Unavailable
from opsloop.domain.evaluation import Evaluation
from opsloop.domain.names import DatasetRef, ModelRef
from opsloop.domain.pipelines import PipelineInfo, PipelineRun, PipelineTrigger
from opsloop.domain.report import Report
from opsloop.domain.validation import DatasetValidation
from opsloop.sdk.connection import Connection


class Client(Connection):
    """Talks to opsloop: one typed method per API call. ``Client()`` follows the settings
    (``OPSLOOP_URL`` set → remote); ``Client.over(platform, actor)`` talks to an open platform
    in process."""

    # -- artifacts ----------------------------------------------------------------------
    def upload(self, data: bytes) -> str:
        digest = hashlib.sha256(data).hexdigest()
        self.request("PUT", f"/artifacts/{digest}", content=data)
        return digest

    def download(self, sha256: str) -> bytes:
        data = self.request("GET", f"/artifacts/{sha256}")
        if hashlib.sha256(data).hexdigest() != sha256:
            raise IntegrityError(f"artifact {sha256} arrived altered", field="sha256")
        return data

    # -- projects and events ------------------------------------------------------------
    def list_projects(self) -> list[Project]:
        return [Project.model_validate(p) for p in self._json("GET", "/projects")]

    def create_project(self, name: str, description: str = "") -> Project:
        return Project.model_validate(
            self._json("POST", "/projects", json={"name": name, "description": description})
        )

    def list_experiments(self, project: str) -> list[Experiment]:
        return [
            Experiment.model_validate(e)
            for e in self._json("GET", f"/projects/{project}/experiments")
        ]

    def events(self, **query: Any) -> list[Event]:
        params = {k: v for k, v in query.items() if v is not None}
        return [Event.model_validate(e) for e in self._json("GET", "/events", params=params)]

    # -- runs -----------------------------------------------------------------------------
    def create_run(self, **body: Any) -> Run:
        return Run.model_validate(self._json("POST", "/runs", json=body))

    def log_batch(
        self,
        run_id: str,
        *,
        params: dict[str, Any] | None = None,
        tags: dict[str, Any] | None = None,
        metrics: Mapping[str, MetricSeries | Mapping[str, Sequence[Any]]] | None = None,
    ) -> int:
        body = _batch(params, tags, metrics)
        written: int = self._json("POST", f"/runs/{run_id}/log", json=body)["metrics_written"]
        return written

    def end_run(
        self,
        run_id: str,
        status: str = "FINISHED",
        error: str | None = None,
        *,
        params: dict[str, Any] | None = None,
        tags: dict[str, Any] | None = None,
        metrics: Mapping[str, MetricSeries | Mapping[str, Sequence[Any]]] | None = None,
    ) -> Run:
        body = {"status": status, "error": error, **_batch(params, tags, metrics)}
        return Run.model_validate(self._json("POST", f"/runs/{run_id}/end", json=body))

    def get_run(self, run_id: str) -> Run:
        return Run.model_validate(self._json("GET", f"/runs/{run_id}"))

    def metric_history(self, run_id: str, key: str) -> MetricSeries:
        return MetricSeries.model_validate(self._json("GET", f"/runs/{run_id}/metrics/{key}"))

    def search_runs(
        self,
        project: str,
        *,
        filter: str | None = None,
        order_by: str | None = None,
        experiment: str | None = None,
        limit: int = 100,
        offset: int = 0,
    ) -> tuple[list[Run], int]:
        params = {
            k: v
            for k, v in {
                "filter": filter,
                "order_by": order_by,
                "experiment": experiment,
                "limit": limit,
                "offset": offset,
            }.items()
            if v is not None
        }
        found = self._json("GET", f"/projects/{project}/runs", params=params)
        return [Run.model_validate(r) for r in found["runs"]], int(found["total"])

    def add_run_input(self, run_id: str, dataset: str) -> Run:
        return Run.model_validate(
            self._json("POST", f"/runs/{run_id}/inputs", json={"dataset": dataset})
        )

    def add_run_artifact(self, run_id: str, path: str, sha256: str) -> Run:
        return Run.model_validate(
            self._json("POST", f"/runs/{run_id}/artifacts", json={"path": path, "sha256": sha256})
        )

    # -- datasets -------------------------------------------------------------------------
    def create_dataset_version(
        self,
        project: str,
        name: str,
        sha256: str,
        *,
        parents: list[str],
        source: str,
        description: str,
    ) -> DatasetVersion:
        body = {"sha256": sha256, "parents": parents, "source": source, "description": description}
        return DatasetVersion.model_validate(
            self._json("POST", f"/projects/{project}/datasets/{name}/versions", json=body)
        )

    def get_dataset_version(self, ref: DatasetRef) -> DatasetVersion:
        version = "latest" if ref.version is None else str(ref.version)
        return DatasetVersion.model_validate(
            self._json("GET", f"/projects/{ref.project}/datasets/{ref.dataset}/versions/{version}")
        )

    def list_dataset_versions(self, project: str, name: str) -> list[DatasetVersion]:
        return [
            DatasetVersion.model_validate(v)
            for v in self._json("GET", f"/projects/{project}/datasets/{name}/versions")
        ]

    def list_datasets(self, project: str | None = None) -> list[Dataset]:
        params = {"project": project} if project else {}
        return [Dataset.model_validate(d) for d in self._json("GET", "/datasets", params=params)]

    def validate_dataset(
        self, ref: DatasetRef, against: str, features: Sequence[str] | None = None
    ) -> DatasetValidation:
        version = "latest" if ref.version is None else str(ref.version)
        path = f"/projects/{ref.project}/datasets/{ref.dataset}/versions/{version}/validations"
        body = {"against": against, "features": None if features is None else list(features)}
        return DatasetValidation.model_validate(self._json("POST", path, json=body))

    # -- models ---------------------------------------------------------------------------
    def register_version(
        self,
        project: str,
        model: str,
        *,
        flavor: str,
        sha256: str,
        signature: Signature,
        run_id: str | None,
        description: str,
    ) -> ModelVersion:
        body = {
            "flavor": flavor,
            "sha256": sha256,
            "run_id": run_id,
            "signature": signature.model_dump(mode="json", exclude_none=True),
            "description": description,
        }
        return ModelVersion.model_validate(
            self._json("POST", f"/projects/{project}/models/{model}/versions", json=body)
        )

    def get_model_version(self, ref: ModelRef) -> ModelVersion:
        return ModelVersion.model_validate(self._json("GET", _version_path(ref)))

    def list_models(self, project: str | None = None) -> list[Model]:
        params = {"project": project} if project else {}
        return [Model.model_validate(m) for m in self._json("GET", "/models", params=params)]

    def get_model(self, project: str, name: str) -> Model:
        return Model.model_validate(self._json("GET", f"/projects/{project}/models/{name}"))

    def list_model_versions(self, project: str, name: str) -> list[ModelVersion]:
        return [
            ModelVersion.model_validate(v)
            for v in self._json("GET", f"/projects/{project}/models/{name}/versions")
        ]

    def set_alias(
        self, project: str, model: str, alias: str, version: int, reason: str = ""
    ) -> AliasMove:
        return AliasMove.model_validate(
            self._json(
                "PUT",
                f"/projects/{project}/models/{model}/aliases/{alias}",
                json={"version": version, "reason": reason},
            )
        )

    def remove_alias(self, project: str, model: str, alias: str) -> AliasMove:
        return AliasMove.model_validate(
            self._json("DELETE", f"/projects/{project}/models/{model}/aliases/{alias}")
        )

    def alias_history(self, project: str, model: str, alias: str) -> list[AliasMove]:
        return [
            AliasMove.model_validate(m)
            for m in self._json(
                "GET", f"/projects/{project}/models/{model}/aliases/{alias}/history"
            )
        ]

    # -- endpoints ----------------------------------------------------------------------
    def list_endpoints(self, project: str | None = None) -> list[Endpoint]:
        params = {"project": project} if project else {}
        return [Endpoint.model_validate(e) for e in self._json("GET", "/endpoints", params=params)]

    def get_endpoint(self, name: str) -> Endpoint:
        return Endpoint.model_validate(self._json("GET", f"/endpoints/{name}"))

    def deployment_history(self, name: str, limit: int = 1000) -> list[Deployment]:
        found = self._json("GET", f"/endpoints/{name}/deployments", params={"limit": limit})
        return [Deployment.model_validate(d) for d in found]

    def deploy(self, endpoint: str, model: str, **options: Any) -> Deployment:
        """``options``: canary (percent), shadow, force, reason."""
        body = {"model": model, **options}
        return Deployment.model_validate(
            self._json("POST", f"/endpoints/{endpoint}/deployments", json=body)
        )

    def promote(self, endpoint: str, reason: str = "") -> Deployment:
        return Deployment.model_validate(
            self._json("POST", f"/endpoints/{endpoint}/promote", json={"reason": reason})
        )

    def rollback(
        self, endpoint: str, *, steps: int = 1, number: int | None = None, reason: str = ""
    ) -> Deployment:
        body = {"steps": steps, "number": number, "reason": reason}
        return Deployment.model_validate(
            self._json("POST", f"/endpoints/{endpoint}/rollback", json=body)
        )

    def predict(
        self,
        endpoint: str,
        inputs: Sequence[Any],
        ids: Sequence[str] | None = None,
        key: str | None = None,
    ) -> dict[str, Any]:
        body: dict[str, Any] = {"inputs": list(inputs)}
        if ids is not None:
            body["ids"] = list(ids)
        if key is not None:
            body["key"] = key
        answer: dict[str, Any] = self._json(
            "POST", f"/endpoints/{endpoint}/predict", json=body, api=False
        )
        return answer

    def send_feedback(
        self, endpoint: str, labels: Sequence[Mapping[str, Any]], source: str = "user"
    ) -> FeedbackReceipt:
        body = {"feedback": [dict(item) for item in labels], "source": source}
        return FeedbackReceipt.model_validate(
            self._json("POST", f"/endpoints/{endpoint}/feedback", json=body, api=False)
        )

    def export_predictions(self, endpoint: str, **query: Any) -> bytes:
        """Parquet bytes (``format="csv"`` or ``"jsonl"`` for others); ``since``, ``until``,
        ``role``, ``inputs`` filter."""
        return self.request("GET", f"/endpoints/{endpoint}/predictions", params=_query(query))

    # -- evaluations ------------------------------------------------------------------
    def evaluate(self, ref: ModelRef, dataset: str, **options: Any) -> Evaluation:
        """``options``: gate (YAML text), endpoint, target, segment."""
        body = {"dataset": dataset, **options}
        path = _version_path(ref) + "/evaluations"
        return Evaluation.model_validate(self._json("POST", path, json=body))

    def list_evaluations(self, ref: ModelRef) -> list[Evaluation]:
        path = _version_path(ref) + "/evaluations"
        return [Evaluation.model_validate(e) for e in self._json("GET", path)]

    def get_evaluation(self, evaluation_id: int) -> Evaluation:
        return Evaluation.model_validate(self._json("GET", f"/evaluations/{evaluation_id}"))

    # -- pipelines ------------------------------------------------------------------------
    def list_pipelines(self) -> list[PipelineInfo]:
        return [PipelineInfo.model_validate(p) for p in self._json("GET", "/pipelines")]

    def start_pipeline(
        self,
        name: str,
        params: Mapping[str, Any] | None = None,
        *,
        wait: bool = False,
        executor: str | None = None,
    ) -> PipelineRun:
        """Start a run (``wait``: answer when it has ended; a long run is better polled)."""
        body: dict[str, Any] = {"params": dict(params or {}), "wait": wait}
        if executor is not None:
            body["executor"] = executor
        return PipelineRun.model_validate(self._json("POST", f"/pipelines/{name}/runs", json=body))

    def get_pipeline_run(self, run_id: str) -> PipelineRun:
        return PipelineRun.model_validate(self._json("GET", f"/pipeline-runs/{run_id}"))

    def list_pipeline_runs(
        self, pipeline: str | None = None, *, limit: int = 100, status: str | None = None
    ) -> list[PipelineRun]:
        params = {
            k: v for k, v in {"pipeline": pipeline, "limit": limit, "status": status}.items() if v
        }
        found = self._json("GET", "/pipeline-runs", params=params)
        return [PipelineRun.model_validate(r) for r in found]

    def wait_for_pipeline_run(
        self, run_id: str, *, poll_s: float = 1.0, timeout_s: float | None = None
    ) -> PipelineRun:
        """Poll a run until it has ended (its steps come with it)."""
        import time

        deadline = None if timeout_s is None else time.monotonic() + timeout_s
        pause = 0.02
        while True:
            run = self.get_pipeline_run(run_id)
            if run.finished:
                return run
            if deadline is not None and time.monotonic() > deadline:
                raise Unavailable(
                    f"pipeline run {run_id} did not end within {timeout_s:g} s", field="run_id"
                )
            time.sleep(pause)
            pause = min(poll_s, pause * 2)

    def create_pipeline_trigger(
        self,
        pipeline: str,
        kind: str,
        spec: Mapping[str, Any],
        params: Mapping[str, Any] | None = None,
    ) -> PipelineTrigger:
        body = {"kind": kind, "spec": dict(spec), "params": dict(params or {})}
        return PipelineTrigger.model_validate(
            self._json("POST", f"/pipelines/{pipeline}/triggers", json=body)
        )

    def list_pipeline_triggers(self, pipeline: str | None = None) -> list[PipelineTrigger]:
        path = "/pipeline-triggers" if pipeline is None else f"/pipelines/{pipeline}/triggers"
        return [PipelineTrigger.model_validate(t) for t in self._json("GET", path)]

    def delete_pipeline_trigger(self, pipeline: str, trigger_id: int) -> PipelineTrigger:
        return PipelineTrigger.model_validate(
            self._json("DELETE", f"/pipelines/{pipeline}/triggers/{trigger_id}")
        )

    # -- the report -----------------------------------------------------------------------
    def report(self, **query: Any) -> Report:
        """``query``: project, endpoint, since, until (datetimes or ISO text)."""
        return Report.model_validate(self._json("GET", "/report", params=_query(query)))

    # -- tokens -------------------------------------------------------------------------
    def create_token(self, role: str, **options: Any) -> IssuedToken:
        """``options``: name, endpoint, expires_at."""
        body = {"role": role, **{k: _query_value(v) for k, v in options.items()}}
        return IssuedToken.model_validate(self._json("POST", "/tokens", json=body))

    def list_tokens(self, revoked: bool = False) -> list[Token]:
        found = self._json("GET", "/tokens", params={"revoked": str(revoked).lower()})
        return [Token.model_validate(t) for t in found]

    def revoke_token(self, token_id: str) -> Token:
        return Token.model_validate(self._json("DELETE", f"/tokens/{token_id}"))


def _version_path(ref: ModelRef) -> str:
    """A model version's URL: pinned by number, alias, or ``latest``."""
    pin = ref.version if ref.version is not None else (ref.alias or "latest")
    return f"/projects/{ref.project}/models/{ref.model}/versions/{pin}"


def _query(query: Mapping[str, Any]) -> dict[str, Any]:
    """Query parameters: the given ones, times as ISO text, booleans as true/false."""
    return {key: _query_value(value) for key, value in query.items() if value is not None}


def _query_value(value: Any) -> Any:
    if isinstance(value, datetime):
        return value.isoformat()
    if isinstance(value, bool):
        return str(value).lower()
    return value


def _batch(
    params: dict[str, Any] | None,
    tags: dict[str, Any] | None,
    metrics: Mapping[str, MetricSeries | Mapping[str, Sequence[Any]]] | None,
) -> dict[str, Any]:
    body: dict[str, Any] = {}
    if params:
        body["params"] = params
    if tags:
        body["tags"] = tags
    if metrics:
        body["metrics"] = {
            key: s.model_dump() if isinstance(s, MetricSeries) else s for key, s in metrics.items()
        }
    return body
