"""Evaluate a model version — and the champion, on the same rows — then judge it by a gate.

The verdict is stored as an Evaluation on the version; ``deploy`` reads the newest verdict for
its endpoint. The champion is the endpoint's primary when the gate names an endpoint, else the
model's ``champion`` alias.
"""

from __future__ import annotations

import time

from opsloop.domain.entities import Actor, ModelVersion
from opsloop.domain.errors import InvalidInput, NotFound
from opsloop.domain.evaluation import Evaluation, Gate, verdict
from opsloop.domain.names import DatasetRef, ModelRef, check_name
from opsloop.services.datasets import DatasetService
from opsloop.services.deployments import CHAMPION, DeploymentService
from opsloop.services.registry import RegistryService, subject_of
from opsloop.services.serving.inputs import InputSchema
from opsloop.store.database import Database
from opsloop.store.repos import evaluations, events, models
from opsloop.store.repos._time import now
from opsloop.store.repos.evaluations import VERDICTS, VerdictSummary


class EvaluationService:
    def __init__(
        self,
        db: Database,
        registry: RegistryService,
        datasets: DatasetService,
        deployments: DeploymentService,
    ) -> None:
        self.db = db
        self.registry = registry
        self.datasets = datasets
        self.deployments = deployments

    def evaluate(
        self,
        ref: ModelRef,
        data: DatasetRef,
        actor: Actor,
        *,
        gate: str | None = None,
        endpoint: str | None = None,
        target: str | None = None,
        segment: str | None = None,
    ) -> Evaluation:
        """Measure ``ref`` and the champion on ``data``; judge by ``gate`` (YAML) if given."""
        started = time.perf_counter()
        from opsloop.services.evaluation.measure import measure_on
        from opsloop.services.serving.runtime import LoadedModel

        policy = Gate.parse(gate) if gate is not None else Gate()
        endpoint = endpoint or policy.endpoint
        if endpoint is not None:
            check_name(endpoint, "endpoint")
        target = target or policy.target
        if not target:
            raise InvalidInput(
                "say which column holds the truth (--target, or target: in the gate)",
                field="target",
            )
        segment = segment or policy.segment
        candidate = self.registry.resolve(ref)
        table = self.datasets.read_table(data.project, data.dataset, data.version)
        frame = table.to_pandas()
        wanted = (target, "target"), (segment, "segment"), (policy.group, "group")
        for column, what in (*wanted, (policy.item, "item")):
            if column is not None and column not in frame.columns:
                raise InvalidInput(f"dataset {data} has no {what} column {column!r}", field=what)
        if len(frame) == 0:
            raise InvalidInput(f"dataset {data} has no rows", field="data")
        loaded = LoadedModel(candidate, self.registry.load(candidate))
        champion_version, serving = self._champion(candidate, endpoint)
        measure = measure_on(frame, target, segment, policy)
        report = measure(loaded)
        champion_report = None
        if champion_version is not None:
            champion = LoadedModel(champion_version, self.registry.load(champion_version))
            champion_report = measure(champion)
        compatible = None
        if serving is not None:
            compatible = compatible_inputs(candidate, serving)
        results = policy.judge(report, champion_report, signature_compatible=compatible)
        decided = verdict(results) if gate is not None else None
        created = now()
        body = {
            "task": report.task,
            "target": target,
            "segment": segment,
            "candidate": report.model_dump(mode="json"),
            "champion": None if champion_version is None else champion_version.ref,
            "champion_report": None
            if champion_report is None
            else champion_report.model_dump(mode="json"),
            "rules": [r.model_dump(mode="json") for r in results],
            "signature_compatible": compatible,
        }
        with self.db.begin() as conn:
            model_id = models.get_id(conn, candidate.project, candidate.model)
            evaluation_id = evaluations.insert(
                conn,
                model_version_id=models.version_id(conn, model_id, candidate.version),
                endpoint=endpoint,
                dataset=str(data),
                verdict=decided,
                gate=gate,
                report=body,
                created_at=created,
                created_by=actor.name,
            )
            events.append(
                conn,
                kind="model_version.evaluated",
                subject=subject_of(candidate.project, candidate.model),
                project=candidate.project,
                actor=actor.name,
                actor_kind=actor.kind,
                time=created,
                data={
                    "version": candidate.version,
                    "evaluation_id": evaluation_id,
                    "endpoint": endpoint,
                    "dataset": str(data),
                    "verdict": decided,
                    "champion": body["champion"],
                    "duration_s": round(time.perf_counter() - started, 6),
                },
            )
            return evaluations.get(conn, evaluation_id)

    def get(self, evaluation_id: int) -> Evaluation:
        with self.db.read() as conn:
            return evaluations.get(conn, evaluation_id)

    def for_version(self, ref: ModelRef) -> list[Evaluation]:
        version = self.registry.resolve(ref)
        with self.db.read() as conn:
            model_id = models.get_id(conn, version.project, version.model)
            return evaluations.for_version(conn, models.version_id(conn, model_id, version.version))

    def newest_verdicts(
        self, project: str, model: str, versions: list[int]
    ) -> dict[int, VerdictSummary]:
        """The newest gated evaluation of each of ``versions`` that has one."""
        with self.db.read() as conn:
            return evaluations.newest_verdicts(conn, models.get_id(conn, project, model), versions)

    def for_model(
        self,
        project: str,
        model: str,
        *,
        version: int | None = None,
        verdict: str | None = None,
        limit: int,
        offset: int = 0,
    ) -> tuple[list[Evaluation], int]:
        """A page of a model's evaluations, newest first: of one ``version``, with one
        ``verdict`` ("go", "no-go", or "none" for ungated); and how many match in all."""
        if verdict is not None and verdict not in VERDICTS:
            raise InvalidInput(
                f"verdict {verdict!r} must be one of {', '.join(VERDICTS)}", field="verdict"
            )
        with self.db.read() as conn:
            return evaluations.for_model(
                conn,
                models.get_id(conn, project, model),
                version=version,
                verdict=verdict,
                limit=limit,
                offset=offset,
            )

    def _champion(
        self, candidate: ModelVersion, endpoint: str | None
    ) -> tuple[ModelVersion | None, ModelVersion | None]:
        """(the version to compare with, the endpoint's primary) — either may be None."""
        serving = self._serving(endpoint)
        champion = serving
        if champion is None:
            try:
                champion = self.registry.resolve(
                    ModelRef(candidate.project, candidate.model, alias=CHAMPION)
                )
            except NotFound:
                champion = None
        if champion is not None and champion.ref == candidate.ref:
            champion = None  # the candidate is the champion already: nothing to compare
        return champion, serving

    def _serving(self, endpoint: str | None) -> ModelVersion | None:
        """The version an endpoint's primary is, if the endpoint exists and has one."""
        if endpoint is None:
            return None
        try:
            state = self.deployments.get(endpoint)
        except NotFound:
            return None
        primary = state.plan.primary
        if primary is None:
            return None
        return self.registry.resolve(
            ModelRef(state.project, primary.model, version=primary.version)
        )


def compatible_inputs(candidate: ModelVersion, serving: ModelVersion) -> bool:
    """Whether every request the serving model accepts is one the candidate accepts too."""
    new, old = InputSchema.of(candidate.signature), InputSchema.of(serving.signature)
    if new is None or old is None:
        return new is None
    return new.named == old.named and dict(zip(new.names, new.types, strict=True)) == dict(
        zip(old.names, old.types, strict=True)
    )
