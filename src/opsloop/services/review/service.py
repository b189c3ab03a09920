"""The review queue: a policy per endpoint, routing from the prediction log, claims, decisions
that become Feedback, and the queue's statistics.

Routing never touches the serving path: it reads the durable log afterwards, from where the
last pass stopped (first: when the policy was set) to a couple of seconds ago, re-reading a
short overlap for writes that landed late; an item is one per (endpoint, request id), so a
prediction read twice is routed once. The server's scheduler calls ``route``.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable
from datetime import datetime
from typing import TYPE_CHECKING, Any

from opsloop.domain.deployments import Endpoint
from opsloop.domain.entities import Actor, ActorKind
from opsloop.domain.errors import Conflict, InvalidInput, NotFound
from opsloop.domain.names import ModelRef, check_name
from opsloop.domain.review import (
    Label,
    ReviewConfig,
    ReviewItem,
    ReviewPolicy,
    ReviewStats,
    RoutingPass,
    key_error,
    label_key,
)
from opsloop.services.deployments import DeploymentService, subject_of
from opsloop.services.feedback import FeedbackService
from opsloop.services.registry import RegistryService
from opsloop.services.review import routing
from opsloop.services.review._checks import as_choice, item_id_of, why_not_held
from opsloop.services.review.intake import read_routed
from opsloop.services.review.stats import gather
from opsloop.store.database import Database, retry_races
from opsloop.store.repos import endpoints, events
from opsloop.store.repos import review as repo
from opsloop.store.repos._time import at, epoch_of

if TYPE_CHECKING:
    from sqlalchemy import Connection

    from opsloop.store.prediction_log import PredictionLog

log = logging.getLogger(__name__)
ROUTER = Actor(name="review", kind=ActorKind.SYSTEM)
SETTLE_S = 2.0  # log writes younger than this may still be landing
OVERLAP_S = 30.0  # read again behind the last pass: writes that landed late
MAX_PASS_S = 86400.0  # one pass routes at most a day of log; the next goes on
ROUTE_EVERY_S = 30.0  # the scheduler routes an endpoint once this much log has gathered
MAX_REVIEWS = 5  # reviewers who disagree bring one more, up to this many
MAX_SOURCE = 100_000
MAX_NOTE = 2_000
MAX_ITEMS = 1_000
MAX_OFFSET = 1_000_000
CLAIM_TRIES = 100


class ReviewService:
    def __init__(
        self,
        db: Database,
        deployments: DeploymentService,
        registry: RegistryService,
        feedback: FeedbackService,
        log: PredictionLog,
        *,
        clock: Callable[[], float] = time.time,
    ) -> None:
        self.db = db
        self.deployments = deployments
        self.registry = registry
        self.feedback = feedback
        self.log = log
        self.clock = clock
        self._classes: dict[tuple[str, str, int], list[Any] | None] = {}

    # -- the policy ------------------------------------------------------------------------

    def configure(self, endpoint: str, config: str, actor: Actor) -> ReviewPolicy:
        """Set (or replace) ``endpoint``'s review policy from YAML; its routing progress stays."""
        check_name(endpoint, "endpoint")
        if isinstance(config, str) and len(config) > MAX_SOURCE:
            raise InvalidInput(f"policy is longer than {MAX_SOURCE} characters", field="policy")
        parsed = ReviewConfig.parse(config)
        state = self.deployments.get(endpoint)
        positive = None if parsed.costs is None else parsed.costs.positive
        classes = self._primary_classes(state)
        keys = None if classes is None else {label_key(value) for value in classes}
        if positive is not None and keys is not None and label_key(positive) not in keys:
            shown = ", ".join(map(str, classes or []))
            raise key_error(config, ("costs", "positive"), f"{positive!r} is not a class ({shown})")

        def write() -> ReviewPolicy:
            with self.db.begin() as conn:
                endpoint_id = endpoints.get_id(conn, endpoint)
                changed_at = self.clock()
                created = repo.save_policy(
                    conn, endpoint_id, parsed, config, changed_at, actor.name
                )
                events.append(
                    conn,
                    kind="review.configured",
                    subject=subject_of(endpoint),
                    project=state.project,
                    actor=actor.name,
                    actor_kind=actor.kind,
                    time=changed_at,
                    data={
                        "created": created,
                        "uncertain": None
                        if parsed.uncertain is None
                        else parsed.uncertain.model_dump(),
                        "sample": parsed.sample,
                        "rules": [rule.name for rule in parsed.rules],
                        "cap_per_hour": parsed.cap_per_hour,
                    },
                )
                found = repo.get_policy(conn, endpoint_id)
                assert found is not None
                return found

        return retry_races(write, f"setting the review policy of {endpoint}")

    def policy(self, endpoint: str) -> ReviewPolicy:
        with self.db.read() as conn:
            return self._policy(conn, check_name(endpoint, "endpoint"))[1]

    def policies(self) -> list[ReviewPolicy]:
        """Every endpoint's review policy, by endpoint name."""
        with self.db.read() as conn:
            return repo.list_policies(conn)

    # -- routing ---------------------------------------------------------------------------

    def route(self, now: float) -> dict[str, RoutingPass]:
        """Route every endpoint with a policy whose log has gathered ``ROUTE_EVERY_S`` since
        its last pass. One that fails is logged; the others still run."""
        with self.db.read() as conn:
            policies = repo.list_policies(conn)
        done: dict[str, RoutingPass] = {}
        for found in policies:
            base = found.routed_until or found.created_at
            if now - SETTLE_S - base.timestamp() < ROUTE_EVERY_S:
                continue
            try:
                done[found.endpoint] = self.route_endpoint(found.endpoint, now)
            except Exception:
                log.exception("routing the review queue of endpoint %s failed", found.endpoint)
        return done

    def route_endpoint(
        self, endpoint: str, now: float | None = None, *, actor: Actor = ROUTER
    ) -> RoutingPass:
        """Route the predictions logged since the last pass (up to ``now - SETTLE_S``, a day
        at most) that the policy picks; what was routed and left out by the cap."""
        now = self.clock() if now is None else now
        with self.db.read() as conn:
            endpoint_id, policy = self._policy(conn, check_name(endpoint, "endpoint"))
            state = endpoints.get(conn, endpoint)
        created = policy.created_at.timestamp()
        base = created if policy.routed_until is None else policy.routed_until.timestamp()
        start = created if policy.routed_until is None else max(created, base - OVERLAP_S)
        end = min(now - SETTLE_S, base + MAX_PASS_S)
        if end <= base:
            return RoutingPass(endpoint=endpoint, routed=0, routed_until=policy.routed_until)
        config = policy.config
        found = read_routed(self.log, endpoint, config, start, end)

        def write() -> RoutingPass:
            with self.db.begin() as conn:
                repo.lock_policy(conn, endpoint_id)
                known = repo.known_request_ids(
                    conn, endpoint_id, [one.candidate.request_id for one in found]
                )
                fresh = [one for one in found if one.candidate.request_id not in known]
                hours = {routing.hour_of(one.candidate.predicted_at) for one in fresh}
                stored = repo.count_in_hours(conn, endpoint_id, hours)
                kept, left = routing.within_cap(
                    [one.candidate for one in fresh], config.cap_per_hour, stored
                )
                # A prediction left out is counted when first read, not again in the overlap.
                capped = sum(1 for candidate in left if candidate.predicted_at >= base)
                items = {one.candidate.request_id: one.item for one in fresh}
                routed_at = self.clock()
                repo.insert_items(
                    conn,
                    [
                        {
                            **items[candidate.request_id],
                            "endpoint_id": endpoint_id,
                            "created_at": routed_at,
                        }
                        for candidate in kept
                    ],
                )
                repo.advance(conn, endpoint_id, end)
                by_reason: dict[str, int] = {}
                for candidate in kept:
                    reason = candidate.match.reason
                    by_reason[reason] = by_reason.get(reason, 0) + 1
                if kept or capped:
                    events.append(
                        conn,
                        kind=routing.ROUTED_EVENT,
                        subject=subject_of(endpoint),
                        project=state.project,
                        actor=actor.name,
                        actor_kind=actor.kind,
                        time=routed_at,
                        data={
                            "routed": len(kept),
                            "by_reason": by_reason,
                            "capped": capped,
                            "from": start,
                            "until": end,
                        },
                    )
                return RoutingPass(
                    endpoint=endpoint,
                    routed=len(kept),
                    by_reason=by_reason,
                    capped=capped,
                    read_from=at(start),
                    routed_until=at(end),
                )

        return retry_races(write, f"routing the review queue of {endpoint}")

    # -- the queue -------------------------------------------------------------------------

    def claim(self, endpoint: str, reviewer: Actor, now: float | None = None) -> ReviewItem | None:
        """The item ``reviewer`` holds a live claim on, else the most urgent open item with no
        live claim that they have not decided or skipped, now claimed for them; None when
        nothing is left."""
        with self.db.read() as conn:
            endpoint_id, policy = self._policy(conn, check_name(endpoint, "endpoint"))
            state = endpoints.get(conn, endpoint)
        ttl = policy.config.claim_ttl_s
        for _ in range(CLAIM_TRIES):
            with self.db.begin() as conn:
                moment = self.clock() if now is None else now
                held = repo.held_by(conn, endpoint_id, reviewer.name, moment)
                if held is not None:
                    return self._with_choices(held, state, policy)
                candidate = repo.next_claimable(conn, endpoint_id, reviewer.name, moment)
                if candidate is None:
                    return None
                if repo.take_claim(conn, candidate, reviewer.name, moment, ttl):
                    item = repo.get_item(conn, endpoint_id, candidate)
                    return self._with_choices(item, state, policy)
            # Another reviewer claimed that one between our read and our update: next one.
        raise Conflict("too many reviewers are claiming at once; try again", field="claim")

    def held(self, endpoint: str, reviewer: Actor, now: float | None = None) -> ReviewItem | None:
        """The item ``reviewer`` holds a live claim on, with its choices; None when they hold
        none. Only reads: taking the next item is ``claim``."""
        with self.db.read() as conn:
            endpoint_id, policy = self._policy(conn, check_name(endpoint, "endpoint"))
            state = endpoints.get(conn, endpoint)
            moment = self.clock() if now is None else now
            found = repo.held_by(conn, endpoint_id, reviewer.name, moment)
        return None if found is None else self._with_choices(found, state, policy)

    def remaining(self, endpoint: str, reviewer: Actor, now: float | None = None) -> int:
        """Open items ``reviewer`` could still claim, the one they hold included."""
        with self.db.read() as conn:
            endpoint_id, _ = self._policy(conn, check_name(endpoint, "endpoint"))
            moment = self.clock() if now is None else now
            return repo.count_claimable(conn, endpoint_id, reviewer.name, moment)

    def decide(
        self, endpoint: str, item_id: int, reviewer: Actor, label: Any, note: str | None = None
    ) -> ReviewItem:
        """Record ``reviewer``'s label for the item they hold a live claim on. Once it has the
        decisions it needs it closes with the majority label, which becomes Feedback (source
        reviewer); reviewers who disagree bring one more (up to ``MAX_REVIEWS``)."""
        if note is not None and (not isinstance(note, str) or len(note) > MAX_NOTE):
            raise InvalidInput(f"note must be text of at most {MAX_NOTE} characters", field="note")
        with self.db.read() as conn:
            endpoint_id, policy = self._policy(conn, check_name(endpoint, "endpoint"))
            state = endpoints.get(conn, endpoint)
            current = repo.get_item(conn, endpoint_id, item_id_of(item_id))
        chosen = as_choice(label, self._choices(current, state, policy))

        def write() -> tuple[ReviewItem, bool]:
            with self.db.begin() as conn:
                moment = self.clock()
                item = repo.get_item(conn, endpoint_id, current.id)
                if not repo.release_claim(conn, item.id, reviewer.name, live_at=moment):
                    raise Conflict(why_not_held(conn, item, reviewer.name, moment), field="claim")
                repo.add_decision(
                    conn,
                    item.id,
                    reviewer=reviewer.name,
                    action=repo.DECIDED,
                    label=chosen,
                    note=note,
                    claimed_at=None if item.claimed_at is None else epoch_of(item.claimed_at),
                    time=moment,
                )
                votes = [
                    one.label for one in repo.decisions(conn, item.id) if one.action == repo.DECIDED
                ]
                event = {
                    "subject": subject_of(endpoint),
                    "project": state.project,
                    "actor": reviewer.name,
                    "actor_kind": reviewer.kind,
                    "time": moment,
                }
                detail = {"item": item.id, "request_id": item.request_id}
                events.append(
                    conn,
                    kind="review_item.decided",
                    data={**detail, "label": chosen, "decisions": len(votes)},
                    **event,
                )
                closed = False
                if len(votes) >= item.reviews_needed:
                    agreed, winner = routing.majority(votes)
                    if agreed or item.reviews_needed >= MAX_REVIEWS:
                        repo.close(conn, item.id, winner if agreed else None, moment)
                        closed = agreed
                        events.append(
                            conn,
                            kind="review_item.closed",
                            data={
                                **detail,
                                "label": winner if agreed else None,
                                "prediction": item.prediction,
                                "decisions": len(votes),
                                "agreed": agreed,
                            },
                            **event,
                        )
                    else:  # reviewers disagree: one more decides
                        repo.need_reviews(conn, item.id, item.reviews_needed + 1)
                return repo.get_item(conn, endpoint_id, item.id), closed

        item, closed = write()
        if closed and item.label is not None:
            self.feedback.record(
                endpoint, [{"id": item.request_id, "label": item.label}], reviewer, "reviewer"
            )
        return self.item(endpoint, item.id)

    def skip(self, endpoint: str, item_id: int, reviewer: Actor) -> ReviewItem:
        """Pass on the item: its claim (if ``reviewer``'s) is released, and it is not offered
        to them again."""
        with self.db.read() as conn:
            endpoint_id, _ = self._policy(conn, check_name(endpoint, "endpoint"))
            state = endpoints.get(conn, endpoint)
        with self.db.begin() as conn:
            moment = self.clock()
            item = repo.get_item(conn, endpoint_id, item_id_of(item_id))
            if item.status == repo.CLOSED:
                raise Conflict(f"review item {item.id} is already closed", field="item")
            seen = repo.has_seen(conn, item.id, reviewer.name)
            if seen is not None:
                raise Conflict(f"you have already {seen} review item {item.id}", field="item")
            held = repo.release_claim(conn, item.id, reviewer.name, live_at=None)
            repo.add_decision(
                conn,
                item.id,
                reviewer=reviewer.name,
                action=repo.SKIPPED,
                label=None,
                note=None,
                claimed_at=epoch_of(item.claimed_at) if held and item.claimed_at else None,
                time=moment,
            )
            events.append(
                conn,
                kind="review_item.skipped",
                subject=subject_of(endpoint),
                project=state.project,
                actor=reviewer.name,
                actor_kind=reviewer.kind,
                time=moment,
                data={"item": item.id, "request_id": item.request_id},
            )
        return self.item(endpoint, item.id)

    def items(
        self, endpoint: str, *, status: str | None = None, limit: int = 100, offset: int = 0
    ) -> list[ReviewItem]:
        """Open items in queue order, or every (or closed) item newest first; ``offset``
        skips that many first (a page further)."""
        _check_status(status)
        if isinstance(limit, bool) or not isinstance(limit, int) or not 1 <= limit <= MAX_ITEMS:
            raise InvalidInput(f"limit must be a whole number from 1 to {MAX_ITEMS}", field="limit")
        if isinstance(offset, bool) or not isinstance(offset, int) or not 0 <= offset <= MAX_OFFSET:
            raise InvalidInput(
                f"offset must be a whole number from 0 to {MAX_OFFSET:,}", field="offset"
            )
        with self.db.read() as conn:
            endpoint_id, _ = self._policy(conn, check_name(endpoint, "endpoint"))
            return repo.list_items(conn, endpoint_id, status, limit, offset)

    def count(self, endpoint: str, *, status: str | None = None) -> int:
        """How many items ``items`` pages through."""
        _check_status(status)
        with self.db.read() as conn:
            endpoint_id, _ = self._policy(conn, check_name(endpoint, "endpoint"))
            return repo.count_items(conn, endpoint_id, status)

    def item(self, endpoint: str, item_id: int) -> ReviewItem:
        """One item with its decisions, in order, and the labels a reviewer may give."""
        with self.db.read() as conn:
            endpoint_id, policy = self._policy(conn, check_name(endpoint, "endpoint"))
            state = endpoints.get(conn, endpoint)
            found = repo.get_item(conn, endpoint_id, item_id_of(item_id))
            decisions = repo.decisions(conn, found.id)
        return self._with_choices(found, state, policy).model_copy(update={"decisions": decisions})

    # -- statistics ------------------------------------------------------------------------

    def stats(
        self,
        endpoint: str,
        since: datetime | float | None = None,
        *,
        last_s: float | None = None,
    ) -> ReviewStats:
        """The queue's figures over ``[since, now)`` (default: since the policy was set), or
        over the last ``last_s`` seconds of that at most (a page's view: its cost then stays
        bounded however old the queue is)."""
        now = self.clock()
        with self.db.read() as conn:
            endpoint_id, policy = self._policy(conn, check_name(endpoint, "endpoint"))
        start = policy.created_at.timestamp() if since is None else epoch_of(since)
        if last_s is not None:
            start = max(start, now - last_s)
        if not 0 <= start < now:
            raise InvalidInput("since must be in the past (and after 1970)", field="since")
        return gather(self.db, self.log, endpoint, endpoint_id, start, now)

    # -- helpers ---------------------------------------------------------------------------

    def _policy(self, conn: Connection, endpoint: str) -> tuple[int, ReviewPolicy]:
        endpoint_id = endpoints.get_id(conn, endpoint)
        found = repo.get_policy(conn, endpoint_id)
        if found is None:
            raise NotFound(
                f"endpoint {endpoint!r} has no review policy (set one: opsloop review policy set)",
                field="policy",
            )
        return endpoint_id, found

    def _version_classes(self, project: str, model: str, version: int) -> list[Any] | None:
        """A model version's classes (versions never change: read once)."""
        key = (project, model, version)
        if key not in self._classes:
            try:
                found = self.registry.resolve(ModelRef(project, model, version))
            except NotFound:
                return None
            classes = found.signature.classes
            self._classes[key] = list(classes) if classes else None
        return self._classes[key]

    def _primary_classes(self, state: Endpoint) -> list[Any] | None:
        primary = state.plan.primary
        if primary is None:
            return None
        return self._version_classes(state.project, primary.model, primary.version)

    def _choices(
        self, item: ReviewItem, state: Endpoint, policy: ReviewPolicy
    ) -> list[Label] | None:
        """The labels a reviewer may give: the policy's, else the item's model's classes."""
        if policy.config.labels is not None:
            return policy.config.labels
        return self._version_classes(state.project, item.model, item.version)

    def _with_choices(self, item: ReviewItem, state: Endpoint, policy: ReviewPolicy) -> ReviewItem:
        return item.model_copy(update={"choices": self._choices(item, state, policy)})


def _check_status(status: str | None) -> None:
    """An item status a listing takes: open, closed, or none (every item)."""
    if status not in (None, repo.OPEN, repo.CLOSED):
        raise InvalidInput("status must be open or closed", field="status")
