"""target-stackform-duckdb: a Singer target for DuckDB."""

__version__ = "0.1.0"
