"""Model registry rules, on SQLite and PostgreSQL."""

from __future__ import annotations

import itertools
import threading
from collections.abc import Callable
from typing import Any

import pytest

from opsloop.domain.entities import Actor, ActorKind, ModelVersion
from opsloop.domain.errors import Conflict, InvalidInput, NotFound
from opsloop.domain.names import ModelRef, parse_model_ref
from opsloop.services.platform import Platform

from .conftest import ACTOR

RETRAIN = Actor(name="retrain", kind=ActorKind.PIPELINE)


_uploads = itertools.count()


def register(
    platform: Platform, model: str = "violation", project: str = "mod", **extra: Any
) -> ModelVersion:
    """Upload fresh bytes and register them as the model's next version."""
    sha256, _ = platform.artifacts.put(f"weights #{next(_uploads)}".encode())
    return platform.registry.register_version(
        project, model, flavor="sklearn", sha256=sha256, actor=extra.pop("actor", ACTOR), **extra
    )


def test_a_model_name_is_taken_once_per_project(platform: Platform) -> None:
    created = platform.registry.create_model("mod", "violation", ACTOR, description="spam")
    assert (created.project, created.name, created.description) == ("mod", "violation", "spam")
    assert created.latest_version is None
    with pytest.raises(Conflict) as caught:
        platform.registry.create_model("mod", "violation", ACTOR)
    assert caught.value.field == "model"
    platform.registry.create_model("recsys", "violation", ACTOR)  # other project: no clash
    assert [(m.project, m.name) for m in platform.registry.list_models()] == [
        ("mod", "violation"),
        ("recsys", "violation"),
    ]


def test_create_model_after_register_version_is_a_conflict(platform: Platform) -> None:
    register(platform)
    with pytest.raises(Conflict):
        platform.registry.create_model("mod", "violation", ACTOR)


def test_versions_are_numbered_from_one(platform: Platform) -> None:
    platform.registry.create_model("mod", "violation", ACTOR)
    made = [register(platform) for _ in range(3)]
    assert [v.version for v in made] == [1, 2, 3]
    assert [v.ref for v in made] == ["mod/violation@1", "mod/violation@2", "mod/violation@3"]
    assert len({v.sha256 for v in made}) == 3
    listed = platform.registry.list_versions("mod", "violation")
    assert [(v.version, v.sha256) for v in listed] == [(v.version, v.sha256) for v in made]
    assert platform.registry.get_model("mod", "violation").latest_version == 3


def test_each_model_numbers_its_own_versions(platform: Platform) -> None:
    register(platform, "a")
    register(platform, "a")
    assert register(platform, "b").version == 1
    assert register(platform, "a", project="other").version == 1


def test_a_version_keeps_what_was_registered(platform: Platform) -> None:
    sha256, size = platform.artifacts.put(b"the model")
    version = platform.registry.register_version(
        "mod",
        "violation",
        flavor="python_function",
        sha256=sha256,
        actor=ACTOR,
        description="first",
    )
    again = platform.registry.resolve(ModelRef("mod", "violation", version=1))
    for found in (version, again):
        assert (found.flavor, found.sha256, found.size) == ("python_function", sha256, size)
        assert (found.description, found.created_by, found.run_id) == ("first", "tester", None)


