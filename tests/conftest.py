"""Fixtures shared by the CLI tests: a project folder, a private home, and a runner of the real
``stackform`` console script in them."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.cli_helpers import Runner, make_env
from tests.s3server import S3Server, running_s3_server


@pytest.fixture
def home(tmp_path: Path) -> Path:
    path = tmp_path / "home"
    path.mkdir()
    return path


@pytest.fixture
def project(tmp_path: Path) -> Path:
    path = tmp_path / "project"
    path.mkdir()
    return path


@pytest.fixture
def sf(project: Path, home: Path) -> Runner:
    return Runner(project, make_env(home))


@pytest.fixture(scope="session")
def s3_server() -> Iterator[S3Server]:
    """One real S3-compatible server (SeaweedFS) for the whole test session."""
    with running_s3_server() as server:
        yield server
