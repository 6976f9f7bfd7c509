"""What git says about the stack's folder: commit, branch, dirty tree, and who the developer is.

The commit and branch are read from the repository's own files (``HEAD``, the ref, or
``packed-refs``), which costs well under a millisecond; a repository laid out otherwise (a
reftable, a symbolic ref chain) is read through gitpython, as is the dirty check (``git
status``), so gitpython is imported only when an apply records state. The developer's e-mail
is one ``git config`` call, which knows every scope and include.
"""

from __future__ import annotations

import getpass
import os
import re
import subprocess
from functools import lru_cache
from pathlib import Path

from stackform.state.model import GitInfo


@lru_cache(maxsize=8)
def git_info(directory: Path, check_dirty: bool = True) -> GitInfo:
    """Commit, branch and dirtiness of the repository holding ``directory``; empty outside git.

    Checking for local edits runs ``git status``; a plan, which only reports the commit,
    skips it (``dirty`` is then ``None``).
    """
    user = developer_name(directory)
    if not check_dirty:
        found = _head_from_files(directory)
        if found is not None:
            if found is _OUTSIDE:
                return GitInfo(user=user)
            commit, branch = found
            return GitInfo(commit=commit, branch=branch, dirty=None, user=user)
    try:
        import git
    except ImportError:  # git executable missing: gitpython raises at import
        return GitInfo(user=user)
    try:
        repo = git.Repo(directory, search_parent_directories=True)
    except (git.InvalidGitRepositoryError, git.NoSuchPathError):
        return GitInfo(user=user)
    try:
        commit = repo.head.commit.hexsha
    except ValueError:  # no commit yet
        commit = None
    branch = None if repo.head.is_detached else repo.active_branch.name
    dirty = repo.is_dirty(untracked_files=True) if check_dirty else None
    return GitInfo(commit=commit, branch=branch, dirty=dirty, user=user)


_OUTSIDE: tuple[str | None, str | None] = (None, None)
""":func:`_head_from_files`: no repository holds the folder."""
_SHA = re.compile(r"[0-9a-f]{40}|[0-9a-f]{64}")


def _head_from_files(directory: Path) -> tuple[str | None, str | None] | None:
    """(commit, branch) read from the git folder's files; ``_OUTSIDE`` outside a repository;
    ``None`` when the layout is not the plain one (gitpython then reads it)."""
    try:
        gitdir = _git_dir(directory)
        if gitdir is None:
            return _OUTSIDE
        head = (gitdir / "HEAD").read_text().strip()
        if _SHA.fullmatch(head):
            return head, None  # detached
        if not head.startswith("ref: refs/heads/"):
            return None
        ref = head[len("ref: "):]
        common = gitdir
        if (gitdir / "commondir").is_file():  # a linked worktree
            common = (gitdir / (gitdir / "commondir").read_text().strip()).resolve()
        for folder in dict.fromkeys((gitdir, common)):
            loose = folder / ref
            if loose.is_file():
                sha = loose.read_text().strip()
                return (sha, ref[len("refs/heads/"):]) if _SHA.fullmatch(sha) else None
        packed = common / "packed-refs"
        if packed.is_file():
            for line in packed.read_text().splitlines():
                sha, _, name = line.partition(" ")
                if name == ref and _SHA.fullmatch(sha):
                    return sha, ref[len("refs/heads/"):]
        # A branch with no commit yet, unless refs live somewhere else (a reftable).
        return None if (common / "reftable").exists() else (None, ref[len("refs/heads/"):])
    except (OSError, UnicodeDecodeError):
        return None


def _git_dir(directory: Path) -> Path | None:
    """The ``.git`` folder of the repository holding ``directory`` (``gitdir:`` files
    followed), ``None`` outside one."""
    for folder in (directory.resolve(), *directory.resolve().parents):
        dot_git = folder / ".git"
        if dot_git.is_dir():
            return dot_git
        if dot_git.is_file():
            text = dot_git.read_text().strip()
            if not text.startswith("gitdir: "):
                raise OSError(f"unexpected {dot_git}")
            return (folder / text[len("gitdir: "):]).resolve()
    return None


def _git_email(directory: Path) -> str | None:
    """``user.email`` as git itself reads it (every scope, includes), else ``None``."""
    try:
        done = subprocess.run(
            ["git", "config", "--get", "user.email"], cwd=directory if directory.is_dir()
            else None, capture_output=True, text=True, timeout=10, check=False)
    except (OSError, subprocess.SubprocessError):
        return None
    if done.returncode != 0:  # 1: not set
        return None
    return done.stdout.strip() or None


@lru_cache(maxsize=8)
def developer_name(directory: Path) -> str:
    """A short, safe name for the developer: git's user.email local part, else the OS user.

    ``STACKFORM_DEVELOPER`` overrides both (CI runners, shared machines).
    """
    raw = os.environ.get("STACKFORM_DEVELOPER") or ""
    if not raw:
        email = _git_email(directory)
        raw = email.split("@", 1)[0] if email else ""
    if not raw:
        try:
            raw = getpass.getuser()
        except Exception:
            raw = os.environ.get("USER", "developer")
    return normalise_name(raw)


def normalise_name(raw: str) -> str:
    """Lower-case letters, digits and dashes, usable in paths and schema names."""
    name = re.sub(r"[^a-z0-9]+", "-", raw.lower()).strip("-")
    return name[:40] or "developer"


def is_ancestor(directory: Path, older: str, newer: str) -> bool:
    """Whether commit ``older`` is a strict ancestor of ``newer`` in the repository."""
    if older == newer:
        return False
    try:
        import git

        repo = git.Repo(directory, search_parent_directories=True)
        return bool(repo.is_ancestor(repo.commit(older), repo.commit(newer)))
    except Exception:  # unknown commits (shallow clones) tell nothing
        return False
