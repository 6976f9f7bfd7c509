"""One dbt-duckdb install per test session (a session-scoped STACKFORM_CACHE_DIR)."""

from __future__ import annotations

import os
from collections.abc import Iterator

import pytest


@pytest.fixture(scope="session", autouse=True)
def _dbt_cache(tmp_path_factory: pytest.TempPathFactory) -> Iterator[None]:
    """One venv cache for the session: dbt-duckdb installs once (uv's own cache is shared)."""
    old = os.environ.get("STACKFORM_CACHE_DIR")
    os.environ["STACKFORM_CACHE_DIR"] = str(tmp_path_factory.mktemp("dbt-cache"))
    yield
    if old is None:
        os.environ.pop("STACKFORM_CACHE_DIR", None)
    else:
        os.environ["STACKFORM_CACHE_DIR"] = old
