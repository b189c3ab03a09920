"""Projects: created on first write (a run, a dataset, a model), or explicitly."""

from __future__ import annotations

from sqlalchemy import Connection
from sqlalchemy.exc import IntegrityError as SQLIntegrityError

from opsloop.domain.entities import Actor, Experiment, Project
from opsloop.domain.errors import Conflict
from opsloop.domain.names import check_name
from opsloop.store.database import Database
from opsloop.store.repos import events, projects


class ProjectService:
    def __init__(self, db: Database) -> None:
        self.db = db
        # Ids of committed projects and experiments never change (nothing renames or deletes
        # them), so lookups by name are remembered; new rows are remembered only once seen
        # committed, so a rolled-back create never leaves a stale id here.
        self._project_ids: dict[str, int] = {}
        self._experiment_ids: dict[tuple[int, str], int] = {}

    def create(self, name: str, actor: Actor, description: str = "") -> Project:
        check_name(name, "project")
        try:
            with self.db.begin() as conn:
                if projects.find_id(conn, name) is not None:
                    raise Conflict(f"project {name!r} already exists", field="project")
                self._insert(conn, name, actor, description)
        except SQLIntegrityError:
            raise Conflict(f"project {name!r} already exists", field="project") from None
        return self.get(name)

    def ensure(self, conn: Connection, name: str, actor: Actor) -> int:
        """The project's id, creating it (and its Event) inside the caller's transaction."""
        check_name(name, "project")
        found = self._project_ids.get(name)
        if found is None:
            found = projects.find_id(conn, name)
            if found is None:
                return self._insert(conn, name, actor, "")
            self._project_ids[name] = found
        return found

    def ensure_experiment(
        self, conn: Connection, project_id: int, project: str, name: str, actor: Actor
    ) -> int:
        check_name(name, "experiment")
        found = self._experiment_ids.get((project_id, name))
        if found is None:
            found = projects.find_experiment_id(conn, project_id, name)
        if found is not None:
            self._experiment_ids[(project_id, name)] = found
            return found
        experiment_id = projects.insert_experiment(conn, project_id, name)
        events.append(
            conn,
            kind="experiment.created",
            subject=f"experiment:{project}/{name}",
            project=project,
            actor=actor.name,
            actor_kind=actor.kind,
        )
        return experiment_id

    def _insert(self, conn: Connection, name: str, actor: Actor, description: str) -> int:
        project_id = projects.insert(conn, name, description)
        events.append(
            conn,
            kind="project.created",
            subject=f"project:{name}",
            project=name,
            actor=actor.name,
            actor_kind=actor.kind,
        )
        return project_id

    def get(self, name: str) -> Project:
        with self.db.read() as conn:
            return projects.get(conn, check_name(name, "project"))

    def list_projects(self) -> list[Project]:
        with self.db.read() as conn:
            return projects.list_all(conn)

    def experiments(self, project: str) -> list[Experiment]:
        with self.db.read() as conn:
            return projects.list_experiments(conn, check_name(project, "project"))
