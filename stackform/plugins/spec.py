"""What one plugin install holds (:class:`InstallSpec`: requirements for one Python version)
and its content address, the key of its venv in the shared cache (:mod:`.installs`).

Requirements are compared in canonical spelling (:func:`normalise_requirement`), and a local
folder requirement adds a digest of the folder's files (:func:`tree_digest`), so an edited
local plugin gets a venv of its own.
"""

from __future__ import annotations

import hashlib
import json
import os
import re
import sys
from dataclasses import dataclass
from functools import cache, cached_property
from pathlib import Path
from typing import Any

from stackform.plugins.uvtool import InstallError

FORMAT = 1
"""Bumped when the layout of a cached venv changes: old venvs are then simply not reused."""


def current_python() -> str:
    """The ``major.minor`` of the interpreter stackform runs on."""
    return f"{sys.version_info.major}.{sys.version_info.minor}"


def normalise_requirement(requirement: str) -> str:
    """One requirement in canonical spelling (``Six == 1.16`` -> ``six==1.16``).

    Anything packaging cannot parse (a path, an editable, an option) is kept as written, with
    surrounding blanks stripped.
    """
    text = requirement.strip()
    if canonical_pin(text) or local_path(text):
        return text
    try:
        from packaging.requirements import InvalidRequirement, Requirement
        from packaging.utils import canonicalize_name
    except ImportError:  # pragma: no cover - packaging is a dependency
        return text
    try:
        parsed = Requirement(text)
    except InvalidRequirement:
        return text
    parsed.name = canonicalize_name(parsed.name)
    return str(parsed)


_CANONICAL = re.compile(r"[a-z0-9]+(?:-[a-z0-9]+)*(?:==[0-9]+(?:\.[0-9]+)*)?")


def canonical_pin(text: str) -> bool:
    """Whether ``text`` is a name in canonical spelling, maybe pinned to a plain release
    (``tap-jsonl==0.3.1``): what packaging would give back as it is.

    Most blocks are written so (or with a local path, :func:`local_path`); answering those
    without packaging keeps its import (about 25 ms of a run's start) for the requirements
    that need it."""
    return bool(_CANONICAL.fullmatch(text))


def local_path(text: str) -> bool:
    """Whether a requirement is a local folder (which packaging cannot parse)."""
    return text.startswith(("/", "./", "../", "~"))


def normalise_python(python: str | None) -> str:
    """``None`` -> the running interpreter's ``major.minor``; ``" 3.11 "`` -> ``3.11``."""
    if python is None or not str(python).strip():
        return current_python()
    return str(python).strip()


def _digest(doc: Any) -> str:
    canonical = json.dumps(doc, sort_keys=True, separators=(",", ":"))
    return hashlib.sha256(canonical.encode()).hexdigest()


@cache
def platform_tag() -> str:
    """``linux-x86_64``: part of a venv's key, since a venv only runs where it was built."""
    import platform

    return f"{sys.platform}-{platform.machine().lower()}"


@dataclass(frozen=True)
class InstallSpec:
    """What one venv holds: a requirement set for one Python version.

    ``locked`` says the requirements are a complete pinned set (from ``stackform.lock``): they
    are installed with ``uv pip sync``, exactly, with nothing resolved on top.
    """

    requirements: tuple[str, ...]
    python: str | None = None
    locked: bool = False

    def __post_init__(self) -> None:
        reqs = tuple(r for r in (normalise_requirement(x) for x in self.requirements) if r)
        if not reqs:
            raise InstallError("a plugin install needs at least one requirement",
                               hint='set pip_url, e.g. pip_url = "tap-jsonl==0.3.1"')
        object.__setattr__(self, "requirements", reqs)
        object.__setattr__(self, "python", normalise_python(self.python))

    @property
    def python_version(self) -> str:
        return normalise_python(self.python)

    @cached_property
    def key(self) -> str:
        """Content address of the venv: equal specs share one venv (order does not matter).

        A local folder requirement adds a digest of the folder's files: its path alone would
        keep serving the venv built from what the folder held before (an edited plugin, a
        stackform upgraded in place with new first-party connectors)."""
        doc: dict[str, Any] = {
            "format": FORMAT,
            "python": self.python_version,
            "requirements": sorted(set(self.requirements)),
            "platform": platform_tag(),
        }
        if self.local_digests:
            doc["local"] = self.local_digests
        return _digest(doc)[:32]

    @cached_property
    def local_digests(self) -> dict[str, str]:
        """``{requirement: digest of its folder's files}`` for each local folder requirement."""
        return {r: tree_digest(folder) for r in sorted(set(self.requirements))
                if (folder := local_directory(r)) is not None}

    def describe(self) -> str:
        reqs = " ".join(self.requirements)
        if len(reqs) > 80:
            reqs = f"{reqs[:77]}..."
        return f"{reqs} (python {self.python_version})"


def local_directory(requirement: str) -> Path | None:
    """The folder a requirement installs from (``/abs/pkg``, ``./pkg``, ``name @ file:///abs``),
    or ``None`` when it is not a local folder."""
    text = requirement.strip()
    if " @ " in text:
        text = text.split(" @ ", 1)[1].strip()
    if text.startswith("file://"):
        from urllib.parse import unquote, urlparse

        text = unquote(urlparse(text).path)
    if "/" not in text and os.sep not in text:
        return None  # a bare name is a package, even when a folder of that name exists
    path = Path(text).expanduser()
    return path.resolve() if path.is_dir() else None


_UNHASHED_DIRS = frozenset({"__pycache__", "node_modules"})
_UNHASHED_TOP = frozenset({"build", "dist"})


def tree_digest(root: Path) -> str:
    """A digest of a package folder's files (names and bytes), leaving out what building and
    running produce: hidden folders (.git, .venv, caches), ``__pycache__``, ``*.pyc``,
    ``*.egg-info``, and top-level ``build/`` and ``dist/``."""
    sha = hashlib.sha256()
    for folder, dirnames, filenames in os.walk(root):
        top = Path(folder) == root
        dirnames[:] = sorted(
            d for d in dirnames
            if not d.startswith(".") and d not in _UNHASHED_DIRS
            and not d.endswith(".egg-info") and not (top and d in _UNHASHED_TOP))
        for name in sorted(filenames):
            if name.endswith((".pyc", ".pyo")):
                continue
            path = Path(folder) / name
            try:
                data = path.read_bytes()
            except OSError:
                continue  # a dangling link or an unreadable file: uv will say if it matters
            rel = path.relative_to(root).as_posix()
            sha.update(f"{rel}\0{len(data)}\0".encode())
            sha.update(data)
    return sha.hexdigest()


def nonempty_pip_url(value: str | list[str]) -> str | list[str]:
    """The ``pip_url`` validator of every plugin block: it must name something to install."""
    if not (value.split() if isinstance(value, str) else value):
        raise ValueError("pip_url names nothing to install")
    return value
