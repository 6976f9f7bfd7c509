"""Environments on the command line, end to end: ``--env``, overrides, per-developer
environments.

Runs the installed ``stackform`` script in a subprocess, with the real local state backend,
the ``files`` provider and the test-only ``sleepers`` provider."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.cli_helpers import (
    LOCATION,
    Runner,
    assert_clean_error,
    read_state,
    state_path,
    write_stack,
)

pytestmark = pytest.mark.slow


ENV_STACK = """
[stack]
name = "envs"

[vars]
who = "base"

[environments.dev]
default = true

[environments.staging]
vars = { who = "staging" }

[environments.prod]
vars = { who = "prod" }

[environments.prod.override.files.a]
path = "out/prod-a.txt"

[files.a]
path = "out/${stack.env}-a.txt"
content = "${var.who}"
"""


def test_env_option_selects_state_vars_and_overrides(sf: Runner, project: Path) -> None:
    write_stack(project, ENV_STACK)
    assert sf("apply", "--auto-approve").code == 0
    assert (project / "out" / "dev-a.txt").read_text() == "base"
    assert state_path(project, "dev").exists()

    staging = sf("apply", "--env", "staging", "--auto-approve")
    assert staging.code == 0, staging
    assert (project / "out" / "staging-a.txt").read_text() == "staging"
    assert state_path(project, "staging").exists()
    assert sf("apply", "-e", "prod", "--auto-approve").code == 0
    assert (project / "out" / "prod-a.txt").read_text() == "prod"
    from_var = sf("state", "list", env={"STACKFORM_ENV": "prod"})
    assert from_var.stdout.split() == ["files.a"]
    assert sf("plan", "--env", "staging", "--detailed-exitcode").code == 0
    # State records who applied.
    assert read_state(project, "staging")["git"]["user"]


def test_unknown_env_suggests_the_closest(sf: Runner, project: Path) -> None:
    write_stack(project, ENV_STACK)
    result = sf("plan", "--env", "prdo")
    assert_clean_error(result)
    assert "unknown environment 'prdo'" in result.stderr
    assert "did you mean 'prod'?" in result.stderr
    assert LOCATION.search(result.stderr), result


def test_per_developer_environment_gets_its_own_state(sf: Runner, project: Path) -> None:
    write_stack(project, """
        [stack]
        name = "team"

        [environments.dev]
        per_developer = true
        default = true

        [files.a]
        path = "out/${stack.env}.txt"
        content = "mine"
    """)
    alice = {"STACKFORM_DEVELOPER": "alice"}
    result = sf("apply", "--auto-approve", env=alice)
    assert result.code == 0, result
    assert "dev-alice" in result.stdout
    assert state_path(project, "dev-alice").exists()
    assert not state_path(project, "dev").exists()
    assert (project / "out" / "dev-alice.txt").read_text() == "mine"
    assert read_state(project, "dev-alice")["resources"].keys() == {"files.a"}
    # Bob has his own state: everything is still to create for him.
    bob = sf("plan", "--detailed-exitcode", env={"STACKFORM_DEVELOPER": "bob"})
    assert bob.code == 2, bob
    assert "dev-bob" in bob.stdout
    assert sf("plan", "--detailed-exitcode", env=alice).code == 0
    assert sf("state", "list", "--env", "dev-alice").stdout.split() == ["files.a"]
