"""Registered models, their immutable versions, and the aliases pointing at versions."""

from __future__ import annotations

from collections import defaultdict
from datetime import datetime
from typing import Any, NamedTuple

from sqlalchemy import Connection, func, select

from opsloop.domain.entities import AliasMove, Model, ModelVersion, Signature
from opsloop.domain.errors import NotFound
from opsloop.store.repos._time import at, now
from opsloop.store.tables import aliases, events, model_versions, models, projects


def find_id(conn: Connection, project_id: int, name: str) -> int | None:
    return conn.execute(
        select(models.c.id).where(models.c.project_id == project_id, models.c.name == name)
    ).scalar()


def get_id(conn: Connection, project: str, name: str) -> int:
    project_id = conn.execute(select(projects.c.id).where(projects.c.name == project)).scalar()
    if project_id is None:
        raise NotFound(f"project {project!r} not found", field="project")
    found = find_id(conn, project_id, name)
    if found is None:
        raise NotFound(f"model {project}/{name} not found", field="model")
    return found


def insert(conn: Connection, project_id: int, name: str, description: str) -> int:
    result = conn.execute(
        models.insert().values(
            project_id=project_id, name=name, description=description, created_at=now()
        )
    )
    return int(result.inserted_primary_key[0])  # type: ignore[index]


def lock(conn: Connection, model_id: int) -> None:
    """Lock the model's row (PostgreSQL) until the caller's transaction ends: writers of its
    versions and aliases then take turns. SQLite's write lock already does this."""
    conn.execute(select(models.c.id).where(models.c.id == model_id).with_for_update())


def next_version(conn: Connection, model_id: int) -> int:
    """The next version number, the model locked for the rest of the transaction."""
    lock(conn, model_id)
    return latest_version(conn, model_id) + 1


def latest_version(conn: Connection, model_id: int) -> int:
    current = conn.execute(
        select(func.max(model_versions.c.version)).where(model_versions.c.model_id == model_id)
    ).scalar()
    return int(current or 0)


def insert_version(conn: Connection, **values: Any) -> None:
    conn.execute(model_versions.insert().values(**values))


def version_exists(conn: Connection, model_id: int, version: int) -> bool:
    return (
        conn.execute(
            select(model_versions.c.id).where(
                model_versions.c.model_id == model_id, model_versions.c.version == version
            )
        ).first()
        is not None
    )


def alias_target(conn: Connection, model_id: int, alias: str) -> int | None:
    return conn.execute(
        select(aliases.c.version).where(aliases.c.model_id == model_id, aliases.c.alias == alias)
    ).scalar()


def set_alias(conn: Connection, model_id: int, alias: str, version: int | None) -> None:
    conn.execute(aliases.delete().where(aliases.c.model_id == model_id, aliases.c.alias == alias))
    if version is not None:
        conn.execute(
            aliases.insert().values(
                model_id=model_id, alias=alias, version=version, updated_at=now()
            )
        )


def _aliases_by_model(conn: Connection, model_ids: list[int]) -> dict[int, dict[str, int]]:
    found: dict[int, dict[str, int]] = defaultdict(dict)
    for model_id, alias, version in conn.execute(
        select(aliases.c.model_id, aliases.c.alias, aliases.c.version)
        .where(aliases.c.model_id.in_(model_ids))
        .order_by(aliases.c.alias)
    ):
        found[model_id][alias] = version
    return found


_VERSIONS = (
    select(model_versions, models.c.name.label("model"), projects.c.name.label("project"))
    .join(models, models.c.id == model_versions.c.model_id)
    .join(projects, projects.c.id == models.c.project_id)
)


def get_version(conn: Connection, model_id: int, version: int) -> ModelVersion:
    found = _versions(
        conn,
        _VERSIONS.where(model_versions.c.model_id == model_id, model_versions.c.version == version),
    )
    if not found:
        name = conn.execute(
            select(projects.c.name, models.c.name)
            .join(models, models.c.project_id == projects.c.id)
            .where(models.c.id == model_id)
        ).one()
        raise NotFound(f"model {name[0]}/{name[1]} has no version {version}", field="version")
    return found[0]


def list_versions(conn: Connection, model_id: int) -> list[ModelVersion]:
    return _versions(
        conn,
        _VERSIONS.where(model_versions.c.model_id == model_id).order_by(model_versions.c.version),
    )


def _versions(conn: Connection, statement: Any) -> list[ModelVersion]:
    rows = conn.execute(statement).all()
    by_model = _aliases_by_model(conn, sorted({row.model_id for row in rows}))
    return [
        ModelVersion(
            project=row.project,
            model=row.model,
            version=row.version,
            flavor=row.flavor,
            sha256=row.sha256,
            size=row.size,
            signature=Signature.model_validate(row.signature),
            run_id=row.run_id,
            description=row.description,
            created_at=at(row.created_at),
            created_by=row.created_by,
            aliases=[a for a, v in by_model[row.model_id].items() if v == row.version],
        )
        for row in rows
    ]


