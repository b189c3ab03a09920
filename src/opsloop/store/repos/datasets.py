"""Datasets and their immutable versions, with lineage between versions."""

from __future__ import annotations

from typing import Any

from sqlalchemy import Connection, func, select

from opsloop.domain.entities import Dataset, DatasetProfile, DatasetVersion
from opsloop.domain.errors import NotFound
from opsloop.store.repos._time import at, now
from opsloop.store.tables import (
    dataset_lineage,
    dataset_versions,
    datasets,
    projects,
    run_inputs,
)


def find_id(conn: Connection, project_id: int, name: str) -> int | None:
    return conn.execute(
        select(datasets.c.id).where(datasets.c.project_id == project_id, datasets.c.name == name)
    ).scalar()


def insert(conn: Connection, project_id: int, name: str) -> int:
    result = conn.execute(
        datasets.insert().values(project_id=project_id, name=name, created_at=now())
    )
    return int(result.inserted_primary_key[0])  # type: ignore[index]


def next_version(conn: Connection, dataset_id: int) -> int:
    """The next version number, with the dataset row locked (PostgreSQL) until the caller's
    transaction ends, so two writers never take the same number."""
    conn.execute(select(datasets.c.id).where(datasets.c.id == dataset_id).with_for_update())
    current = conn.execute(
        select(func.max(dataset_versions.c.version)).where(
            dataset_versions.c.dataset_id == dataset_id
        )
    ).scalar()
    return int(current or 0) + 1


def insert_version(conn: Connection, parents: list[int], **values: Any) -> int:
    result = conn.execute(dataset_versions.insert().values(**values))
    version_id = int(result.inserted_primary_key[0])  # type: ignore[index]
    if parents:
        conn.execute(
            dataset_lineage.insert(),
            [{"version_id": version_id, "parent_id": p} for p in sorted(set(parents))],
        )
    return version_id


def version_id(conn: Connection, project: str, name: str, version: int | None) -> int:
    """The row id of ``project/name@version`` (the latest version when ``version`` is None)."""
    statement = (
        select(dataset_versions.c.id)
        .join(datasets, datasets.c.id == dataset_versions.c.dataset_id)
        .join(projects, projects.c.id == datasets.c.project_id)
        .where(projects.c.name == project, datasets.c.name == name)
    )
    if version is None:
        statement = statement.order_by(dataset_versions.c.version.desc()).limit(1)
    else:
        statement = statement.where(dataset_versions.c.version == version)
    found = conn.execute(statement).scalar()
    if found is None:
        _raise_missing(conn, project, name, version)
    return int(found)  # type: ignore[arg-type]


def _raise_missing(conn: Connection, project: str, name: str, version: int | None) -> None:
    project_id = conn.execute(select(projects.c.id).where(projects.c.name == project)).scalar()
    if project_id is None:
        raise NotFound(f"project {project!r} not found", field="project")
    if find_id(conn, project_id, name) is None:
        raise NotFound(f"dataset {project}/{name} not found", field="dataset")
    raise NotFound(f"dataset {project}/{name} has no version {version}", field="version")


_VERSIONS = (
    select(dataset_versions, datasets.c.name.label("dataset"), projects.c.name.label("project"))
    .join(datasets, datasets.c.id == dataset_versions.c.dataset_id)
    .join(projects, projects.c.id == datasets.c.project_id)
)


def get_version(conn: Connection, row_id: int) -> DatasetVersion:
    return _versions(conn, _VERSIONS.where(dataset_versions.c.id == row_id))[0]


def list_versions(conn: Connection, project: str, name: str) -> list[DatasetVersion]:
    version_id(conn, project, name, None)  # not-found errors name what is missing
    statement = _VERSIONS.where(projects.c.name == project, datasets.c.name == name)
    return _versions(conn, statement.order_by(dataset_versions.c.version))


def _versions(conn: Connection, statement: Any) -> list[DatasetVersion]:
    rows = conn.execute(statement).all()
    ids = [row.id for row in rows]
    parent = dataset_versions.alias("parent")
    parent_ds = datasets.alias("parent_ds")
    parent_project = projects.alias("parent_project")
    lineage: dict[int, list[str]] = {i: [] for i in ids}
    for child, project, dataset, version in conn.execute(
        select(
            dataset_lineage.c.version_id, parent_project.c.name, parent_ds.c.name, parent.c.version
        )
        .join(parent, parent.c.id == dataset_lineage.c.parent_id)
        .join(parent_ds, parent_ds.c.id == parent.c.dataset_id)
        .join(parent_project, parent_project.c.id == parent_ds.c.project_id)
        .where(dataset_lineage.c.version_id.in_(ids))
    ):
        lineage[child].append(f"{project}/{dataset}@{version}")
    return [
        DatasetVersion(
            project=row.project,
            dataset=row.dataset,
            version=row.version,
            sha256=row.sha256,
            size=row.size,
            num_rows=row.num_rows,
            num_columns=row.num_columns,
            profile=DatasetProfile.model_validate(row.profile),
            parents=sorted(lineage[row.id]),
            source=row.source,
            description=row.description,
            created_at=at(row.created_at),
            created_by=row.created_by,
        )
        for row in rows
    ]


def list_all(conn: Connection, project: str | None) -> list[Dataset]:
    latest = (
        select(dataset_versions.c.dataset_id, func.max(dataset_versions.c.version).label("v"))
        .group_by(dataset_versions.c.dataset_id)
        .subquery()
    )
    statement = (
        select(datasets, projects.c.name.label("project"), latest.c.v)
        .join(projects, projects.c.id == datasets.c.project_id)
        .outerjoin(latest, latest.c.dataset_id == datasets.c.id)
        .order_by(projects.c.name, datasets.c.name)
    )
    if project is not None:
        statement = statement.where(projects.c.name == project)
    return [
        Dataset(
            project=row.project, name=row.name, created_at=at(row.created_at), latest_version=row.v
        )
        for row in conn.execute(statement)
    ]


def used_by_run(conn: Connection, run_id: str) -> list[DatasetVersion]:
    """The dataset versions a run read, by project, dataset and version."""
    statement = (
        _VERSIONS.join(run_inputs, run_inputs.c.dataset_version_id == dataset_versions.c.id)
        .where(run_inputs.c.run_id == run_id)
        .order_by(projects.c.name, datasets.c.name, dataset_versions.c.version)
    )
    return _versions(conn, statement)
