"""Fixtures of the Superset provider's tests: one PostgreSQL warehouse for the session."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from superset_support import Warehouse, warehouse


@pytest.fixture(scope="session")
def wh() -> Iterator[Warehouse]:
    with warehouse() as made:
        yield made