LOOKUPS: list[tuple[str, Callable[[Platform], object], str]] = [
    ("get_model project", lambda p: p.registry.get_model("ghost", "violation"), "project"),
    ("get_model model", lambda p: p.registry.get_model("mod", "ghost"), "model"),
    ("list_models project", lambda p: p.registry.list_models("ghost"), "project"),
    ("list_versions project", lambda p: p.registry.list_versions("ghost", "violation"), "project"),
    ("list_versions model", lambda p: p.registry.list_versions("mod", "ghost"), "model"),
    (
        "resolve project",
        lambda p: p.registry.resolve(parse_model_ref("ghost/violation")),
        "project",
    ),
    ("resolve model", lambda p: p.registry.resolve(parse_model_ref("mod/ghost")), "model"),
    (
        "resolve version",
        lambda p: p.registry.resolve(parse_model_ref("mod/violation@9")),
        "version",
    ),
    (
        "resolve alias",
        lambda p: p.registry.resolve(parse_model_ref("mod/violation@ghost")),
        "alias",
    ),
    ("resolve empty latest", lambda p: p.registry.resolve(parse_model_ref("mod/empty")), "version"),
    (
        "set_alias project",
        lambda p: p.registry.set_alias("ghost", "violation", "champion", 1, ACTOR),
        "project",
    ),
    (
        "set_alias model",
        lambda p: p.registry.set_alias("mod", "ghost", "champion", 1, ACTOR),
        "model",
    ),
    (
        "set_alias version",
        lambda p: p.registry.set_alias("mod", "violation", "champion", 9, ACTOR),
        "version",
    ),
    (
        "remove missing alias",
        lambda p: p.registry.set_alias("mod", "violation", "ghost", None, ACTOR),
        "alias",
    ),
    (
        "alias_history model",
        lambda p: p.registry.alias_history("mod", "ghost", "champion"),
        "model",
    ),
    (
        "alias_history project",
        lambda p: p.registry.alias_history("ghost", "violation", "champion"),
        "project",
    ),
]


@pytest.mark.parametrize(
    ("call", "field"), [(call, field) for _, call, field in LOOKUPS], ids=[i for i, *_ in LOOKUPS]
)
def test_unknown_things_are_not_found_naming_the_field(
    platform: Platform, call: Callable[[Platform], object], field: str
) -> None:
    register(platform)
    platform.registry.create_model("mod", "empty", ACTOR)
    with pytest.raises(NotFound) as caught:
        call(platform)
    assert caught.value.field == field


def test_an_alias_is_set_moved_and_removed(platform: Platform) -> None:
    for _ in range(2):
        register(platform)

    first = platform.registry.set_alias("mod", "violation", "champion", 1, ACTOR)
    assert (first.from_version, first.to_version) == (None, 1)
    moved = platform.registry.set_alias("mod", "violation", "champion", 2, ACTOR, reason="better")
    assert (moved.from_version, moved.to_version, moved.reason) == (1, 2, "better")

    assert platform.registry.get_model("mod", "violation").aliases == {"champion": 2}
    assert platform.registry.resolve(parse_model_ref("mod/violation@champion")).version == 2
    versions = platform.registry.list_versions("mod", "violation")
    assert [v.aliases for v in versions] == [[], ["champion"]]

    removed = platform.registry.set_alias("mod", "violation", "champion", None, ACTOR)
    assert (removed.from_version, removed.to_version) == (2, None)
    assert platform.registry.get_model("mod", "violation").aliases == {}
    with pytest.raises(NotFound):
        platform.registry.resolve(parse_model_ref("mod/violation@champion"))


def test_aliases_are_per_model(platform: Platform) -> None:
    register(platform, "a")
    register(platform, "b")
    register(platform, "b")
    platform.registry.set_alias("mod", "b", "champion", 2, ACTOR)
    assert platform.registry.get_model("mod", "a").aliases == {}
    with pytest.raises(NotFound):
        platform.registry.resolve(parse_model_ref("mod/a@champion"))


def test_alias_history_is_newest_first_so_rollback_can_walk_back(platform: Platform) -> None:
    for _ in range(3):
        register(platform)
    platform.registry.set_alias("mod", "violation", "champion", 1, ACTOR, reason="first")
    platform.registry.set_alias("mod", "violation", "challenger", 3, ACTOR, reason="try")
    platform.registry.set_alias("mod", "violation", "champion", 2, RETRAIN, reason="retrained")
    platform.registry.set_alias("mod", "violation", "champion", 3, ACTOR, reason="promoted")

    history = platform.registry.alias_history("mod", "violation", "champion")
    assert [(m.from_version, m.to_version, m.reason) for m in history] == [
        (2, 3, "promoted"),
        (1, 2, "retrained"),
        (None, 1, "first"),
    ]
    assert [m.actor for m in history] == ["tester", "retrain", "tester"]
    assert {m.alias for m in history} == {"champion"}
    assert [m.event_id for m in history] == sorted((m.event_id for m in history), reverse=True)
    # Rolling back two steps from now lands where the alias was two moves ago.
    assert history[1].from_version == 1
    assert platform.registry.alias_history("mod", "violation", "champion", limit=1) == history[:1]
    assert platform.registry.alias_history("mod", "violation", "never") == []


