"""What git says about the stack's folder: commit, branch, dirty tree, and who the developer is.

gitpython is imported only when these are asked for.
"""

from __future__ import annotations

import getpass
import os
import re
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


def _git_email(directory: Path) -> str | None:
    try:
        import git

        repo = git.Repo(directory, search_parent_directories=True)
        reader = repo.config_reader()
    except Exception:
        try:
            import git

            reader = git.GitConfigParser(
                [os.path.expanduser("~/.gitconfig")], read_only=True
            )
        except Exception:
            return None
    try:
        value = reader.get_value("user", "email", default="")
    except Exception:
        return None
    return str(value) or None


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
