"""The metadata schema. Alembic migrations under ``migrations/`` create exactly this.

Times are epoch seconds (float) everywhere: portable across SQLite and PostgreSQL, sortable,
cheap to compare. Metric timestamps are epoch milliseconds, as they arrive.
"""

from __future__ import annotations

from sqlalchemy import (
    JSON,
    BigInteger,
    Boolean,
    Column,
    Float,
    ForeignKey,
    Index,
    Integer,
    LargeBinary,
    MetaData,
    String,
    Table,
    Text,
    UniqueConstraint,
)

metadata = MetaData(
    naming_convention={
        "ix": "ix_%(table_name)s_%(column_0_N_name)s",
        "uq": "uq_%(table_name)s_%(column_0_N_name)s",
        "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
        "pk": "pk_%(table_name)s",
    }
)

NAME = String(128)
KEY = String(250)

projects = Table(
    "projects",
    metadata,
    Column("id", Integer, primary_key=True),
    Column("name", NAME, nullable=False, unique=True),
    Column("description", Text, nullable=False, default=""),
    Column("created_at", Float, nullable=False),
)

experiments = Table(
    "experiments",
    metadata,
    Column("id", Integer, primary_key=True),
    Column("project_id", ForeignKey("projects.id"), nullable=False),
    Column("name", NAME, nullable=False),
    Column("created_at", Float, nullable=False),
    UniqueConstraint("project_id", "name"),
)

runs = Table(
    "runs",
    metadata,
    Column("id", String(32), primary_key=True),
    Column("project_id", ForeignKey("projects.id"), nullable=False),
    Column("experiment_id", ForeignKey("experiments.id"), nullable=False),
    Column("name", NAME, nullable=False),
    Column("status", String(16), nullable=False),
    Column("parent_id", ForeignKey("runs.id"), nullable=True),
    Column("user", NAME, nullable=False),
    Column("start_time", Float, nullable=False),
    Column("end_time", Float, nullable=True),
    Column("git_sha", String(64), nullable=True),
    Column("git_dirty", Boolean, nullable=True),
    Column("python_version", String(32), nullable=True),
    Column("packages", JSON, nullable=True),
    Column("error", Text, nullable=True),
    Index(None, "project_id", "start_time"),
    Index(None, "project_id", "end_time"),  # the runs that ended in a period (the report)
    Index(None, "id", "project_id"),  # covers the run-to-project check of a search
    Index(None, "experiment_id"),
    Index(None, "parent_id"),
)

params = Table(
    "params",
    metadata,
    Column("run_id", ForeignKey("runs.id"), primary_key=True),
    Column("key", KEY, primary_key=True),
    Column("value", Text, nullable=False),
    Index(None, "key", "value"),
    # SQLite: the primary key is the table (no rowid), so a lookup by run and key reads the
    # value in the same b-tree search; search filters then run off the (key, value) index.
    sqlite_with_rowid=False,
)

tags = Table(
    "tags",
    metadata,
    Column("run_id", ForeignKey("runs.id"), primary_key=True),
    Column("key", KEY, primary_key=True),
    Column("value", Text, nullable=False),
    # SQLite: the primary key is the table (no rowid), so a lookup by run and key reads the
    # value in the same b-tree search; search filters then run off the (key, value) index.
    sqlite_with_rowid=False,
)

metric_chunks = Table(
    # A metric's history is stored as chunks, one row per key per written batch, each holding
    # little-endian arrays: steps (int64), values (float64), timestamps (int64, epoch ms).
    "metric_chunks",
    metadata,
    Column("id", BigInteger().with_variant(Integer, "sqlite"), primary_key=True),
    Column("run_id", ForeignKey("runs.id"), nullable=False),
    Column("key", KEY, nullable=False),
    Column("count", Integer, nullable=False),
    Column("steps", LargeBinary, nullable=False),
    Column("values", LargeBinary, nullable=False),
    Column("timestamps", LargeBinary, nullable=False),
    Index(None, "run_id", "key", "id"),
)

latest_metrics = Table(
    "latest_metrics",
    metadata,
    Column("run_id", ForeignKey("runs.id"), primary_key=True),
    Column("key", KEY, primary_key=True),
    Column("step", BigInteger, nullable=False),
    Column("value", Float, nullable=False),
    Column("timestamp", BigInteger, nullable=False),
    Index(None, "key", "value"),
    # SQLite: the primary key is the table (no rowid), so a lookup by run and key reads the
    # value in the same b-tree search; search filters then run off the (key, value) index.
    sqlite_with_rowid=False,
)