def test_a_set_alias_result_matches_its_history_entry(platform: Platform) -> None:
    register(platform)
    move = platform.registry.set_alias("mod", "violation", "champion", 1, ACTOR, reason="r")
    assert platform.registry.alias_history("mod", "violation", "champion") == [move]


@pytest.mark.parametrize(
    ("alias", "version", "field"),
    [
        ("latest", 1, "alias"),
        ("3", 1, "alias"),
        ("007", 1, "alias"),
        ("", 1, "alias"),
        ("a/b", 1, "alias"),
        ("..", 1, "alias"),
        ("champion", 0, "version"),
        ("champion", -1, "version"),
    ],
)
def test_aliases_that_would_be_ambiguous_or_unsafe_are_refused(
    platform: Platform, alias: str, version: int, field: str
) -> None:
    register(platform)
    with pytest.raises(InvalidInput) as caught:
        platform.registry.set_alias("mod", "violation", alias, version, ACTOR)
    assert caught.value.field == field
    assert platform.registry.get_model("mod", "violation").aliases == {}


@pytest.mark.parametrize(
    ("ref", "version"),
    [
        ("mod/violation@1", 1),
        ("mod/violation/2", 2),
        ("models:/mod/violation@3", 3),
        ("mod/violation@champion", 2),
        ("mod/violation@challenger", 3),
        ("mod/violation", 3),
        ("mod/violation@latest", 3),
    ],
)
def test_resolve_by_version_alias_or_latest(platform: Platform, ref: str, version: int) -> None:
    for _ in range(3):
        register(platform)
    platform.registry.set_alias("mod", "violation", "champion", 2, ACTOR)
    platform.registry.set_alias("mod", "violation", "challenger", 3, ACTOR)
    found = platform.registry.resolve(parse_model_ref(ref))
    assert (found.project, found.model, found.version) == ("mod", "violation", version)


def test_registry_changes_are_events_with_their_actor(platform: Platform) -> None:
    platform.registry.create_model("mod", "violation", ACTOR)
    one = register(platform)
    register(platform, actor=RETRAIN)
    platform.registry.set_alias("mod", "violation", "champion", 2, RETRAIN, reason="auto")

    found = platform.events.query(subject="model:mod/violation")
    assert [(e.kind, e.actor, e.actor_kind) for e in found] == [
        ("model.created", "tester", ActorKind.USER),
        ("model_version.created", "tester", ActorKind.USER),
        ("model_version.created", "retrain", ActorKind.PIPELINE),
        ("alias.moved", "retrain", ActorKind.PIPELINE),
    ]
    assert {e.project for e in found} == {"mod"}
    assert found[1].data["version"] == 1
    assert found[1].data["sha256"] == one.sha256
    assert found[1].data["flavor"] == "sklearn"
    assert found[2].data["version"] == 2
    assert found[3].data == {
        "alias": "champion",
        "from_version": None,
        "to_version": 2,
        "reason": "auto",
    }


def test_registering_into_a_new_model_creates_it_with_an_event(platform: Platform) -> None:
    register(platform)
    kinds = [e.kind for e in platform.events.query(subject="model:mod/violation")]
    assert kinds == ["model.created", "model_version.created"]
    assert [p.name for p in platform.projects.list_projects()] == ["mod"]


