"""What happened in a period, read once: the events, and what they point to before it.

``read`` asks the store a fixed number of queries, whatever the period holds: the period's
events, the spans of the runs that ended in it, the endpoints' deployment histories, where the
versions shipped in it came from, the evaluations their deploys relied on, and the review
queues' figures. Everything else is arithmetic over these rows (``stages``, ``delivery``).
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable
from dataclasses import dataclass, field

from opsloop.domain.errors import InvalidInput
from opsloop.store.database import Database
from opsloop.store.repos import endpoints as endpoint_repo
from opsloop.store.repos import projects as project_repo
from opsloop.store.repos import report_reads as reads
from opsloop.store.repos.event_reads import Happened, in_period

DEPLOY_KINDS = (
    "endpoint.deployed",
    "endpoint.canary_started",
    "endpoint.shadow_started",
    "endpoint.promoted",
)
ROLLBACK_KIND = "endpoint.rolled_back"
PIPELINE_KINDS = ("pipeline_run.started", "pipeline_run.succeeded", "pipeline_run.failed")
RUN_END_KINDS = ("run.finished", "run.failed", "run.killed")
# Kinds about one endpoint: their subject is ``endpoint:NAME``.
ENDPOINT_KINDS = frozenset(
    {
        *DEPLOY_KINDS,
        ROLLBACK_KIND,
        "monitor.ran",
        "alert.fired",
        "alert.action",
        "alert.resolved",
        "feedback.received",
        "review.routed",
        "review_item.decided",
    }
)
KINDS = (
    "dataset_version.created",
    "dataset_version.validated",
    *RUN_END_KINDS,
    "model_version.created",
    "model_version.evaluated",
    "alias.moved",
    *PIPELINE_KINDS,
    *sorted(ENDPOINT_KINDS),
)
# A first deployment of a version on an endpoint (a promote only moves one already there).
SHIPPING_ACTIONS = frozenset({"deploy", "canary", "shadow"})
# A version shipped: ((project, model, version), (endpoint, its first deployment there)).
Shipped = tuple[reads.VersionKey, tuple[str, reads.DeploymentRow]]


@dataclass(frozen=True)
class Scope:
    """What the report covers: a project (None: all), an endpoint of it (None: all)."""

    project: str | None
    endpoint: str | None
    endpoints: list[reads.EndpointRow]

    def keeps(self, event: Happened) -> bool:
        """Whether ``event`` is about this scope's endpoint (always, without one)."""
        if self.endpoint is None:
            return True
        if event.kind in ENDPOINT_KINDS:
            return event.subject == f"endpoint:{self.endpoint}"
        if event.kind == "model_version.evaluated":
            return event.data.get("endpoint") == self.endpoint
        return True  # project-wide: datasets, runs, the registry

    def owns_run(self, event: Happened) -> bool:
        """Whether a pipeline run's Event is this scope's by itself, whatever the run did:
        without an endpoint, every run of all projects, or a run of the project's own
        pipeline (recorded with the project)."""
        return self.endpoint is None and (self.project is None or event.project is not None)

    def keeps_run(self, started: Happened, makers: set[str]) -> bool:
        """Whether a pipeline run (its ``pipeline_run.started``) is this scope's. With an
        endpoint: the run names it. Else one it owns, or a run of a pipeline defined without
        a project that names one of the project's endpoints or registered a model version in
        it (``makers``: the pipelines that did) — not another project's."""
        named = _named_endpoints(started.data)
        if self.endpoint is not None:
            return self.endpoint in named
        if self.owns_run(started):
            return True
        return bool(named & {row.name for row in self.endpoints}) or started.subject in makers


def _named_endpoints(data: dict[str, object]) -> set[object]:
    params, detail = data.get("params"), data.get("detail")
    return {found.get("endpoint") for found in (params, detail) if isinstance(found, dict)} - {None}


@dataclass
class History:
    scope: Scope
    since: float
    until: float
    events: list[Happened]
    by_kind: dict[str, list[Happened]]
    runs: dict[str, reads.RunSpan]
    deployments: dict[str, list[reads.DeploymentRow]]  # endpoint name -> by number
    shipped: list[Shipped] = field(default_factory=list)
    origins: dict[reads.VersionKey, reads.Origin] = field(default_factory=dict)
    evaluation_times: dict[int, float] = field(default_factory=dict)
    review_backlog: tuple[int, float | None] = (0, None)
    review_routed: int = 0
    review_closed: list[tuple[float, float]] = field(default_factory=list)
    review_decisions: list[tuple[str, float | None, float]] = field(default_factory=list)
    # The pipelines (as actors: pipeline:NAME, the subject of their runs too) that registered
    # a model version in the period.
    makers: set[str] = field(default_factory=set)

    @property
    def days(self) -> float:
        return (self.until - self.since) / 86400

    def of(self, *kinds: str) -> list[Happened]:
        """The scope's events of ``kinds``, oldest first."""
        if len(kinds) == 1:
            return self.by_kind.get(kinds[0], [])
        return sorted(
            (e for kind in kinds for e in self.by_kind.get(kind, [])),
            key=lambda e: (e.time, e.id),
        )

    def deployment(self, endpoint: str, number: int) -> reads.DeploymentRow | None:
        rows = self.deployments.get(endpoint, [])
        if 1 <= number <= len(rows) and rows[number - 1].number == number:
            return rows[number - 1]
        return next((row for row in rows if row.number == number), None)

    def served_before(self, rollback: Happened) -> float | None:
        """How long the deployment a rollback undid served, up to the rollback; None when
        that deployment is not known."""
        number = rollback.data.get("number")
        if not isinstance(number, int):
            return None
        undone = self.deployment(rollback.subject.removeprefix("endpoint:"), number - 1)
        return None if undone is None else rollback.time - undone.time