run_artifacts = Table(
    "run_artifacts",
    metadata,
    Column("run_id", ForeignKey("runs.id"), primary_key=True),
    Column("path", String(1024), primary_key=True),
    Column("sha256", String(64), nullable=False),
    Column("size", BigInteger, nullable=False),
)

datasets = Table(
    "datasets",
    metadata,
    Column("id", Integer, primary_key=True),
    Column("project_id", ForeignKey("projects.id"), nullable=False),
    Column("name", NAME, nullable=False),
    Column("created_at", Float, nullable=False),
    UniqueConstraint("project_id", "name"),
)

dataset_versions = Table(
    "dataset_versions",
    metadata,
    Column("id", Integer, primary_key=True),
    Column("dataset_id", ForeignKey("datasets.id"), nullable=False),
    Column("version", Integer, nullable=False),
    Column("sha256", String(64), nullable=False),
    Column("size", BigInteger, nullable=False),
    Column("num_rows", BigInteger, nullable=False),
    Column("num_columns", Integer, nullable=False),
    Column("profile", JSON, nullable=False),
    Column("source", Text, nullable=False, default=""),
    Column("description", Text, nullable=False, default=""),
    Column("created_at", Float, nullable=False),
    Column("created_by", NAME, nullable=False),
    UniqueConstraint("dataset_id", "version"),
)

dataset_lineage = Table(
    "dataset_lineage",
    metadata,
    Column("version_id", ForeignKey("dataset_versions.id"), primary_key=True),
    Column("parent_id", ForeignKey("dataset_versions.id"), primary_key=True),
)

run_inputs = Table(
    "run_inputs",
    metadata,
    Column("run_id", ForeignKey("runs.id"), primary_key=True),
    Column("dataset_version_id", ForeignKey("dataset_versions.id"), primary_key=True),
)

models = Table(
    "models",
    metadata,
    Column("id", Integer, primary_key=True),
    Column("project_id", ForeignKey("projects.id"), nullable=False),
    Column("name", NAME, nullable=False),
    Column("description", Text, nullable=False, default=""),
    Column("created_at", Float, nullable=False),
    UniqueConstraint("project_id", "name"),
)

model_versions = Table(
    "model_versions",
    metadata,
    Column("id", Integer, primary_key=True),
    Column("model_id", ForeignKey("models.id"), nullable=False),
    Column("version", Integer, nullable=False),
    Column("flavor", String(32), nullable=False),
    Column("sha256", String(64), nullable=False),
    Column("size", BigInteger, nullable=False),
    Column("signature", JSON, nullable=False),
    Column("run_id", ForeignKey("runs.id"), nullable=True),
    Column("description", Text, nullable=False, default=""),
    Column("created_at", Float, nullable=False),
    Column("created_by", NAME, nullable=False),
    UniqueConstraint("model_id", "version"),
)

aliases = Table(
    "aliases",
    metadata,
    Column("model_id", ForeignKey("models.id"), primary_key=True),
    Column("alias", NAME, primary_key=True),
    Column("version", Integer, nullable=False),
    Column("updated_at", Float, nullable=False),
)

events = Table(
    "events",
    metadata,
    Column("id", BigInteger().with_variant(Integer, "sqlite"), primary_key=True),
    Column("time", Float, nullable=False),
    Column("project", NAME, nullable=True),
    Column("kind", String(64), nullable=False),
    Column("subject", String(512), nullable=False),
    Column("actor", NAME, nullable=False),
    Column("actor_kind", String(16), nullable=False),
    Column("data", JSON, nullable=False),
    Index(None, "project", "time"),
    Index(None, "subject", "id"),
    Index(None, "kind", "time"),
)

evaluations = Table(
    "evaluations",
    metadata,
    Column("id", Integer, primary_key=True),
    Column("model_version_id", ForeignKey("model_versions.id"), nullable=False),
    Column("endpoint", NAME, nullable=True),
    Column("dataset", String(512), nullable=False),
    Column("verdict", String(8), nullable=True),
    Column("gate", Text, nullable=True),
    Column("report", JSON, nullable=False),
    Column("created_at", Float, nullable=False),
    Column("created_by", NAME, nullable=False),
    Index(None, "model_version_id", "endpoint", "id"),
)

endpoints = Table(
    "endpoints",
    metadata,
    Column("id", Integer, primary_key=True),
    Column("name", NAME, nullable=False, unique=True),
    Column("project_id", ForeignKey("projects.id"), nullable=False),
    Column("description", Text, nullable=False, default=""),
    Column("plan", JSON, nullable=False),
    Column("deployment", Integer, nullable=True),
    Column("created_at", Float, nullable=False),
    Column("updated_at", Float, nullable=False),
)

