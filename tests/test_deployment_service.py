"""Deploy behind a gate verdict, canary, shadow, promote, roll back: on SQLite and PostgreSQL."""

from __future__ import annotations

import itertools

import pytest

from opsloop.domain.deployments import DeploymentAction, Slot, TrafficPlan
from opsloop.domain.entities import Actor, ModelVersion
from opsloop.domain.errors import Conflict, InvalidInput, NotFound
from opsloop.domain.names import ModelRef
from opsloop.services.platform import Platform
from opsloop.store.repos import evaluations, models

from .conftest import ACTOR

_uploads = itertools.count()
DEPLOYER = Actor(name="dana")


def register(platform: Platform, model: str = "violation", project: str = "mod") -> ModelVersion:
    sha256, _ = platform.artifacts.put(f"weights #{next(_uploads)}".encode())
    return platform.registry.register_version(
        project, model, flavor="sklearn", sha256=sha256, actor=ACTOR
    )


def judge(platform: Platform, version: ModelVersion, endpoint: str, verdict: str) -> int:
    """Store a gated evaluation's verdict, as the evaluation service does."""
    with platform.db.begin() as conn:
        model_id = models.get_id(conn, version.project, version.model)
        return evaluations.insert(
            conn,
            model_version_id=models.version_id(conn, model_id, version.version),
            endpoint=endpoint,
            dataset="mod/posts@1",
            verdict=verdict,
            gate="rules: []",
            report={},
            created_at=0.0,
            created_by="ci",
        )


def ref(version: ModelVersion) -> ModelRef:
    return ModelRef(version.project, version.model, version=version.version)


def approved(platform: Platform, endpoint: str = "moderation") -> ModelVersion:
    version = register(platform)
    judge(platform, version, endpoint, "go")
    return version


def test_a_deploy_without_a_verdict_for_the_endpoint_is_refused(platform: Platform) -> None:
    version = register(platform)
    judge(platform, version, "another-endpoint", "go")  # a verdict elsewhere does not count
    with pytest.raises(Conflict) as caught:
        platform.deployments.deploy(ref(version), "moderation", DEPLOYER)
    assert "no gate verdict for endpoint 'moderation'" in caught.value.headline
    assert "--force" in caught.value.headline
    with pytest.raises(NotFound):  # and nothing was created
        platform.deployments.get("moderation")


def test_a_no_go_verdict_is_refused_and_names_the_evaluation(platform: Platform) -> None:
    version = register(platform)
    evaluation = judge(platform, version, "moderation", "no-go")
    with pytest.raises(Conflict) as caught:
        platform.deployments.deploy(ref(version), "moderation", DEPLOYER)
    assert f"no-go verdict for endpoint 'moderation' (evaluation {evaluation})" in (
        caught.value.headline
    )
    assert caught.value.field == "verdict"


def test_the_newest_verdict_decides(platform: Platform) -> None:
    version = register(platform)
    judge(platform, version, "moderation", "go")
    judge(platform, version, "moderation", "no-go")
    with pytest.raises(Conflict):
        platform.deployments.deploy(ref(version), "moderation", DEPLOYER)


def test_a_forced_deploy_needs_a_reason_and_is_recorded_as_forced(platform: Platform) -> None:
    version = register(platform)
    with pytest.raises(InvalidInput) as caught:
        platform.deployments.deploy(ref(version), "moderation", DEPLOYER, force=True)
    assert caught.value.field == "reason"
    done = platform.deployments.deploy(
        ref(version), "moderation", DEPLOYER, force=True, reason="hotfix for incident 42"
    )
    assert (done.forced, done.reason, done.verdict) == (True, "hotfix for incident 42", None)
    event = platform.events.query(kind="endpoint.deployed")[0]
    assert event.actor == "dana"
    assert (event.data["forced"], event.data["reason"]) == (True, "hotfix for incident 42")


