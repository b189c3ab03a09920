"""The durable prediction log: JSON-lines segments compacted to Parquet, queried with DuckDB.

Importing this package is cheap: pyarrow and DuckDB load on the first query or compaction.
"""

from opsloop.store.prediction_log._layout import INPUT_PREFIX
from opsloop.store.prediction_log._log import PredictionLog

__all__ = ["INPUT_PREFIX", "PredictionLog"]