deployments = Table(
    "deployments",
    metadata,
    Column("id", Integer, primary_key=True),
    Column("endpoint_id", ForeignKey("endpoints.id"), nullable=False),
    Column("number", Integer, nullable=False),
    Column("action", String(16), nullable=False),
    Column("plan", JSON, nullable=False),
    Column("model", NAME, nullable=True),
    Column("version", Integer, nullable=True),
    Column("base", Integer, nullable=True),
    Column("restores", Integer, nullable=True),
    Column("evaluation_id", ForeignKey("evaluations.id"), nullable=True),
    Column("verdict", String(8), nullable=True),
    Column("forced", Boolean, nullable=False, default=False),
    Column("reason", Text, nullable=False, default=""),
    Column("actor", NAME, nullable=False),
    Column("actor_kind", String(16), nullable=False),
    Column("time", Float, nullable=False),
    UniqueConstraint("endpoint_id", "number"),
)

tokens = Table(
    "tokens",
    metadata,
    Column("id", String(16), primary_key=True),
    Column("name", NAME, nullable=False),
    Column("secret_hash", String(64), nullable=False),
    Column("role", String(16), nullable=False),
    Column("endpoint", NAME, nullable=True),
    Column("created_at", Float, nullable=False),
    Column("created_by", NAME, nullable=False),
    Column("expires_at", Float, nullable=True),
    Column("revoked_at", Float, nullable=True),
    Column("last_used_at", Float, nullable=True),
)

# -- monitoring ---------------------------------------------------------------------------

monitors = Table(
    "monitors",
    metadata,
    Column("id", Integer, primary_key=True),
    Column("endpoint_id", ForeignKey("endpoints.id"), nullable=False, unique=True),
    Column("config", JSON, nullable=False),  # the parsed, checked policy
    Column("source", Text, nullable=False),  # the YAML as it was given
    Column("last_window_end", Float, nullable=True),  # the scheduler's progress
    # The newest feedback.received event the monitor has taken in: a newer one may label
    # predictions of windows already computed, which are then computed again.
    Column("labels_seen_event", BigInteger, nullable=True),
    Column("created_at", Float, nullable=False),
    Column("updated_at", Float, nullable=False),
    Column("updated_by", NAME, nullable=False),
)

monitor_values = Table(
    "monitor_values",
    metadata,
    Column("id", BigInteger().with_variant(Integer, "sqlite"), primary_key=True),
    Column("endpoint_id", ForeignKey("endpoints.id"), nullable=False),
    Column("metric", KEY, nullable=False),
    Column("window_start", Float, nullable=False),
    Column("window_end", Float, nullable=False),
    Column("value", Float, nullable=True),
    Column("detail", JSON, nullable=True),
    Column("computed_at", Float, nullable=False),
    UniqueConstraint("endpoint_id", "metric", "window_end"),
    Index(None, "endpoint_id", "window_end"),
)

alerts = Table(
    "alerts",
    metadata,
    Column("id", Integer, primary_key=True),
    Column("endpoint_id", ForeignKey("endpoints.id"), nullable=False),
    Column("rule", NAME, nullable=False),
    Column("severity", String(16), nullable=False),
    Column("state", String(16), nullable=False),  # firing, resolved
    Column("metric", KEY, nullable=False),
    Column("value", Float, nullable=True),
    Column("threshold", Float, nullable=False),
    Column("window_end", Float, nullable=False),
    Column("fired_at", Float, nullable=False),
    Column("resolved_at", Float, nullable=True),
    Column("actions", JSON, nullable=False),  # what was done about it, and how it went
    Index(None, "endpoint_id", "rule", "state"),
    Index(None, "state", "fired_at"),
)

# -- pipelines ----------------------------------------------------------------------------

pipeline_runs = Table(
    "pipeline_runs",
    metadata,
    Column("id", String(32), primary_key=True),
    Column("pipeline", NAME, nullable=False),
    Column("project", NAME, nullable=True),
    Column("status", String(16), nullable=False),  # queued, running, succeeded, failed
    Column("trigger", String(16), nullable=False),  # manual, schedule, data, alert
    Column("trigger_detail", JSON, nullable=False),
    Column("params", JSON, nullable=False),
    Column("executor", String(32), nullable=False),
    Column("actor", NAME, nullable=False),
    Column("created_at", Float, nullable=False),
    Column("started_at", Float, nullable=True),
    Column("ended_at", Float, nullable=True),
    Column("error", Text, nullable=True),
    Index(None, "pipeline", "created_at"),
    Index(None, "created_at"),
)

