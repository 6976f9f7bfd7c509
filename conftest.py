"""Fixtures for every test folder (tests/ and providers/*/tests)."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from tests.s3server import S3Server, running_s3_server
from tests.superset_server import SupersetServer, running_superset


@pytest.fixture(scope="session")
def s3_server() -> Iterator[S3Server]:
    """One real S3-compatible server (SeaweedFS) for the whole test session, started on first
    use."""
    with running_s3_server() as server:
        yield server


@pytest.fixture(scope="session")
def superset_server() -> Iterator[SupersetServer]:
    """One real Apache Superset for the whole test session, started on first use (about 7 s
    warm; the first run on a machine also builds its venv and template database, about 40 s)."""
    with running_superset() as server:
        yield server