def scope_of(db: Database, project: str | None, endpoint: str | None) -> Scope:
    """Check the names exist and belong together; an endpoint alone names its project."""
    with db.read() as conn:
        if project is not None:
            project_repo.get_id(conn, project)
        if endpoint is not None:
            endpoint_repo.get_id(conn, endpoint)
        rows = reads.endpoints_of(conn, project if endpoint is None else None)
    if endpoint is None:
        return Scope(project, None, rows)
    row = next(row for row in rows if row.name == endpoint)
    if project is not None and row.project != project:
        raise InvalidInput(
            f"endpoint {endpoint!r} belongs to project {row.project!r}, not {project!r}",
            field="endpoint",
        )
    return Scope(row.project, endpoint, [row])


def read(db: Database, scope: Scope, since: float, until: float) -> History:
    ids = [row.id for row in scope.endpoints]
    names = {row.id: row.name for row in scope.endpoints}
    with db.read() as conn:
        happened = in_period(
            conn,
            since=since,
            until=until,
            kinds=KINDS,
            project=scope.project,
            projectless=PIPELINE_KINDS,
        )
        spans = {span.id: span for span in reads.runs_ended(conn, scope.project, since, until)}
        histories: dict[str, list[reads.DeploymentRow]] = defaultdict(list)
        for row in reads.deployments_before(conn, ids, until):
            histories[names[row.endpoint_id]].append(row)
        history = History(
            scope=scope,
            since=since,
            until=until,
            events=[],
            by_kind={},
            runs=spans,
            deployments=dict(histories),
        )
        _keep(history, happened)
        history.shipped = _shipped_versions(history)
        history.origins = reads.version_origins(conn, {key for key, _row in history.shipped})
        history.evaluation_times = reads.evaluation_times(
            conn, _evaluation_ids(history, [row for _key, row in history.shipped])
        )
        history.review_backlog = reads.review_backlog(conn, ids, until)
        history.review_routed = reads.review_routed(conn, ids, since, until)
        history.review_closed = reads.review_closed(conn, ids, since, until)
        history.review_decisions = reads.review_decided(conn, ids, since, until)
    return history


def _keep(history: History, happened: list[Happened]) -> None:
    """The scope's events, filed by kind, in time order. A pipeline run's end is kept when
    its start was (it comes later, so one pass sees the start first), or when the scope
    owns the run (``Scope.owns_run``)."""
    scope = history.scope
    ends = PIPELINE_KINDS[1:]
    history.makers = makers = {
        event.actor
        for event in happened
        if event.kind == "model_version.created" and event.actor_kind == "pipeline"
    }
    started: set[object] = set()
    kept: list[Happened] = []
    by_kind: dict[str, list[Happened]] = defaultdict(list)
    for event in happened:
        if event.kind == PIPELINE_KINDS[0]:
            if not scope.keeps_run(event, makers):
                continue
            started.add(event.data.get("run_id"))
        elif event.kind in ends:
            if not scope.owns_run(event) and event.data.get("run_id") not in started:
                continue
        elif not scope.keeps(event):
            continue
        kept.append(event)
        by_kind[event.kind].append(event)
    history.events = kept
    history.by_kind = dict(by_kind)


def _shipped_versions(history: History) -> list[Shipped]:
    """Each version's first deployment on each endpoint, where that fell in the period."""
    projects = {row.name: row.project for row in history.scope.endpoints}
    found: list[Shipped] = []
    for endpoint, rows in history.deployments.items():
        seen: set[tuple[str | None, int | None]] = set()
        for row in rows:
            slot = (row.model, row.version)
            if row.action not in SHIPPING_ACTIONS or slot in seen:
                seen.add(slot)
                continue
            seen.add(slot)
            if row.time >= history.since and row.model is not None and row.version is not None:
                key = (projects[endpoint], row.model, row.version)
                found.append((key, (endpoint, row)))
    return found


def _evaluation_ids(
    history: History, shipped: Iterable[tuple[str, reads.DeploymentRow]]
) -> set[int]:
    """The evaluations the deploys of the period relied on (their gate verdicts)."""
    ids = {row.evaluation_id for _endpoint, row in shipped if row.evaluation_id is not None}
    for event in history.of(*DEPLOY_KINDS):
        evaluation = event.data.get("evaluation_id")
        if isinstance(evaluation, int):
            ids.add(evaluation)
    return ids
