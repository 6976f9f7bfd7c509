"""What ``stackform lock`` decides: which plugins a stack declares, which ones a command line
names, whether ``stackform.lock`` still fits them, and what a new lock changes.

The lock file itself is :mod:`stackform.plugins.lockfile` (reading, writing) and
:mod:`stackform.plugins.locking` (resolving); this module holds the rules the command follows,
so the command only parses and renders.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Literal

from stackform.config.loader import find_stack_file, load_stack_file
from stackform.config.model import ResolvedStack
from stackform.config.resolve import resolve
from stackform.errors import StackformError
from stackform.plugins.lockfile import Lock, PluginRequirements, plugin_requirements, write_lock
from stackform.plugins.locking import LockChange, build_lock, diff_locks, stale_plugins
from stackform.registry import Registry


def stack_for_lock(directory: Path | None, file: Path | None, env: str | None
                   ) -> ResolvedStack:
    """The stack to lock: it must resolve while its lock is stale, and locking needs no
    secret."""
    registry = Registry()
    stack_file = load_stack_file(find_stack_file(directory, file), registry)
    return resolve(stack_file, env, registry, strict_secrets=False, check_lock=False)


def stack_plugins(stack: ResolvedStack) -> list[PluginRequirements]:
    """Every plugin (a block with ``pip_url``) of the stack, by address; refused when a
    ``pip_url`` holds a secret, which the lock file would write out."""
    plugins = []
    for address, resource in sorted(stack.resources.items()):
        plugin = plugin_requirements(address, resource.attributes)
        if plugin is None:
            continue
        if any(path and path[0] == "pip_url" for path in resource.sensitive):
            raise StackformError(
                f"{address}: pip_url holds a secret, and stackform.lock would write it out",
                hint="give the index credentials to uv instead (UV_INDEX_URL, "
                "UV_INDEX_<NAME>_PASSWORD or ~/.netrc) and keep pip_url plain")
        plugins.append(plugin)
    return plugins


def select_plugins(requested: Iterable[str], resources: Iterable[str],
                   plugins: Sequence[PluginRequirements]) -> set[str]:
    """The addresses a command line names: an address of the stack, or a bare name when it
    names one plugin."""
    known = set(resources)
    addresses = [p.address for p in plugins]
    out: set[str] = set()
    for ref in requested:
        if ref in known:
            out.add(ref)
            continue
        matches = [a for a in addresses if a.partition(".")[2] == ref]
        if len(matches) == 1:
            out.add(matches[0])
            continue
        raise StackformError(
            f"'{ref}' is ambiguous: it names {', '.join(matches)}" if matches
            else f"unknown plugin '{ref}'",
            hint=f"plugins in this stack: {', '.join(addresses) or 'none'}")
    return out


@dataclass(frozen=True)
class LockCheck:
    """Whether ``stackform.lock`` fits the plugins checked (``lock --check``)."""

    checked: int
    problems: list[str] = field(default_factory=list)
    """One line per problem; empty when the lock fits."""


def check_lock(plugins: Sequence[PluginRequirements], existing: Lock | None,
               only: set[str] | None = None) -> LockCheck:
    """Check the lock for ``plugins`` (those in ``only`` when given). Checking some plugins
    says nothing of entries for plugins no longer in the stack: only a full check does."""
    selected = [p for p in plugins if only is None or p.address in only]
    if only is not None and existing is not None:
        # Entries of the plugins not checked are not this check's business.
        wanted = {p.address for p in selected}
        existing = Lock(existing.path, {a: e for a, e in existing.entries.items()
                                        if a in wanted}, existing.version)
    return LockCheck(len(selected), stale_plugins(selected, existing))


@dataclass(frozen=True)
class LockUpdate:
    """What ``stackform lock`` did."""

    outcome: Literal["no-plugins", "unchanged", "written"]
    total: int = 0
    """Plugins in the lock."""
    changes: list[LockChange] = field(default_factory=list)
    path: Path | None = None
    """The lock file written."""


def update_lock(plugins: Sequence[PluginRequirements], existing: Lock | None, stack_dir: Path,
                *, only: set[str] | None = None, upgrade: bool = False, parallelism: int = 4,
                log: Callable[[str], None] = lambda _m: None) -> LockUpdate:
    """Resolve the plugins into ``stackform.lock``: entries whose declaration did not change
    are kept unless ``upgrade``; the file is written only when an entry changes (or when
    there is none yet)."""
    if not plugins and existing is None:
        return LockUpdate("no-plugins")
    entries = build_lock(plugins, existing, only=only, upgrade=upgrade, stack_dir=stack_dir,
                         parallelism=parallelism, log=log)
    changes = diff_locks(existing.entries if existing else {}, entries)
    if existing is not None and not changes:
        return LockUpdate("unchanged", len(entries))
    path = write_lock(stack_dir, entries)
    return LockUpdate("written", len(entries), changes, path)


__all__ = [
    "LockCheck",
    "LockUpdate",
    "check_lock",
    "select_plugins",
    "stack_for_lock",
    "stack_plugins",
    "update_lock",
]
