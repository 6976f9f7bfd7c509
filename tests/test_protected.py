"""Protected environments, end to end: real git repositories made by the test, the installed
``stackform`` console script, and the ``files`` provider."""

from __future__ import annotations

import subprocess
from pathlib import Path

import pytest

from tests.cli_helpers import Runner, assert_clean_error, read_state, state_path, write_stack

pytestmark = pytest.mark.slow

STACK = """
[stack]
name = "guarded"

[environments.dev]
default = true

[environments.prod]
protected = true
{branches}

[files.a]
path = "out/${{stack.env}}/a.txt"
content = "a\\n"
"""


def git(repo: Path, *args: str) -> str:
    env = {"GIT_AUTHOR_NAME": "T", "GIT_AUTHOR_EMAIL": "t@example.com",
           "GIT_COMMITTER_NAME": "T", "GIT_COMMITTER_EMAIL": "t@example.com",
           "GIT_CONFIG_NOSYSTEM": "1", "HOME": str(repo.parent), "PATH": "/usr/bin:/bin"}
    return subprocess.run(["git", "-C", str(repo), *args], check=True, capture_output=True,
                          text=True, env=env).stdout


@pytest.fixture
def repo(project: Path) -> Path:
    """A clean repository on main holding the stack; state and outputs ignored."""
    write_stack(project, STACK.format(branches=""))
    (project / ".gitignore").write_text(".stackform/\nout/\n")
    git(project, "init", "-q", "-b", "main")
    git(project, "add", "-A")
    git(project, "commit", "-q", "-m", "stack")
    return project


def test_clean_main_is_allowed_and_commit_recorded(sf: Runner, repo: Path) -> None:
    result = sf("apply", "--env", "prod", "--auto-approve")
    assert result.code == 0, result
    assert (repo / "out/prod/a.txt").read_text() == "a\n"
    head = git(repo, "rev-parse", "HEAD").strip()
    recorded = read_state(repo, "prod")["git"]
    assert recorded["commit"] == head and recorded["branch"] == "main"
    assert recorded["dirty"] is False
    again = sf("destroy", "--env", "prod", "--auto-approve")
    assert again.code == 0, again


def test_dirty_tree_is_refused_naming_the_file(sf: Runner, repo: Path) -> None:
    (repo / "notes.txt").write_text("wip\n")  # untracked
    result = sf("apply", "--env", "prod", "--auto-approve")
    assert_clean_error(result)
    assert "protected environment prod" in result.stderr
    assert "notes.txt" in result.stderr
    assert not state_path(repo, "prod").exists()  # refused before any work or lock
    # A modified tracked file and a staged one are named too.
    (repo / "notes.txt").unlink()
    (repo / "stack.toml").write_text((repo / "stack.toml").read_text() + "\n")
    (repo / "staged.txt").write_text("x\n")
    git(repo, "add", "staged.txt")
    refused = sf("destroy", "--env", "prod", "--auto-approve")
    assert_clean_error(refused)
    assert "stack.toml" in refused.stderr and "staged.txt" in refused.stderr
    assert "commit or stash" in refused.stderr
    # An unprotected environment is never checked.
    dev = sf("apply", "--env", "dev", "--auto-approve")
    assert dev.code == 0, dev


def test_other_branch_is_refused(sf: Runner, repo: Path) -> None:
    git(repo, "checkout", "-q", "-b", "feature/x")
    result = sf("apply", "--env", "prod", "--auto-approve")
    assert_clean_error(result)
    assert "branch 'feature/x' is not allowed (allowed: main)" in result.stderr


def test_saved_plan_is_checked_too(sf: Runner, repo: Path) -> None:
    planned = sf("plan", "--env", "prod", "-o", str(repo.parent / "prod.plan"))
    assert planned.code == 0, planned
    git(repo, "checkout", "-q", "-b", "other")
    result = sf("apply", str(repo.parent / "prod.plan"), "--env", "prod")
    assert_clean_error(result)
    assert "branch 'other' is not allowed" in result.stderr


def test_branch_patterns(sf: Runner, repo: Path) -> None:
    write_stack(repo, STACK.format(branches='branches = ["main", "release/*"]'))
    git(repo, "commit", "-q", "-am", "release branches")
    git(repo, "checkout", "-q", "-b", "release/1.2")
    result = sf("apply", "--env", "prod", "--auto-approve")
    assert result.code == 0, result
    git(repo, "checkout", "-q", "-b", "hotfix")
    refused = sf("apply", "--env", "prod", "--auto-approve")
    assert_clean_error(refused)
    assert "allowed: main, release/*" in refused.stderr


def test_default_branch_master_and_origin_head(sf: Runner, repo: Path) -> None:
    git(repo, "branch", "-m", "main", "master")
    assert sf("apply", "--env", "prod", "--auto-approve").code == 0
    # origin/HEAD, when known, names the default branch.
    git(repo, "update-ref", "refs/remotes/origin/trunk", "HEAD")
    git(repo, "symbolic-ref", "refs/remotes/origin/HEAD", "refs/remotes/origin/trunk")
    refused = sf("destroy", "--env", "prod", "--auto-approve")
    assert_clean_error(refused)
    assert "(allowed: trunk)" in refused.stderr
    git(repo, "checkout", "-q", "-b", "trunk")
    assert sf("destroy", "--env", "prod", "--auto-approve").code == 0


def test_allow_dirty_refused_for_protected_only(sf: Runner, repo: Path) -> None:
    result = sf("apply", "--env", "prod", "--auto-approve", "--allow-dirty")
    assert_clean_error(result)
    assert "--allow-dirty is refused" in result.stderr
    (repo / "wip.txt").write_text("x\n")
    dev = sf("apply", "--env", "dev", "--auto-approve", "--allow-dirty")
    assert dev.code == 0, dev
    assert sf("destroy", "--env", "dev", "--auto-approve", "--allow-dirty").code == 0


def test_outside_git_is_refused(sf: Runner, project: Path) -> None:
    write_stack(project, STACK.format(branches=""))
    result = sf("apply", "--env", "prod", "--auto-approve")
    assert_clean_error(result)
    assert "not in a git repository" in result.stderr
    assert sf("apply", "--env", "dev", "--auto-approve").code == 0


def test_plan_warns_when_the_planned_commit_is_older_than_the_applied_one(
        sf: Runner, repo: Path) -> None:
    first = git(repo, "rev-parse", "HEAD").strip()
    (repo / "notes.txt").write_text("a later change\n")
    git(repo, "add", "-A")
    git(repo, "commit", "-q", "-m", "later")
    assert sf("apply", "--env", "dev", "--auto-approve").code == 0
    git(repo, "checkout", "-q", first)
    result = sf("plan", "--env", "dev")
    assert result.code == 0, result
    assert "is older than the one last applied to dev" in result.stderr, result