def list_all(conn: Connection, project: str | None) -> list[Model]:
    latest = (
        select(model_versions.c.model_id, func.max(model_versions.c.version).label("v"))
        .group_by(model_versions.c.model_id)
        .subquery()
    )
    statement = (
        select(models, projects.c.name.label("project"), latest.c.v)
        .join(projects, projects.c.id == models.c.project_id)
        .outerjoin(latest, latest.c.model_id == models.c.id)
        .order_by(projects.c.name, models.c.name)
    )
    if project is not None:
        statement = statement.where(projects.c.name == project)
    rows = conn.execute(statement).all()
    by_model = _aliases_by_model(conn, [row.id for row in rows])
    return [
        Model(
            project=row.project,
            name=row.name,
            description=row.description,
            created_at=at(row.created_at),
            latest_version=row.v,
            aliases=by_model[row.id],
        )
        for row in rows
    ]


def get(conn: Connection, project: str, name: str) -> Model:
    get_id(conn, project, name)  # raises not-found naming what is missing
    return next(model for model in list_all(conn, project) if model.name == name)


def version_id(conn: Connection, model_id: int, version: int) -> int:
    found = conn.execute(
        select(model_versions.c.id).where(
            model_versions.c.model_id == model_id, model_versions.c.version == version
        )
    ).scalar()
    if found is None:
        get_version(conn, model_id, version)  # raises not-found naming the model
        raise AssertionError("unreachable")  # pragma: no cover
    return int(found)


# -- reads for pages: bounded, a few queries each -----------------------------------------


class ModelSummary(NamedTuple):
    model: Model
    versions: int
    last_registered: datetime | None


_STATS = (
    select(
        model_versions.c.model_id,
        func.count().label("versions"),
        func.max(model_versions.c.version).label("latest"),
        func.max(model_versions.c.created_at).label("last"),
    )
    .group_by(model_versions.c.model_id)
    .subquery()
)
_SUMMARIES = (
    select(
        models,
        projects.c.name.label("project"),
        _STATS.c.versions,
        _STATS.c.latest,
        _STATS.c.last,
    )
    .join(projects, projects.c.id == models.c.project_id)
    .outerjoin(_STATS, _STATS.c.model_id == models.c.id)
)


def summaries(
    conn: Connection, project: str | None, limit: int, offset: int = 0
) -> tuple[list[ModelSummary], int]:
    """A page of models (by project, then name) with their version count and last
    registration, and how many models there are in all."""
    statement = _SUMMARIES.order_by(projects.c.name, models.c.name).limit(limit).offset(offset)
    counted = select(func.count()).select_from(models)
    if project is not None:
        statement = statement.where(projects.c.name == project)
        counted = counted.join(projects, projects.c.id == models.c.project_id).where(
            projects.c.name == project
        )
    return _summaries(conn, statement), int(conn.execute(counted).scalar() or 0)


def summary(conn: Connection, project: str, name: str) -> ModelSummary:
    model_id = get_id(conn, project, name)  # raises not-found naming what is missing
    return _summaries(conn, _SUMMARIES.where(models.c.id == model_id))[0]


def _summaries(conn: Connection, statement: Any) -> list[ModelSummary]:
    rows = conn.execute(statement).all()
    by_model = _aliases_by_model(conn, [row.id for row in rows])
    return [
        ModelSummary(
            Model(
                project=row.project,
                name=row.name,
                description=row.description,
                created_at=at(row.created_at),
                latest_version=row.latest,
                aliases=by_model[row.id],
            ),
            int(row.versions or 0),
            None if row.last is None else at(row.last),
        )
        for row in rows
    ]


def version_page(
    conn: Connection, model_id: int, limit: int, offset: int = 0
) -> list[ModelVersion]:
    """A page of a model's versions, newest first."""
    return _versions(
        conn,
        _VERSIONS.where(model_versions.c.model_id == model_id)
        .order_by(model_versions.c.version.desc())
        .limit(limit)
        .offset(offset),
    )


def _alias_moves_of(subject: str, alias: str | None) -> Any:
    condition = (events.c.subject == subject) & (events.c.kind == "alias.moved")
    if alias is not None:
        condition &= events.c.data["alias"].as_string() == alias
    return condition


def alias_moves(
    conn: Connection, subject: str, *, alias: str | None, limit: int, offset: int = 0
) -> tuple[list[AliasMove], int]:
    """A page of the alias moves recorded in the event log about ``subject`` (the model),
    newest first, and how many there are in all."""
    where = _alias_moves_of(subject, alias)
    rows = conn.execute(
        select(events).where(where).order_by(events.c.id.desc()).limit(limit).offset(offset)
    ).all()
    total = conn.execute(select(func.count()).select_from(events).where(where)).scalar()
    return [_move(row) for row in rows], int(total or 0)


def newest_alias_moves(conn: Connection, subject: str) -> dict[str, AliasMove]:
    """The newest move of each alias the model ever had: who set it where it is, and why."""
    newest = (
        select(func.max(events.c.id))
        .where(_alias_moves_of(subject, None))
        .group_by(events.c.data["alias"].as_string())
    )
    rows = conn.execute(select(events).where(events.c.id.in_(newest))).all()
    return {move.alias: move for move in map(_move, rows)}


def _move(row: Any) -> AliasMove:
    data = row.data
    return AliasMove(
        alias=data.get("alias", ""),
        from_version=data.get("from_version"),
        to_version=data.get("to_version"),
        time=at(row.time),
        actor=row.actor,
        event_id=row.id,
        reason=data.get("reason", ""),
    )
