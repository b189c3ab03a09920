"""The models an endpoint's traffic plan needs, loaded, and swapped in without a pause.

A plan change (deploy, promote, rollback; made here or by another process on the same store)
is picked up by ``refresh``: the new plan's models are loaded beside the ones serving now, and
only then is the endpoint's route replaced — one reference assignment, so a request sees
either the whole old plan or the whole new one, and none waits on a load. Requests already
queued on a retired model are still answered by it. Recently retired models stay loaded, so a
rollback swaps back at once.
"""

from __future__ import annotations

import random
import threading
import zlib
from collections import OrderedDict
from dataclasses import dataclass

from opsloop.domain.deployments import Endpoint, Slot
from opsloop.domain.errors import NotFound, OpsloopError, Unavailable
from opsloop.domain.names import ModelRef
from opsloop.services.deployments import DeploymentService
from opsloop.services.registry import RegistryService
from opsloop.services.serving.batcher import Batcher, LogWriter

KEEP_RETIRED = 4
POLL_EVERY_S = 0.5


@dataclass(frozen=True)
class Route:
    """An endpoint's plan with its models loaded: what one request is routed by."""

    endpoint: str
    deployment: int
    primary: Batcher
    canary: Batcher | None = None
    canary_share: float = 0.0
    shadow: Batcher | None = None

    def pick(self, key: str | None) -> tuple[str, Batcher]:
        """Primary or canary: by a stable hash of ``key`` when given (the same user keeps
        the same model), else at random, in proportion to the canary share."""
        if self.canary is None:
            return "primary", self.primary
        draw = random.random() * 100.0 if key is None else (zlib.crc32(key.encode()) % 10_000) / 100
        if draw < self.canary_share:
            return "canary", self.canary
        return "primary", self.primary


class ServingHost:
    def __init__(
        self,
        deployments: DeploymentService,
        registry: RegistryService,
        log: LogWriter,
        *,
        max_batch: int = 256,
        only: list[str] | None = None,
    ) -> None:
        self.deployments = deployments
        self.registry = registry
        self.log = log
        self.max_batch = max_batch
        self.only = None if only is None else set(only)
        self._routes: dict[str, Route] = {}
        self._failures: dict[str, str] = {}
        self._models: OrderedDict[tuple[str, str, int], Batcher] = OrderedDict()
        self._lock = threading.Lock()
        self._stopped = threading.Event()
        self._poller: threading.Thread | None = None
        self._start_lock = threading.Lock()
        deployments.on_change(self._changed)

    def start(self) -> None:
        """Load every endpoint's current plan, then follow changes (once; also done by the
        first ``route`` call when nobody started the host)."""
        with self._start_lock:
            if self._poller is not None:
                return
            self._start()

    def _start(self) -> None:
        numbers = self.deployments.current_numbers()
        if self.only is not None:
            missing = sorted(self.only - set(numbers))
            if missing:
                raise NotFound(f"endpoint {missing[0]!r} not found", field="endpoint")
        for name in numbers:
            if self._serves(name):
                self.refresh(name)
        self._poller = threading.Thread(target=self._poll, name="opsloop-plans", daemon=True)
        self._poller.start()

    def stop(self) -> None:
        self._stopped.set()
        if self._poller is not None:
            self._poller.join(timeout=5)
        with self._lock:
            batchers = list(self._models.values())
            self._models.clear()
            self._routes.clear()
        for batcher in batchers:
            batcher.stop()
        for batcher in batchers:
            batcher.join(timeout=5)

    def loaded(self, endpoint: str) -> Route | None:
        """The endpoint's route if it is loaded: no I/O, safe on the event loop."""
        return self._routes.get(endpoint)

    def route(self, endpoint: str) -> Route:
        """The endpoint's route, loading it (database, model files) if it is not yet."""
        found = self._routes.get(endpoint)
        if found is not None:
            return found
        if self._poller is None:
            self.start()
            found = self._routes.get(endpoint)
            if found is not None:
                return found
        if endpoint in self._failures:
            raise Unavailable(f"endpoint {endpoint!r} cannot serve: {self._failures[endpoint]}")
        if not self._serves(endpoint):
            raise NotFound(f"endpoint {endpoint!r} is not served here", field="endpoint")
        self.refresh(endpoint)  # made after this process started and not yet polled
        found = self._routes.get(endpoint)
        if found is None:
            raise Unavailable(f"endpoint {endpoint!r} has no model deployed")
        return found

    def refresh(self, endpoint: str) -> None:
        """Bring ``endpoint``'s route up to its current deployment (a no-op when it is)."""
        with self._lock:
            try:
                state = self.deployments.get(endpoint)
            except NotFound:
                self._routes.pop(endpoint, None)
                raise
            current = self._routes.get(endpoint)
            if current is not None and current.deployment == state.deployment:
                return
            if state.plan.primary is None or state.deployment is None:
                return
            try:
                route = self._build(state)
            except OpsloopError as exc:
                # Keep serving the plan we have; say why the new one is not served.
                self._failures[endpoint] = exc.headline
                if current is None:
                    return
                raise
            self._failures.pop(endpoint, None)
            self._routes[endpoint] = route  # the swap: one assignment
            self._retire()

    def _build(self, state: Endpoint) -> Route:
        plan = state.plan
        assert plan.primary is not None and state.deployment is not None
        return Route(
            endpoint=state.name,
            deployment=state.deployment,
            primary=self._batcher(state.project, plan.primary),
            canary=None if plan.canary is None else self._batcher(state.project, plan.canary),
            canary_share=plan.canary_share,
            shadow=None if plan.shadow is None else self._batcher(state.project, plan.shadow),
        )

    def _batcher(self, project: str, slot: Slot) -> Batcher:
        key = (project, slot.model, slot.version)
        found = self._models.get(key)
        if found is not None:
            self._models.move_to_end(key)
            return found
        from opsloop.services.serving.runtime import LoadedModel  # numpy: on the first model

        version = self.registry.resolve(ModelRef(project, slot.model, version=slot.version))
        model = LoadedModel(version, self.registry.load(version))
        batcher = Batcher(model, self.log, self.max_batch)
        self._models[key] = batcher
        return batcher

    def _retire(self) -> None:
        """Unload models no route uses, beyond the ``KEEP_RETIRED`` most recently used."""
        in_use = {
            id(b)
            for route in self._routes.values()
            for b in (route.primary, route.canary, route.shadow)
            if b is not None
        }
        idle = [key for key, b in self._models.items() if id(b) not in in_use]
        for key in idle[: max(0, len(idle) - KEEP_RETIRED)]:
            self._models.pop(key).stop()

    def _serves(self, endpoint: str) -> bool:
        return self.only is None or endpoint in self.only

    def _changed(self, endpoint: str) -> None:
        # A host nobody started serves nothing yet (a CLI process that only deploys): it
        # loads the current plans when its first request comes.
        if self._poller is not None and self._serves(endpoint) and not self._stopped.is_set():
            self.refresh(endpoint)

    def _poll(self) -> None:
        while not self._stopped.wait(POLL_EVERY_S):
            try:
                numbers = self.deployments.current_numbers()
            except Exception:
                continue  # the store is briefly unreachable: keep serving what we have
            for name, number in numbers.items():
                route = self._routes.get(name)
                if self._serves(name) and (route is None or route.deployment != number):
                    try:
                        self.refresh(name)
                    except Exception:
                        continue  # reported by route(); the current plan keeps serving
