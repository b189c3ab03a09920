"""Datasets: immutable Parquet versions with a profile and lineage."""

from __future__ import annotations

import io
from collections.abc import Sequence
from typing import TYPE_CHECKING

from sqlalchemy import Connection

from opsloop.domain.entities import Actor, Dataset, DatasetProfile, DatasetVersion
from opsloop.domain.errors import InvalidInput
from opsloop.domain.names import DatasetRef, check_name, parse_dataset_ref
from opsloop.services.projects import ProjectService
from opsloop.store.artifacts import ArtifactStore, check_sha256
from opsloop.store.database import Database, retry_races
from opsloop.store.repos import datasets, events, projects
from opsloop.store.repos._time import now

if TYPE_CHECKING:
    import pyarrow as pa

MAX_TEXT = 10_000


def table_to_parquet(table: pa.Table) -> bytes:
    import pyarrow.parquet as pq

    sink = io.BytesIO()
    pq.write_table(table, sink, compression="zstd")
    return sink.getvalue()


def parquet_to_table(data: bytes) -> pa.Table:
    import pyarrow.parquet as pq

    return pq.read_table(io.BytesIO(data))


class DatasetService:
    def __init__(self, db: Database, artifacts: ArtifactStore, projects: ProjectService) -> None:
        self.db = db
        self.artifacts = artifacts
        self.project_service = projects

    def create_version(
        self,
        project: str,
        name: str,
        sha256: str,
        *,
        actor: Actor,
        parents: Sequence[str] = (),
        source: str = "",
        description: str = "",
    ) -> DatasetVersion:
        """Make ``project/name@next`` from an uploaded Parquet blob; profile it on the way in.

        When the latest version already holds the same bytes with the same parents, that
        version is returned instead of a copy.
        """
        check_name(project, "project")
        check_name(name, "dataset")
        check_sha256(sha256)
        for field, text in (("source", source), ("description", description)):
            if len(text) > MAX_TEXT:
                raise InvalidInput(f"{field} is longer than {MAX_TEXT} characters", field=field)
        import pyarrow as pa  # here, not at import: the CLI's listings never need Arrow

        from opsloop.services.profiling import profile_table

        try:
            table = parquet_to_table(self.artifacts.get(sha256))
        except (pa.ArrowInvalid, OSError) as exc:
            raise InvalidInput(
                f"artifact {sha256} is not a Parquet table: {exc}", field="sha256"
            ) from None
        profile = profile_table(table)
        parent_refs = [parse_dataset_ref(p, "parents") for p in parents]
        size = self.artifacts.size(sha256)

        def write() -> DatasetVersion:
            return self._write_version(
                project, name, sha256, size, table, profile, parent_refs, actor, source, description
            )

        return retry_races(write, f"writing a version of dataset {project}/{name}")

    def _write_version(
        self,
        project: str,
        name: str,
        sha256: str,
        size: int,
        table: pa.Table,
        profile: DatasetProfile,
        parent_refs: list[DatasetRef],
        actor: Actor,
        source: str,
        description: str,
    ) -> DatasetVersion:
        with self.db.begin() as conn:
            parent_ids = [
                datasets.version_id(conn, ref.project, ref.dataset, ref.version)
                for ref in parent_refs
            ]
            project_id = self.project_service.ensure(conn, project, actor)
            dataset_id = datasets.find_id(conn, project_id, name)
            if dataset_id is None:
                dataset_id = datasets.insert(conn, project_id, name)
            else:
                unchanged = self._unchanged(conn, project, name, sha256, parent_ids)
                if unchanged is not None:
                    return unchanged
            version = datasets.next_version(conn, dataset_id)
            row_id = datasets.insert_version(
                conn,
                parent_ids,
                dataset_id=dataset_id,
                version=version,
                sha256=sha256,
                size=size,
                num_rows=table.num_rows,
                num_columns=table.num_columns,
                profile=profile.model_dump(mode="json"),
                source=source,
                description=description,
                created_at=now(),
                created_by=actor.name,
            )
            created = datasets.get_version(conn, row_id)
            events.append(
                conn,
                kind="dataset_version.created",
                subject=f"dataset:{project}/{name}",
                project=project,
                actor=actor.name,
                actor_kind=actor.kind,
                data={
                    "version": version,
                    "rows": table.num_rows,
                    "parents": created.parents,
                    "sha256": sha256,
                },
            )
            return created

    def _unchanged(
        self, conn: Connection, project: str, name: str, sha256: str, parent_ids: list[int]
    ) -> DatasetVersion | None:
        latest = datasets.get_version(conn, datasets.version_id(conn, project, name, None))
        if latest.sha256 != sha256:
            return None
        latest_parent_ids = sorted(
            datasets.version_id(conn, ref.project, ref.dataset, ref.version)
            for ref in map(parse_dataset_ref, latest.parents)
        )
        return latest if latest_parent_ids == sorted(set(parent_ids)) else None

    def get_version(self, project: str, name: str, version: int | None = None) -> DatasetVersion:
        with self.db.read() as conn:
            return datasets.get_version(
                conn,
                datasets.version_id(
                    conn, check_name(project, "project"), check_name(name, "dataset"), version
                ),
            )

    def list_versions(self, project: str, name: str) -> list[DatasetVersion]:
        with self.db.read() as conn:
            return datasets.list_versions(
                conn, check_name(project, "project"), check_name(name, "dataset")
            )

    def list_datasets(self, project: str | None = None) -> list[Dataset]:
        with self.db.read() as conn:
            if project is not None:
                projects.get_id(conn, check_name(project, "project"))
            return datasets.list_all(conn, project)

    def read_table(self, project: str, name: str, version: int | None = None) -> pa.Table:
        found = self.get_version(project, name, version)
        return parquet_to_table(self.artifacts.get(found.sha256))
