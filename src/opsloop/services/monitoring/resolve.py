"""What a monitor run works from: the models an endpoint serves, the inputs it watches, and
the reference it compares them with (prepared once, then kept in a small LRU)."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any

from opsloop.domain.deployments import Endpoint, Slot
from opsloop.domain.entities import DatasetVersion
from opsloop.domain.errors import NotFound
from opsloop.domain.monitoring import MonitorConfig
from opsloop.domain.names import ModelRef, parse_dataset_ref
from opsloop.services.datasets import DatasetService
from opsloop.services.drift.cache import ReferenceCache
from opsloop.services.monitoring.inputs import CATEGORICAL, INPUT_PREFIX, Feature, kind_of
from opsloop.services.monitoring.reference import Reference
from opsloop.services.monitoring.served import ServedModel
from opsloop.services.monitoring.window import Traffic, read_traffic
from opsloop.services.registry import RegistryService
from opsloop.store.database import Database
from opsloop.store.repos import evaluations, models, runs

if TYPE_CHECKING:
    from opsloop.store.prediction_log import PredictionLog


class Resolver:
    """Finds, for a run, the models, the monitored features and the prepared reference."""

    def __init__(
        self,
        db: Database,
        registry: RegistryService,
        datasets: DatasetService,
        log: PredictionLog,
    ) -> None:
        self.db = db
        self.registry = registry
        self.datasets = datasets
        self.log = log
        self._cache = ReferenceCache()

    def served(
        self, state: Endpoint, slot: Slot | None, positive: Any, task: str | None = None
    ) -> ServedModel | None:
        """The model version in ``slot`` (primary or canary) of the endpoint, if any; ``task``
        (the monitor's) overrides what its signature says."""
        if slot is None:
            return None
        version = self.registry.resolve(ModelRef(state.project, slot.model, version=slot.version))
        return ServedModel.of(version, positive, task)

    @staticmethod
    def features(
        config: MonitorConfig, served: ServedModel | None, primary: Traffic
    ) -> list[Feature]:
        """The monitored inputs: as configured, else the signature's, else those logged."""
        table = primary.table
        logged = [n[len(INPUT_PREFIX) :] for n in table.column_names if n.startswith(INPUT_PREFIX)]
        names = config.features or (list(served.inputs) if served and served.inputs else logged)
        features = []
        for name in names:
            expected = served.inputs.get(name) if served is not None else None
            if expected is not None and kind_of(expected, None) is None:
                continue  # a date, say: neither a number nor a category to compare
            column = INPUT_PREFIX + name
            arrow_type = table.schema.field(column).type if column in table.column_names else None
            features.append(Feature(name, kind_of(expected, arrow_type) or CATEGORICAL, expected))
        return features

    def reference(
        self,
        endpoint: str,
        config: MonitorConfig,
        served: ServedModel | None,
        features: list[Feature],
    ) -> Reference | None:
        from opsloop.services.monitoring import reference as references

        model_key = None if served is None else (served.key, served.positive, served.task)
        if config.baseline is not None:
            since, until = config.baseline.since.timestamp(), config.baseline.until.timestamp()
            source = f"baseline {_iso(since)} to {_iso(until)}"

            def from_log() -> Reference:
                traffic = read_traffic(self.log, endpoint, since, until)["primary"]
                return references.from_log(source, traffic, features, served, config.min_labels)

            in_log = ("log", endpoint, since, until, model_key, tuple(features), config.min_labels)
            return self._cache.get(in_log, from_log)
        dataset = self._training_data(config, served, features)
        if dataset is None:
            return None
        found = dataset
        held_out = self._held_out(config, served, dataset)

        def from_dataset() -> Reference:
            table = self.datasets.read_table(found.project, found.dataset, found.version)
            load = None if served is None else lambda: self._load(served)
            calibration = None
            if held_out is not None:
                other, target = held_out
                rows = self.datasets.read_table(other.project, other.dataset, other.version)
                calibration = references.HeldOut(other.ref, rows, target)
            return references.from_dataset(
                found.ref, table, features, served, load, config.target, calibration
            )

        calibrated = None if held_out is None else (held_out[0].sha256, held_out[1])
        key = ("dataset", dataset.sha256, model_key, tuple(features), config.target, calibrated)
        return self._cache.get(key, from_dataset)

    def _held_out(
        self, config: MonitorConfig, served: ServedModel | None, training: DatasetVersion
    ) -> tuple[DatasetVersion, str | None] | None:
        """Data the primary did not train on, and its label column, to calibrate on: the
        configured ``calibration``, else the dataset of the primary's newest evaluation on
        other data than its training data (a gate's holdout); None: use the training data."""
        if config.calibration is not None:
            return self.dataset(config.calibration), config.target
        if served is None:
            return None
        version = served.version
        with self.db.read() as conn:
            model_id = models.get_id(conn, version.project, version.model)
            version_id = models.version_id(conn, model_id, version.version)
            found = evaluations.for_version(conn, version_id)
        for evaluation in found:  # newest first
            if evaluation.dataset == training.ref:
                continue
            try:
                return self.dataset(evaluation.dataset), config.target or evaluation.target
            except NotFound:
                continue  # an evaluation of a dataset since deleted
        return None

    def _training_data(
        self, config: MonitorConfig, served: ServedModel | None, features: list[Feature]
    ) -> DatasetVersion | None:
        """The configured dataset, else the one the primary's training run read (the one
        holding most of the monitored features, if it read several)."""
        if config.reference is not None:
            return self.dataset(config.reference)
        run_id = None if served is None else served.version.run_id
        if run_id is None:
            return None
        with self.db.read() as conn:
            inputs = runs.get(conn, run_id).inputs
        best: DatasetVersion | None = None
        best_count = -1
        wanted = {feature.name for feature in features}
        for item in inputs:
            candidate = self.datasets.get_version(item.project, item.dataset, item.version)
            count = len(wanted & {column.name for column in candidate.profile.columns})
            if count > best_count:
                best, best_count = candidate, count
        return best

    def dataset(self, ref: str) -> DatasetVersion:
        parsed = parse_dataset_ref(ref, "reference")
        return self.datasets.get_version(parsed.project, parsed.dataset, parsed.version)

    def _load(self, served: ServedModel) -> Any:
        from opsloop.services.serving.runtime import LoadedModel

        return LoadedModel(served.version, self.registry.load(served.version))


def _iso(moment: float) -> str:
    return datetime.fromtimestamp(moment, UTC).isoformat().replace("+00:00", "Z")
