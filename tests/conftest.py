"""Fixtures shared by the CLI tests: a project folder, a private home, and a runner of the real
``stackform`` console script in them."""

from __future__ import annotations

import signal
from pathlib import Path

import pytest

from tests.cli_helpers import FILES_STACK, Runner, make_env, write_stack


def pytest_configure(config: pytest.Config) -> None:
    # A suite started in the background of a non-interactive shell (`cmd &`, nohup) inherits
    # SIGINT ignored, and so would every stackform it starts: the Ctrl-C tests would send a
    # signal nobody hears. Handled here, it is back to the default in each child, as for a
    # command run from a terminal.
    if signal.getsignal(signal.SIGINT) is signal.SIG_IGN:
        signal.signal(signal.SIGINT, signal.default_int_handler)


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


@pytest.fixture
def applied(sf: Runner, project: Path) -> Runner:
    """The files stack, applied to dev."""
    write_stack(project, FILES_STACK)
    result = sf("apply", "--auto-approve")
    assert result.code == 0, result
    return sf