step_runs = Table(
    "step_runs",
    metadata,
    Column("id", Integer, primary_key=True),
    Column("run_id", ForeignKey("pipeline_runs.id"), nullable=False),
    Column("position", Integer, nullable=False),
    Column("name", NAME, nullable=False),
    Column("status", String(16), nullable=False),  # running, succeeded, failed, cached
    Column("cache_key", String(64), nullable=True),
    Column("attempts", Integer, nullable=False),
    Column("started_at", Float, nullable=True),
    Column("ended_at", Float, nullable=True),
    Column("output", JSON, nullable=True),  # the stored output's artifact and a summary
    Column("error", Text, nullable=True),  # the traceback of the last attempt
    Column("log", Text, nullable=False, default=""),
    UniqueConstraint("run_id", "position"),
    Index(None, "cache_key", "status"),
)

pipeline_triggers = Table(
    "pipeline_triggers",
    metadata,
    Column("id", Integer, primary_key=True),
    Column("pipeline", NAME, nullable=False),
    Column("kind", String(16), nullable=False),  # schedule, labels, dataset
    Column("spec", JSON, nullable=False),  # cron text / endpoint and label count / dataset
    Column("params", JSON, nullable=False),
    Column("state", JSON, nullable=False),  # when it last fired, what it has counted
    Column("enabled", Boolean, nullable=False, default=True),
    Column("created_at", Float, nullable=False),
    Column("created_by", NAME, nullable=False),
    Index(None, "pipeline"),
)

# -- review -------------------------------------------------------------------------------

review_policies = Table(
    "review_policies",
    metadata,
    Column("id", Integer, primary_key=True),
    Column("endpoint_id", ForeignKey("endpoints.id"), nullable=False, unique=True),
    Column("config", JSON, nullable=False),  # the parsed, checked policy
    Column("source", Text, nullable=False),  # the YAML as it was given
    Column("routed_until", Float, nullable=True),  # log time up to which predictions were routed
    Column("created_at", Float, nullable=False),
    Column("updated_at", Float, nullable=False),
    Column("updated_by", NAME, nullable=False),
)

review_items = Table(
    "review_items",
    metadata,
    Column("id", BigInteger().with_variant(Integer, "sqlite"), primary_key=True),
    Column("endpoint_id", ForeignKey("endpoints.id"), nullable=False),
    Column("request_id", String(128), nullable=False),
    Column("reason", KEY, nullable=False),  # uncertain, sample, rule:<name>
    Column("priority", Float, nullable=False),  # expected cost of the model's error
    Column("status", String(16), nullable=False),  # open, closed
    Column("reviews_needed", Integer, nullable=False),
    Column("model", NAME, nullable=False),
    Column("version", Integer, nullable=False),
    Column("prediction", JSON, nullable=True),
    Column("score", Float, nullable=True),
    Column("inputs", JSON, nullable=False),
    Column("predicted_at", Float, nullable=False),
    Column("created_at", Float, nullable=False),
    Column("claimed_by", NAME, nullable=True),
    Column("claimed_at", Float, nullable=True),
    Column("claim_expires_at", Float, nullable=True),
    Column("label", JSON, nullable=True),  # the decision once closed
    Column("closed_at", Float, nullable=True),
    UniqueConstraint("endpoint_id", "request_id"),
    Index(None, "endpoint_id", "status", "priority"),
    Index(None, "endpoint_id", "created_at"),
)

review_decisions = Table(
    "review_decisions",
    metadata,
    Column("id", BigInteger().with_variant(Integer, "sqlite"), primary_key=True),
    Column("item_id", ForeignKey("review_items.id"), nullable=False),
    Column("reviewer", NAME, nullable=False),
    Column("action", String(16), nullable=False),  # decided, skipped
    Column("label", JSON, nullable=True),
    Column("note", Text, nullable=True),
    Column("claimed_at", Float, nullable=True),
    Column("decided_at", Float, nullable=False),
    Index(None, "item_id"),
    Index(None, "decided_at"),
)

# One holder at a time for work that must not run twice when replicas share the store
# (the scheduler): a row per lease, taken by an update that only succeeds when it expired.
leases = Table(
    "leases",
    metadata,
    Column("name", NAME, primary_key=True),
    Column("holder", String(64), nullable=False),
    Column("expires_at", Float, nullable=False),
)
