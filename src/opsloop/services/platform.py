"""The services wired to their stores: ``Platform.open(settings)`` is opsloop in one object."""

from __future__ import annotations

from dataclasses import dataclass

from opsloop.domain.settings import Settings
from opsloop.services.datasets import DatasetService
from opsloop.services.events import EventService
from opsloop.services.projects import ProjectService
from opsloop.services.registry import RegistryService
from opsloop.services.tracking import TrackingService
from opsloop.store.artifacts import ArtifactStore
from opsloop.store.database import Database


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

    @classmethod
    def open(cls, settings: Settings) -> Platform:
        db = Database(settings.database_url)
        db.migrate()
        db.refresh_statistics()
        artifacts = ArtifactStore(settings.artifacts)
        projects = ProjectService(db)
        return cls(
            settings=settings,
            db=db,
            artifacts=artifacts,
            projects=projects,
            tracking=TrackingService(db, artifacts, projects),
            datasets=DatasetService(db, artifacts, projects),
            registry=RegistryService(db, artifacts, projects),
            events=EventService(db),
        )

    def close(self) -> None:
        self.db.dispose()
