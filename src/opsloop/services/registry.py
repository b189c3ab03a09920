"""The model registry: models, immutable versions, and aliases whose every move is an Event."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from sqlalchemy import Connection
from sqlalchemy.exc import IntegrityError as SQLIntegrityError

from opsloop.domain.entities import (
    Actor,
    AliasMove,
    DatasetVersion,
    Model,
    ModelVersion,
    Run,
    Signature,
)
from opsloop.domain.errors import Conflict, InvalidInput, NotFound
from opsloop.domain.names import ModelRef, check_name, is_version
from opsloop.services import flavors
from opsloop.services.projects import ProjectService
from opsloop.store.artifacts import ArtifactStore, check_sha256
from opsloop.store.database import Database, retry_races
from opsloop.store.repos import datasets, endpoints, events, models, projects, runs
from opsloop.store.repos._time import at, now
from opsloop.store.repos.endpoints import Served
from opsloop.store.repos.models import ModelSummary

RESERVED_ALIASES = ("latest",)
MAX_DESCRIPTION = 10_000


def subject_of(project: str, model: str) -> str:
    return f"model:{project}/{model}"


@dataclass(frozen=True)
class Lineage:
    """Where a version came from and where it went: the dataset versions its run read, the
    run, and the deployments whose plan held it (newest first, ``limit`` of ``served_total``)."""

    version: ModelVersion
    run: Run | None
    datasets: list[DatasetVersion]
    served: list[Served]
    served_total: int


class RegistryService:
    def __init__(self, db: Database, artifacts: ArtifactStore, projects: ProjectService) -> None:
        self.db = db
        self.artifacts = artifacts
        self.project_service = projects

    def create_model(self, project: str, name: str, actor: Actor, description: str = "") -> Model:
        check_name(project, "project")
        check_name(name, "model")
        _check_description(description)
        try:
            with self.db.begin() as conn:
                project_id = self.project_service.ensure(conn, project, actor)
                if models.find_id(conn, project_id, name) is not None:
                    raise Conflict(f"model {project}/{name} already exists", field="model")
                self._insert_model(conn, project_id, project, name, description, actor)
        except SQLIntegrityError:
            raise Conflict(f"model {project}/{name} already exists", field="model") from None
        return self.get_model(project, name)

    def _insert_model(
        self, conn: Any, project_id: int, project: str, name: str, description: str, actor: Actor
    ) -> int:
        model_id = models.insert(conn, project_id, name, description)
        events.append(
            conn,
            kind="model.created",
            subject=subject_of(project, name),
            project=project,
            actor=actor.name,
            actor_kind=actor.kind,
        )
        return model_id

    def register_version(
        self,
        project: str,
        model: str,
        *,
        flavor: str,
        sha256: str,
        actor: Actor,
        signature: Signature | None = None,
        run_id: str | None = None,
        description: str = "",
    ) -> ModelVersion:
        """Record an uploaded model artifact as the model's next version."""
        check_name(project, "project")
        check_name(model, "model")
        flavors.get(flavor)
        check_sha256(sha256)
        _check_description(description)
        size = self.artifacts.size(sha256)
        return retry_races(
            lambda: self._insert_version(
                project,
                model,
                flavor,
                sha256,
                size,
                actor,
                signature or Signature(),
                run_id,
                description,
            ),
            f"registering a version of {project}/{model}",
        )

    def _insert_version(
        self,
        project: str,
        model: str,
        flavor: str,
        sha256: str,
        size: int,
        actor: Actor,
        signature: Signature,
        run_id: str | None,
        description: str,
    ) -> ModelVersion:
        with self.db.begin() as conn:
            project_id = self.project_service.ensure(conn, project, actor)
            if run_id is not None:
                run_id, _status, run_project = runs.state_of(conn, run_id)
                if run_project != project:
                    raise InvalidInput(f"run {run_id} belongs to another project", field="run_id")
            model_id = models.find_id(conn, project_id, model)
            if model_id is None:
                model_id = self._insert_model(conn, project_id, project, model, "", actor)
            version = models.next_version(conn, model_id)
            models.insert_version(
                conn,
                model_id=model_id,
                version=version,
                flavor=flavor,
                sha256=sha256,
                size=size,
                signature=signature.model_dump(mode="json", exclude_none=True),
                run_id=run_id,
                description=description,
                created_at=now(),
                created_by=actor.name,
            )
            events.append(
                conn,
                kind="model_version.created",
                subject=subject_of(project, model),
                project=project,
                actor=actor.name,
                actor_kind=actor.kind,
                data={"version": version, "flavor": flavor, "run_id": run_id, "sha256": sha256},
            )
            return models.get_version(conn, model_id, version)

    def get_model(self, project: str, name: str) -> Model:
        with self.db.read() as conn:
            return models.get(conn, check_name(project, "project"), check_name(name, "model"))

    def list_models(self, project: str | None = None) -> list[Model]:
        with self.db.read() as conn:
            if project is not None:
                projects.get_id(conn, check_name(project, "project"))
            return models.list_all(conn, project)

    def list_versions(self, project: str, name: str) -> list[ModelVersion]:
        with self.db.read() as conn:
            return models.list_versions(conn, models.get_id(conn, project, name))

    def resolve(self, ref: ModelRef) -> ModelVersion:
        """The version a reference points at: a number, an alias, or the latest."""
        with self.db.read() as conn:
            model_id = models.get_id(conn, ref.project, ref.model)
            version = ref.version
            if version is None and ref.alias not in (None, "latest"):
                version = models.alias_target(conn, model_id, ref.alias or "")
                if version is None:
                    raise NotFound(
                        f"model {ref.full_name} has no alias {ref.alias!r}", field="alias"
                    )
            if version is None:
                version = models.latest_version(conn, model_id)
                if version == 0:
                    raise NotFound(f"model {ref.full_name} has no versions", field="version")
            return models.get_version(conn, model_id, version)

    def load(self, version: ModelVersion) -> Any:
        """The live model object of ``version``, its bytes checked against their sha256."""
        return flavors.get(version.flavor).load(self.artifacts.get(version.sha256))

    def set_alias(
        self,
        project: str,
        model: str,
        alias: str,
        version: int | None,
        actor: Actor,
        reason: str = "",
    ) -> AliasMove:
        """Point ``alias`` at ``version`` (None removes it). Every move is an Event."""
        with self.db.begin() as conn:
            return self.move_alias(conn, project, model, alias, version, actor, reason)

    def move_alias(
        self,
        conn: Connection,
        project: str,
        model: str,
        alias: str,
        version: int | None,
        actor: Actor,
        reason: str = "",
    ) -> AliasMove:
        """``set_alias`` inside the caller's transaction (a deployment moves ``champion``
        in the same commit as the traffic plan)."""
        check_name(alias, "alias")
        if alias in RESERVED_ALIASES:
            raise InvalidInput(f"alias {alias!r} is reserved", field="alias")
        if is_version(alias):
            raise InvalidInput(f"alias {alias!r} would read as a version number", field="alias")
        if version is not None and (not isinstance(version, int) or version < 1):
            raise InvalidInput("version must be a positive whole number", field="version")
        model_id = models.get_id(conn, project, model)
        models.lock(conn, model_id)  # the move's "from" must be the version it replaced
        if version is not None and not models.version_exists(conn, model_id, version):
            raise NotFound(f"model {project}/{model} has no version {version}", field="version")
        previous = models.alias_target(conn, model_id, alias)
        if version is None and previous is None:
            raise NotFound(f"model {project}/{model} has no alias {alias!r}", field="alias")
        moved_at = now()
        models.set_alias(conn, model_id, alias, version)
        event_id = events.append(
            conn,
            kind="alias.moved",
            subject=subject_of(project, model),
            project=project,
            actor=actor.name,
            actor_kind=actor.kind,
            time=moved_at,
            data={
                "alias": alias,
                "from_version": previous,
                "to_version": version,
                "reason": reason,
            },
        )
        return AliasMove(
            alias=alias,
            from_version=previous,
            to_version=version,
            time=at(moved_at),
            actor=actor.name,
            event_id=event_id,
            reason=reason,
        )

    def alias_history(
        self, project: str, model: str, alias: str, limit: int = 1000
    ) -> list[AliasMove]:
        """Every move of ``alias``, newest first: what ``rollback`` walks back through."""
        with self.db.read() as conn:
            models.get_id(conn, project, model)
            found = events.query(
                conn,
                subject=subject_of(project, model),
                kind="alias.moved",
                newest_first=True,
                limit=100_000,
            )
        moves = [
            AliasMove(
                alias=alias,
                from_version=e.data.get("from_version"),
                to_version=e.data.get("to_version"),
                time=e.time,
                actor=e.actor,
                event_id=e.id,
                reason=e.data.get("reason", ""),
            )
            for e in found
            if e.data.get("alias") == alias
        ]
        return moves[:limit]

    # -- reads for pages: bounded, a few queries each --------------------------------------

    def model_summaries(
        self, project: str | None, limit: int, offset: int = 0
    ) -> tuple[list[ModelSummary], int]:
        """A page of models with their version count and last registration, and the total."""
        with self.db.read() as conn:
            if project is not None:
                projects.get_id(conn, check_name(project, "project"))
            return models.summaries(conn, project, limit, offset)

    def model_summary(self, project: str, name: str) -> ModelSummary:
        with self.db.read() as conn:
            return models.summary(conn, check_name(project, "project"), check_name(name, "model"))

    def version_page(
        self, project: str, name: str, limit: int, offset: int = 0
    ) -> list[ModelVersion]:
        """A page of a model's versions, newest first."""
        with self.db.read() as conn:
            return models.version_page(conn, models.get_id(conn, project, name), limit, offset)

    def alias_moves(
        self, project: str, model: str, *, alias: str | None, limit: int, offset: int = 0
    ) -> tuple[list[AliasMove], int]:
        """A page of the moves of every alias of a model (or of ``alias``), newest first,
        and how many there are in all."""
        with self.db.read() as conn:
            models.get_id(conn, project, model)
            return models.alias_moves(
                conn, subject_of(project, model), alias=alias, limit=limit, offset=offset
            )

    def newest_alias_moves(self, project: str, model: str) -> dict[str, AliasMove]:
        """Each alias's newest move: who set it where it is now (or removed it), and why."""
        with self.db.read() as conn:
            models.get_id(conn, project, model)
            return models.newest_alias_moves(conn, subject_of(project, model))

    def lineage(self, project: str, model: str, version: int, limit: int) -> Lineage:
        """``project/model@version`` with its run, the dataset versions the run read, and
        the newest ``limit`` deployments that served it."""
        with self.db.read() as conn:
            found = models.get_version(conn, models.get_id(conn, project, model), version)
            run = None if found.run_id is None else runs.get(conn, found.run_id)
            read = [] if found.run_id is None else datasets.used_by_run(conn, found.run_id)
            served, total = endpoints.serving(conn, project, model, version, limit)
        return Lineage(found, run, read, served, total)


def _check_description(description: str) -> None:
    if not isinstance(description, str) or len(description) > MAX_DESCRIPTION:
        raise InvalidInput(
            f"description must be text of at most {MAX_DESCRIPTION} characters", field="description"
        )
