"""``stackform env list`` / ``env destroy`` and per-developer environments, end to end through
the installed console script, the local state backend and the ``files`` provider."""

from __future__ import annotations

import dataclasses
import json
import subprocess
from pathlib import Path

import pytest

from stackform.runs.local import LocalRunStore
from stackform.runs.model import Bookmark
from stackform.state.local import LocalBackend
from tests.cli_helpers import (
    Runner,
    assert_clean_error,
    read_state,
    runs_dir,
    state_dir,
    state_path,
    write_stack,
)

pytestmark = pytest.mark.slow

STACK = """
[stack]
name = "team"

[environments.dev]
per_developer = true
default = true

[environments.prod]
protected = true

[files.a]
path = "out/${stack.env}/a.txt"
content = "${stack.env}\\n"

[files.b]
path = "out/${stack.env}/b.txt"
content = "b\\n"
"""

ALICE = {"STACKFORM_DEVELOPER": "alice"}
BOB = {"STACKFORM_DEVELOPER": "bob"}


@pytest.fixture
def two_devs(sf: Runner, project: Path) -> Runner:
    """alice and bob each applied their own dev environment."""
    write_stack(project, STACK)
    for who in (ALICE, BOB):
        result = sf("apply", "--auto-approve", env=who)
        assert result.code == 0, result
    store = LocalRunStore(runs_dir(project))
    for env, n in (("dev-alice", 1), ("dev-bob", 2)):
        store.put_bookmark(env, Bookmark(key="daily.orders",
                                         value={"bookmarks": {"orders": {"v": n}}},
                                         updated_at="2024-05-02T06:00:03+00:00"))
    return sf


def _age(project: Path, env: str, when: str) -> None:
    """Rewrite the environment's state as last applied at ``when``."""
    backend = LocalBackend(state_dir(project))
    state = backend.read(env)
    assert state is not None
    backend.write(env, dataclasses.replace(state.next(), updated_at=when), state)


def test_developer_environments_do_not_collide(two_devs: Runner, project: Path) -> None:
    assert state_path(project, "dev-alice").exists() and state_path(project, "dev-bob").exists()
    assert not state_path(project, "dev").exists()
    assert (project / "out/dev-alice/a.txt").read_text() == "dev-alice\n"
    assert (project / "out/dev-bob/a.txt").read_text() == "dev-bob\n"
    assert read_state(project, "dev-alice")["git"]["user"] == "alice"
    for who, n in ((ALICE, 1), (BOB, 2)):
        shown = two_devs("bookmarks", "show", "--format", "json", env=who)
        assert shown.code == 0, shown
        assert json.loads(shown.stdout)[0]["value"] == {"bookmarks": {"orders": {"v": n}}}


def test_env_list(two_devs: Runner, project: Path) -> None:
    text = two_devs("env", "list")
    assert text.code == 0, text
    lines = {line.split()[0]: line for line in text.stdout.splitlines()[1:] if line.strip()}
    assert "per-developer (dev)" in lines["dev-alice"] and "alice" in lines["dev-alice"]
    assert "per-developer (dev)" in lines["dev-bob"]
    assert "no state" in lines["prod"]
    doc = json.loads(two_devs("env", "list", "--format", "json").stdout)
    rows = {row["name"]: row for row in doc["environments"]}
    assert set(rows) == {"dev-alice", "dev-bob", "dev", "prod"}
    alice = rows["dev-alice"]
    assert alice["per_developer"] and alice["base"] == "dev" and alice["has_state"]
    assert alice["resources"] == 2 and alice["user"] == "alice"
    assert rows["prod"] == {**rows["prod"], "has_state": False, "protected": True}


def test_env_destroy_one_leaves_the_other(two_devs: Runner, project: Path) -> None:
    result = two_devs("env", "destroy", "dev-alice", "--yes")
    assert result.code == 0, result
    assert not (project / "out/dev-alice/a.txt").exists()
    assert not state_path(project, "dev-alice").exists()
    assert not (runs_dir(project) / "dev-alice").exists()
    assert (project / "out/dev-bob/a.txt").exists()
    assert state_path(project, "dev-bob").exists()
    assert (runs_dir(project) / "dev-bob/bookmarks").is_dir()
    names = [r["name"] for r in json.loads(
        two_devs("env", "list", "--format", "json").stdout)["environments"]]
    assert "dev-alice" not in names and "dev-bob" in names
    # The state is kept in history after removal.
    assert list(state_dir(project).glob("*dev-alice*"))


