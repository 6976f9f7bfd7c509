"""The commit and branch read from git's files agree with gitpython on every plain layout."""

from __future__ import annotations

import subprocess
from pathlib import Path

import git
import pytest

from stackform.gitinfo import _head_from_files, git_info


def sh(cwd: Path, *args: str) -> None:
    subprocess.run(["git", *args], cwd=cwd, check=True, capture_output=True)


def by_gitpython(directory: Path) -> tuple[str | None, str | None]:
    repo = git.Repo(directory, search_parent_directories=True)
    try:
        commit = repo.head.commit.hexsha
    except ValueError:
        commit = None
    return commit, None if repo.head.is_detached else repo.active_branch.name


@pytest.fixture
def repo(tmp_path: Path) -> Path:
    root = tmp_path / "repo"
    root.mkdir()
    sh(root, "init", "-q", "-b", "main")
    sh(root, "config", "user.email", "ada@example.com")
    sh(root, "config", "user.name", "Ada")
    return root


def commit(root: Path, message: str) -> None:
    (root / "f.txt").write_text(message)
    sh(root, "add", "f.txt")
    sh(root, "commit", "-q", "-m", message)


def test_every_plain_layout_reads_as_gitpython_reads_it(repo: Path, tmp_path: Path) -> None:
    sub = repo / "stack"
    sub.mkdir()
    assert _head_from_files(sub) == (None, "main") == by_gitpython(sub)  # no commit yet
    commit(repo, "one")
    assert _head_from_files(sub) == by_gitpython(sub)  # a loose ref
    sh(repo, "pack-refs", "--all")
    assert not (repo / ".git" / "refs" / "heads" / "main").exists()
    assert _head_from_files(sub) == by_gitpython(sub)  # packed-refs
    commit(repo, "two")
    sh(repo, "checkout", "-q", "--detach")
    assert _head_from_files(sub) == by_gitpython(sub)  # detached
    sh(repo, "checkout", "-q", "main")
    linked = tmp_path / "linked"
    sh(repo, "worktree", "add", "-q", "-b", "side", str(linked))
    assert _head_from_files(linked) == by_gitpython(linked)  # a linked worktree
    assert git_info(linked, check_dirty=False).branch == "side"


def test_outside_a_repository_and_odd_layouts(tmp_path: Path, repo: Path) -> None:
    outside = tmp_path / "outside"
    outside.mkdir()
    if by_gitpython_or_none(outside) is None:  # the temp folder is not inside a repository
        info = git_info(outside, check_dirty=False)
        assert info.commit is None and info.branch is None
    (repo / ".git" / "HEAD").write_text("ref: refs/remotes/origin/x\n")
    assert _head_from_files(repo) is None  # not a branch: gitpython reads it


def by_gitpython_or_none(directory: Path) -> object:
    try:
        return by_gitpython(directory)
    except git.InvalidGitRepositoryError:
        return None
