"""Apache Superset as code: the ``bi`` and ``dashboards`` kinds (see docs/bi.md)."""
