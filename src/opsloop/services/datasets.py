"""Datasets: immutable Parquet versions with a profile and lineage."""

from __future__ import annotations

import io
import time
from collections.abc import Sequence
from typing import TYPE_CHECKING, Literal

from sqlalchemy import Connection

from opsloop.domain.entities import Actor, Dataset, DatasetProfile, DatasetVersion
from opsloop.domain.errors import InvalidInput
from opsloop.domain.names import DatasetRef, check_name, parse_dataset_ref
from opsloop.domain.validation import (
    ColumnDriftResult,
    DatasetValidation,
    SchemaProblem,
    compatible_kinds,
)
from opsloop.services.projects import ProjectService
from opsloop.store.artifacts import ArtifactStore, check_sha256
from opsloop.store.database import Database, retry_races
from opsloop.store.repos import datasets, events, projects
from opsloop.store.repos._time import at, now

if TYPE_CHECKING:
    import pyarrow as pa

MAX_TEXT = 10_000
MAX_FEATURES = 10_000
EVENT_LIST = 50  # problems and drifted columns an Event names (the answer names them all)
DRIFT_KINDS = frozenset({"numeric", "categorical", "boolean"})  # what the drift tests read


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

    # -- validation ------------------------------------------------------------------------

    def validate(
        self,
        ref: DatasetRef,
        *,
        against: DatasetRef,
        actor: Actor,
        features: Sequence[str] | None = None,
    ) -> DatasetValidation:
        """Check version ``ref`` against version ``against``: every feature (default: every
        column of ``against``) present with a compatible kind of values, else the verdict is
        fail; drift per column through the drift tests, reported. Recorded as a
        ``dataset_version.validated`` Event with the verdict and how long it took."""
        started = time.perf_counter()
        wanted = _feature_list(features)
        current = self.get_version(ref.project, ref.dataset, ref.version)
        reference = self.get_version(against.project, against.dataset, against.version)
        reference_blob: bytes | None = None
        if wanted is None:
            reference_blob = self.artifacts.get(reference.sha256)
            names = feature_columns(reference_blob)
        else:
            names = wanted
        known = {column.name: column.kind for column in reference.profile.columns}
        unknown = [name for name in names if name not in known]
        if unknown:
            raise InvalidInput(
                f"feature(s) {', '.join(map(repr, unknown[:10]))} not in {reference.ref}",
                field="features",
            )
        present = {column.name: column.kind for column in current.profile.columns}
        problems = [
            problem
            for name in names
            if (problem := _schema_problem(name, known[name], present.get(name))) is not None
        ]
        if current.num_rows == 0:
            problems.append(
                SchemaProblem(column="", problem="empty", expected="rows", found="no rows")
            )
        comparable = [
            name
            for name in names
            if known[name] in DRIFT_KINDS and present.get(name) == known[name]
        ]
        drift: list[ColumnDriftResult] = []
        drifted: list[str] = []
        share_drifted: float | None = None
        if comparable and current.num_rows and reference.num_rows:
            from opsloop.services.drift import compare

            if reference_blob is None:
                reference_blob = self.artifacts.get(reference.sha256)
            current_table = parquet_to_table(self.artifacts.get(current.sha256))
            report = compare(
                parquet_to_table(reference_blob).select(comparable),
                current_table.select(comparable),
                columns=comparable,
            )
            drift = [
                ColumnDriftResult.model_validate(column.to_dict()) for column in report.columns
            ]
            drifted, share_drifted = report.drifted, report.share_drifted
        verdict: Literal["pass", "fail"] = "fail" if problems else "pass"
        duration = time.perf_counter() - started
        with self.db.begin() as conn:
            moment = now()
            events.append(
                conn,
                kind=VALIDATED_EVENT,
                subject=f"dataset:{current.project}/{current.dataset}",
                project=current.project,
                actor=actor.name,
                actor_kind=actor.kind,
                time=moment,
                data={
                    "version": current.version,
                    "against": reference.ref,
                    "verdict": verdict,
                    "features": len(names),
                    "problems": [p.describe() for p in problems[:EVENT_LIST]],
                    "drifted": drifted[:EVENT_LIST],
                    "share_drifted": share_drifted,
                    "duration_s": round(duration, 6),
                },
            )
        return DatasetValidation(
            dataset=current.ref,
            against=reference.ref,
            verdict=verdict,
            features=names,
            problems=problems,
            rows=current.num_rows,
            drift=drift,
            drifted=drifted,
            share_drifted=share_drifted,
            duration_s=duration,
            validated_at=at(moment),
            actor=actor.name,
        )


VALIDATED_EVENT = "dataset_version.validated"


def _feature_list(features: Sequence[str] | None) -> list[str] | None:
    if features is None:
        return None
    if isinstance(features, str) or not all(isinstance(name, str) for name in features):
        raise InvalidInput("features must be a list of column names", field="features")
    names = list(dict.fromkeys(features))
    if not names or len(names) > MAX_FEATURES:
        raise InvalidInput(
            f"features must name 1 to {MAX_FEATURES:,} columns (or none: every column)",
            field="features",
        )
    return names


def _schema_problem(name: str, expected: str, found: str | None) -> SchemaProblem | None:
    if found is None:
        return SchemaProblem(column=name, problem="missing", expected=expected, found=None)
    if not compatible_kinds(expected, found):
        return SchemaProblem(column=name, problem="kind", expected=expected, found=found)
    return None


def feature_columns(parquet: bytes) -> list[str]:
    """A Parquet table's column names, less those pandas stored for its index (not
    features), from its schema alone."""
    import pyarrow as pa
    import pyarrow.parquet as pq

    schema = pq.read_schema(pa.BufferReader(parquet))
    index = (schema.pandas_metadata or {}).get("index_columns", [])
    stored = {name for name in index if isinstance(name, str)}
    return [name for name in schema.names if name not in stored]
