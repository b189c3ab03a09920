"""Monitors over the prediction log: drift, live and estimated performance, data quality and
service levels per time window, stored as time series (see docs/monitoring.md).

Importing this package is cheap; NumPy, Arrow and the drift statistics load on the first run.
"""

from opsloop.services.monitoring.service import MonitorService

__all__ = ["MonitorService"]