@pytest.mark.parametrize(
    ("change", "error", "field"),
    [
        ({"flavor": "tensorflow-pickle"}, InvalidInput, "flavor"),
        ({"flavor": ""}, InvalidInput, "flavor"),
        ({"sha256": "a" * 64}, NotFound, "sha256"),
        ({"sha256": "not-a-sha"}, InvalidInput, "sha256"),
        ({"sha256": "A" * 64}, InvalidInput, "sha256"),
        ({"description": "x" * 10_001}, InvalidInput, "description"),
    ],
)
def test_a_refused_version_leaves_nothing_behind(
    platform: Platform, change: dict[str, str], error: type[Exception], field: str
) -> None:
    sha256, _ = platform.artifacts.put(b"weights")
    arguments: dict[str, Any] = {"flavor": "sklearn", "sha256": sha256, **change}
    with pytest.raises(error) as caught:
        platform.registry.register_version("mod", "violation", actor=ACTOR, **arguments)
    assert getattr(caught.value, "field", None) == field
    assert platform.projects.list_projects() == []
    assert platform.registry.list_models() == []
    assert platform.events.query() == []


def test_a_refused_version_of_an_existing_model_changes_nothing(platform: Platform) -> None:
    register(platform)
    before = platform.events.query()
    with pytest.raises(NotFound):
        platform.registry.register_version(
            "mod", "violation", flavor="sklearn", sha256="b" * 64, actor=ACTOR
        )
    assert [v.version for v in platform.registry.list_versions("mod", "violation")] == [1]
    assert platform.events.query() == before
    assert register(platform).version == 2  # no number was burnt


def test_a_version_records_its_source_run_by_full_id(platform: Platform) -> None:
    run = platform.tracking.start_run(project="mod", actor=ACTOR)
    by_id = register(platform, run_id=run.id)
    by_prefix = register(platform, run_id=run.id[:8])
    assert by_id.run_id == run.id
    assert by_prefix.run_id == run.id


def test_a_run_from_another_project_is_refused(platform: Platform) -> None:
    run = platform.tracking.start_run(project="recsys", actor=ACTOR)
    with pytest.raises(InvalidInput) as caught:
        register(platform, project="mod", run_id=run.id)
    assert caught.value.field == "run_id"
    assert [p.name for p in platform.projects.list_projects()] == ["recsys"]
    assert platform.registry.list_models() == []


def test_an_unknown_run_is_not_found(platform: Platform) -> None:
    with pytest.raises(NotFound) as caught:
        register(platform, run_id="0123456789abcdef")
    assert caught.value.field == "run_id"
    assert platform.registry.list_models() == []


@pytest.mark.parametrize(
    ("project", "model", "field"),
    [("", "m", "project"), ("a/b", "m", "project"), ("p", "..", "model"), ("p", "m\\x", "model")],
)
def test_bad_names_are_refused(platform: Platform, project: str, model: str, field: str) -> None:
    with pytest.raises(InvalidInput) as caught:
        platform.registry.create_model(project, model, ACTOR)
    assert caught.value.field == field
    with pytest.raises(InvalidInput) as caught:
        register(platform, model, project=project)
    assert caught.value.field == field


def test_concurrent_registrations_all_get_distinct_numbers(platform: Platform) -> None:
    """Parallel training jobs registering into one model must not lose a version."""
    writers, each = 10, 5
    shas = [platform.artifacts.put(f"parallel #{i}".encode())[0] for i in range(writers * each)]
    start = threading.Barrier(writers)
    failures: list[BaseException] = []

    def write(worker: int) -> None:
        start.wait()
        for sha256 in shas[worker * each : (worker + 1) * each]:
            try:
                platform.registry.register_version(
                    "mod", "violation", flavor="sklearn", sha256=sha256, actor=ACTOR
                )
            except Exception as error:  # collected: an exception in a thread would be lost
                failures.append(error)

    threads = [threading.Thread(target=write, args=(w,)) for w in range(writers)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()

    assert failures == []
    versions = platform.registry.list_versions("mod", "violation")
    assert [v.version for v in versions] == list(range(1, writers * each + 1))
    assert sorted(v.sha256 for v in versions) == sorted(shas)