def test_a_go_verdict_deploys_creates_the_endpoint_and_moves_champion(
    platform: Platform,
) -> None:
    version = approved(platform)
    done = platform.deployments.deploy(ref(version), "moderation", DEPLOYER, reason="first")
    assert (done.number, done.action, done.verdict, done.forced) == (
        1,
        DeploymentAction.DEPLOY,
        "go",
        False,
    )
    endpoint = platform.deployments.get("moderation")
    assert endpoint.plan == TrafficPlan(primary=Slot(model="violation", version=version.version))
    assert (endpoint.project, endpoint.deployment) == ("mod", 1)
    assert platform.registry.get_model("mod", "violation").aliases == {"champion": version.version}
    kinds = [e.kind for e in platform.events.query(subject="endpoint:moderation")]
    assert kinds == ["endpoint.created", "endpoint.deployed"]


def test_canary_then_promote(platform: Platform) -> None:
    first, second = approved(platform), approved(platform)
    with pytest.raises(Conflict) as no_primary:
        platform.deployments.deploy(ref(second), "moderation", DEPLOYER, canary=10)
    assert "no primary yet" in no_primary.value.headline
    platform.deployments.deploy(ref(first), "moderation", DEPLOYER)
    for share in (0, 100, -5, float("nan")):
        with pytest.raises(InvalidInput):
            platform.deployments.deploy(ref(second), "moderation", DEPLOYER, canary=share)
    canary = platform.deployments.deploy(ref(second), "moderation", DEPLOYER, canary=10)
    assert canary.plan.primary == Slot(model="violation", version=first.version)
    assert (canary.plan.canary, canary.plan.canary_share) == (
        Slot(model="violation", version=second.version),
        10.0,
    )
    # the champion stays on the primary until the canary is promoted
    assert platform.registry.get_model("mod", "violation").aliases["champion"] == first.version
    promoted = platform.deployments.promote("moderation", DEPLOYER, reason="canary held")
    assert promoted.plan == TrafficPlan(primary=Slot(model="violation", version=second.version))
    assert platform.registry.get_model("mod", "violation").aliases["champion"] == second.version
    with pytest.raises(Conflict):
        platform.deployments.promote("moderation", DEPLOYER)  # no canary any more


def test_shadow_keeps_the_primary_and_a_canary(platform: Platform) -> None:
    first, second, third = approved(platform), approved(platform), approved(platform)
    platform.deployments.deploy(ref(first), "moderation", DEPLOYER)
    platform.deployments.deploy(ref(second), "moderation", DEPLOYER, canary=25)
    done = platform.deployments.deploy(ref(third), "moderation", DEPLOYER, shadow=True)
    assert done.plan.primary == Slot(model="violation", version=first.version)
    assert done.plan.canary == Slot(model="violation", version=second.version)
    assert done.plan.shadow == Slot(model="violation", version=third.version)
    with pytest.raises(InvalidInput):
        platform.deployments.deploy(ref(third), "moderation", DEPLOYER, shadow=True, canary=5)


def test_rollback_walks_back_through_earlier_rollbacks(platform: Platform) -> None:
    versions = [approved(platform) for _ in range(3)]
    for version in versions:
        platform.deployments.deploy(ref(version), "moderation", DEPLOYER)
    back = platform.deployments.rollback("moderation", DEPLOYER, reason="errors up")
    assert back.plan.primary == Slot(model="violation", version=versions[1].version)
    assert (back.action, back.restores, back.number) == (DeploymentAction.ROLLBACK, 2, 4)
    again = platform.deployments.rollback("moderation", DEPLOYER)
    assert again.plan.primary == Slot(model="violation", version=versions[0].version)
    with pytest.raises(Conflict) as caught:
        platform.deployments.rollback("moderation", DEPLOYER)
    assert "0 deployment(s) to roll back through" in caught.value.headline
    champion = platform.registry.get_model("mod", "violation").aliases["champion"]
    assert champion == versions[0].version
    moves = platform.registry.alias_history("mod", "violation", "champion")
    one, two, three = (v.version for v in versions)
    assert [m.to_version for m in moves] == [one, two, three, two, one]


