"""Protected environments: apply and destroy only from a clean tree on an allowed branch.

An environment marked ``protected = true`` is changed only from committed code: the git tree
holding the stack must have no modified, staged or untracked files, and ``HEAD`` must be on one
of the environment's ``branches`` (fnmatch patterns), by default the repository's default
branch (``origin/HEAD``'s target when known, else ``main`` or ``master``). Unprotected
environments are never checked. gitpython is imported only when a protected environment is
changed.
"""

from __future__ import annotations

from dataclasses import dataclass
from fnmatch import fnmatchcase
from pathlib import Path
from typing import TYPE_CHECKING

from stackform.errors import StackformError

if TYPE_CHECKING:
    from git import Repo

    from stackform.config.model import EnvironmentSettings

SHOWN_FILES = 5
"""How many dirty files a refusal names."""


@dataclass(frozen=True)
class TreeStatus:
    """What the protection check looked at."""

    branch: str | None
    """``None`` on a detached HEAD."""
    allowed: tuple[str, ...]
    dirty: tuple[str, ...]
    """Porcelain status lines (``M path``, ``?? path``)."""


def check_protected(settings: EnvironmentSettings, env: str, directory: Path, *,
                    operation: str, allow_dirty: bool = False) -> None:
    """Refuse ``operation`` (apply, destroy) on a protected environment unless the tree is
    clean and on an allowed branch; refuse ``--allow-dirty`` for it. A no-op otherwise."""
    if not settings.protected:
        return
    if allow_dirty:
        raise StackformError(
            f"--allow-dirty is refused: environment {env} is protected",
            hint="commit or stash your changes and run from an allowed branch; "
                 "--allow-dirty only applies to unprotected environments",
        )
    status = tree_status(directory, settings.branches, env)
    if status.dirty:
        shown = ", ".join(line.strip() for line in status.dirty[:SHOWN_FILES])
        more = len(status.dirty) - SHOWN_FILES
        extra = f" and {more} more" if more > 0 else ""
        raise StackformError(
            f"refusing to {operation} protected environment {env}: the git tree has "
            f"{len(status.dirty)} uncommitted change(s): {shown}{extra}",
            hint="commit or stash them (untracked files too, or add them to .gitignore), "
                 "then run again",
        )
    allowed = ", ".join(status.allowed)
    if status.branch is None:
        raise StackformError(
            f"refusing to {operation} protected environment {env}: HEAD is detached, "
            f"not on an allowed branch ({allowed})",
            hint="check out an allowed branch, or list the branch in the environment's "
                 "`branches`",
        )
    if not any(fnmatchcase(status.branch, pattern) for pattern in status.allowed):
        raise StackformError(
            f"refusing to {operation} protected environment {env}: branch "
            f"'{status.branch}' is not allowed (allowed: {allowed})",
            hint="merge your change and run from an allowed branch, or add a pattern to "
                 f"[environments.{settings.name}] branches",
        )


def tree_status(directory: Path, branches: tuple[str, ...], env: str) -> TreeStatus:
    """The branch, allowed patterns and dirty files of the repository holding ``directory``."""
    try:
        import git
    except ImportError as exc:  # gitpython raises at import when git is missing
        raise StackformError(
            f"environment {env} is protected and git is not available to check the tree",
            hint=f"install git ({exc})",
        ) from None
    try:
        repo = git.Repo(directory, search_parent_directories=True)
    except (git.InvalidGitRepositoryError, git.NoSuchPathError):
        raise StackformError(
            f"environment {env} is protected and {directory} is not in a git repository",
            hint="protected environments are changed only from committed code: run from a "
                 "clone of the repository",
        ) from None
    try:
        porcelain = repo.git.status("--porcelain", "--untracked-files=all")
    except git.GitCommandError as exc:
        raise StackformError(f"could not read the git status of {directory}",
                             hint=str(exc).strip()) from None
    dirty = tuple(line for line in porcelain.splitlines() if line.strip())
    branch = None if repo.head.is_detached else repo.active_branch.name
    allowed = branches or (default_branch(repo),)
    return TreeStatus(branch=branch, allowed=tuple(allowed), dirty=dirty)


def default_branch(repo: Repo) -> str:
    """``origin/HEAD``'s target when known, else ``main`` or ``master`` (whichever exists,
    ``main`` first), else ``main``."""
    try:
        ref = str(repo.git.symbolic_ref("--quiet", "refs/remotes/origin/HEAD")).strip()
    except Exception:  # no origin, or origin/HEAD not set (fetched without it)
        ref = ""
    prefix = "refs/remotes/origin/"
    if ref.startswith(prefix):
        return ref[len(prefix):]
    heads = {head.name for head in repo.heads}
    for name in ("main", "master"):
        if name in heads:
            return name
    return "main"