def test_env_destroy_needs_a_terminal_or_yes(two_devs: Runner, project: Path) -> None:
    result = two_devs("env", "destroy", "dev-bob")
    assert_clean_error(result)
    assert state_path(project, "dev-bob").exists()


def test_older_than(two_devs: Runner, project: Path) -> None:
    _age(project, "dev-alice", "2020-01-01T00:00:00+00:00")
    listed = json.loads(two_devs("env", "list", "--older-than", "14d", "--format",
                                 "json").stdout)
    assert [r["name"] for r in listed["environments"]] == ["dev-alice"]
    refused = two_devs("env", "destroy", "--older-than", "14d")
    assert_clean_error(refused)
    assert "dev-alice" in refused.stderr and "--yes" in refused.stderr
    result = two_devs("env", "destroy", "--older-than", "14d", "--yes")
    assert result.code == 0, result
    assert not state_path(project, "dev-alice").exists()
    assert state_path(project, "dev-bob").exists()
    assert (project / "out/dev-bob/a.txt").exists()


def test_older_than_never_touches_declared_environments(sf: Runner, project: Path) -> None:
    write_stack(project, STACK.replace("protected = true", "protected = false"))
    assert sf("apply", "--env", "prod", "--auto-approve").code == 0
    _age(project, "prod", "2020-01-01T00:00:00+00:00")
    result = sf("env", "destroy", "--older-than", "1d", "--yes")
    assert result.code == 0, result
    assert "No per-developer or throwaway environment" in result.stderr
    assert state_path(project, "prod").exists()


def test_env_destroy_protected(sf: Runner, project: Path) -> None:
    write_stack(project, STACK)
    (project / ".gitignore").write_text(".stackform/\nout/\n")
    git = ["git", "-C", str(project), "-c", "user.name=T", "-c", "user.email=t@example.com"]
    subprocess.run([*git, "init", "-q", "-b", "main"], check=True)
    subprocess.run([*git, "add", "-A"], check=True)
    subprocess.run([*git, "commit", "-q", "-m", "stack"], check=True)
    assert sf("apply", "--env", "prod", "--auto-approve").code == 0
    no_yes = sf("env", "destroy", "prod")
    assert_clean_error(no_yes)
    assert "protected" in no_yes.stderr and "--yes" in no_yes.stderr
    (project / "wip.txt").write_text("x\n")
    dirty = sf("env", "destroy", "prod", "--yes")
    assert_clean_error(dirty)
    assert "wip.txt" in dirty.stderr
    (project / "wip.txt").unlink()
    ok = sf("env", "destroy", "prod", "--yes")
    assert ok.code == 0, ok
    assert not state_path(project, "prod").exists()


def test_turning_on_per_developer_leaves_a_state_env_destroy_reaches(
        sf: Runner, project: Path) -> None:
    write_stack(project, STACK.replace("per_developer = true\n", ""))
    assert sf("apply", "--auto-approve").code == 0  # plain `dev`, before per_developer
    assert (project / "out/dev/a.txt").exists()
    write_stack(project, STACK)
    assert sf("apply", "--auto-approve", env=ALICE).code == 0  # now dev means dev-alice

    doc = json.loads(sf("env", "list", "--format", "json").stdout)
    rows = {row["name"]: row for row in doc["environments"]}
    assert rows["dev"]["orphaned"] and rows["dev"]["has_state"]
    assert not rows["dev-alice"]["orphaned"]
    listed = sf("env", "list").stdout
    assert "orphaned" in next(line for line in listed.splitlines() if line.startswith("dev "))

    destroyed = sf("env", "destroy", "dev", "--yes", env=ALICE)
    assert destroyed.code == 0, destroyed
    assert not (project / "out/dev/a.txt").exists() and not state_path(project, "dev").exists()
    assert (project / "out/dev-alice/a.txt").exists() and state_path(project, "dev-alice").exists()
