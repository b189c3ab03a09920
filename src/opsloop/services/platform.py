"""The services wired to their stores: ``Platform.open(settings)`` is opsloop in one object."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

from opsloop.domain.settings import Settings
from opsloop.services.alerts.service import AlertService
from opsloop.services.auth import AuthService
from opsloop.services.datasets import DatasetService
from opsloop.services.deployments import DeploymentService
from opsloop.services.evaluation.service import EvaluationService
from opsloop.services.events import EventService
from opsloop.services.feedback import FeedbackService
from opsloop.services.monitoring import MonitorService
from opsloop.services.pipelines.service import PipelineService
from opsloop.services.pipelines.trigger_service import TriggerService
from opsloop.services.projects import ProjectService
from opsloop.services.registry import RegistryService
from opsloop.services.report.service import ReportService
from opsloop.services.review import ReviewService
from opsloop.services.serving.counters import RequestCounters
from opsloop.services.tracking import TrackingService
from opsloop.store.artifacts import ArtifactStore
from opsloop.store.database import Database
from opsloop.store.prediction_log import PredictionLog

if TYPE_CHECKING:
    from opsloop.services.serving.host import ServingHost


@dataclass
class Platform:
    settings: Settings
    db: Database
    artifacts: ArtifactStore
    projects: ProjectService
    tracking: TrackingService
    datasets: DatasetService
    registry: RegistryService
    events: EventService
    deployments: DeploymentService
    predictions: PredictionLog
    feedback: FeedbackService
    auth: AuthService
    evaluations: EvaluationService
    pipelines: PipelineService
    triggers: TriggerService
    counters: RequestCounters
    alerts: AlertService
    monitoring: MonitorService
    review: ReviewService
    report: ReportService
    serving: ServingHost | None = None  # the first app's host, shared by embedded clients
    _closers: list[Callable[[], None]] = field(default_factory=list)

    @classmethod
    def open(cls, settings: Settings) -> Platform:
        db = Database(settings.database_url)
        db.migrate()
        db.refresh_statistics()
        artifacts = ArtifactStore(settings.artifacts)
        projects = ProjectService(db)
        registry = RegistryService(db, artifacts, projects)
        deployments = DeploymentService(db, projects, registry)
        predictions = PredictionLog(settings.predictions, fsync=settings.predictions_fsync)
        datasets = DatasetService(db, artifacts, projects)
        pipelines = PipelineService(db, artifacts, settings)
        counters = RequestCounters()
        alerts = AlertService(db, deployments, start_pipeline=pipelines.start)
        feedback = FeedbackService(db, deployments, predictions)
        opened = cls(
            settings=settings,
            db=db,
            artifacts=artifacts,
            projects=projects,
            tracking=TrackingService(db, artifacts, projects),
            datasets=datasets,
            registry=registry,
            events=EventService(db),
            deployments=deployments,
            predictions=predictions,
            feedback=feedback,
            review=ReviewService(db, deployments, registry, feedback, predictions),
            auth=AuthService(db, enabled=settings.auth),
            evaluations=EvaluationService(db, registry, datasets, deployments),
            pipelines=pipelines,
            triggers=TriggerService(pipelines, predictions),
            counters=counters,
            alerts=alerts,
            monitoring=MonitorService(
                db, deployments, registry, datasets, predictions, alerts=alerts, counters=counters
            ),
            report=ReportService(db, predictions),
        )
        opened.pipelines.attach(opened)
        opened.pipelines.recover()  # runs a dead process left behind are marked failed
        return opened

    def on_close(self, closer: Callable[[], None]) -> None:
        """Run ``closer`` when the platform closes (before its stores are)."""
        self._closers.append(closer)

    def close(self) -> None:
        for closer in reversed(self._closers):
            closer()
        self._closers.clear()
        self.pipelines.close()
        self.predictions.close()
        self.db.dispose()