def test_rollback_several_steps_or_to_a_numbered_deployment(platform: Platform) -> None:
    versions = [approved(platform) for _ in range(4)]
    for version in versions:
        platform.deployments.deploy(ref(version), "moderation", DEPLOYER)
    two_back = platform.deployments.rollback("moderation", DEPLOYER, steps=2)
    assert two_back.plan.primary == Slot(model="violation", version=versions[1].version)
    numbered = platform.deployments.rollback("moderation", DEPLOYER, number=1)
    assert numbered.plan.primary == Slot(model="violation", version=versions[0].version)
    with pytest.raises(InvalidInput):
        platform.deployments.rollback("moderation", DEPLOYER, number=numbered.number)
    with pytest.raises(InvalidInput):
        platform.deployments.rollback("moderation", DEPLOYER, number=99)
    for steps in (0, -1, True):
        with pytest.raises(InvalidInput):
            platform.deployments.rollback("moderation", DEPLOYER, steps=steps)  # type: ignore[arg-type]


def test_rolling_back_a_canary_stops_it(platform: Platform) -> None:
    first, second = approved(platform), approved(platform)
    platform.deployments.deploy(ref(first), "moderation", DEPLOYER)
    platform.deployments.deploy(ref(second), "moderation", DEPLOYER, canary=10)
    back = platform.deployments.rollback("moderation", DEPLOYER)
    assert back.plan == TrafficPlan(primary=Slot(model="violation", version=first.version))


def test_history_is_newest_first_with_who_why_and_verdict(platform: Platform) -> None:
    first, second = approved(platform), approved(platform)
    platform.deployments.deploy(ref(first), "moderation", DEPLOYER, reason="launch")
    platform.deployments.deploy(ref(second), "moderation", Actor(name="eve"), reason="retrained")
    history = platform.deployments.history("moderation")
    assert [(d.number, d.actor, d.reason, d.verdict) for d in history] == [
        (2, "eve", "retrained", "go"),
        (1, "dana", "launch", "go"),
    ]
    assert history[0].base == 1


def test_the_same_plan_twice_is_a_conflict(platform: Platform) -> None:
    version = approved(platform)
    platform.deployments.deploy(ref(version), "moderation", DEPLOYER)
    with pytest.raises(Conflict) as caught:
        platform.deployments.deploy(ref(version), "moderation", DEPLOYER)
    assert "already serves" in caught.value.headline
    assert len(platform.deployments.history("moderation")) == 1


def test_an_endpoint_serves_one_project(platform: Platform) -> None:
    platform.deployments.deploy(ref(approved(platform)), "moderation", DEPLOYER)
    other = register(platform, model="ranker", project="recsys")
    judge(platform, other, "moderation", "go")
    with pytest.raises(InvalidInput) as caught:
        platform.deployments.deploy(ref(other), "moderation", DEPLOYER)
    assert "serves project 'mod'" in caught.value.headline


def test_listeners_hear_each_committed_change(platform: Platform) -> None:
    heard: list[str] = []
    platform.deployments.on_change(heard.append)
    version = approved(platform)
    platform.deployments.deploy(ref(version), "moderation", DEPLOYER)
    with pytest.raises(Conflict):
        platform.deployments.deploy(ref(version), "moderation", DEPLOYER)
    assert heard == ["moderation"]


def test_bad_names_and_unknown_endpoints(platform: Platform) -> None:
    with pytest.raises(NotFound):
        platform.deployments.promote("nowhere", DEPLOYER)
    with pytest.raises(NotFound):
        platform.deployments.rollback("nowhere", DEPLOYER)
    with pytest.raises(InvalidInput):
        platform.deployments.deploy(ref(approved(platform)), "bad name!", DEPLOYER)
