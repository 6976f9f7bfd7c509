"""Apache Superset as code: the ``bi`` and ``dashboards`` kinds (see docs/bi.md)."""

from stackform_superset.bi import BiProvider
from stackform_superset.config import BiConfig, DashboardConfig, DatabaseConnection
from stackform_superset.dashboards import DashboardProvider

__all__ = ["BiConfig", "BiProvider", "DashboardConfig", "DashboardProvider",
           "DatabaseConnection"]
