"""What ``stackform lock`` does beyond reading and writing the file (:mod:`.lockfile`):
resolve the plugins whose entry no longer fits (:func:`build_lock`, with uv, imported only
then), tell what moved between two locks (:func:`diff_locks`), and say why a lock does not fit
the stack (:func:`stale_plugins`, for ``--check``)."""

from __future__ import annotations

import threading
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path

from stackform.ownfiles import LOCK_NAME
from stackform.plugins.installs import compile_requirements
from stackform.plugins.lockfile import (
    Lock,
    LockEntry,
    LockfileError,
    PluginRequirements,
    installable,
    pins,
)
from stackform.plugins.spec import InstallSpec


def build_lock(
    plugins: Sequence[PluginRequirements],
    existing: Lock | None,
    *,
    only: Iterable[str] | None = None,
    upgrade: bool = False,
    stack_dir: Path | None = None,
    parallelism: int = 4,
    log: Callable[[str], None] = lambda _m: None,
    cancel: threading.Event | None = None,
) -> dict[str, LockEntry]:
    """The entries of a new lock.

    A plugin whose entry still matches its declaration keeps it untouched (no resolution, no
    network) unless ``upgrade``. A changed or new plugin is resolved, preferring the versions
    it had locked so unrelated pins do not move. ``only`` limits the work to those addresses
    and keeps every other entry as it was; without it, entries of removed plugins go.
    Local paths are taken from ``stack_dir`` (default: the working directory).
    """
    from concurrent.futures import ThreadPoolExecutor

    base = Path() if stack_dir is None else stack_dir

    old = dict(existing.entries) if existing else {}
    by_address = {p.address: p for p in plugins}
    selected = set(by_address) if only is None else set(only)
    unknown = sorted(selected - set(by_address))
    if unknown:
        raise LockfileError(
            f"not a plugin (no pip_url): {', '.join(unknown)}",
            hint=f"plugins in this stack: {', '.join(sorted(by_address)) or 'none'}")
    result: dict[str, LockEntry] = {} if only is None else dict(old)
    todo: list[PluginRequirements] = []
    for address in sorted(by_address):
        plugin = by_address[address]
        entry = old.get(address)
        if address not in selected:
            continue
        if entry is not None and entry.matches(plugin) and not upgrade:
            result[address] = entry
        else:
            todo.append(plugin)

    def resolve_one(plugin: PluginRequirements) -> LockEntry:
        previous = old.get(plugin.address)
        log(f"resolving {plugin.address}: {' '.join(plugin.requirements)}")
        given, back = installable(plugin.requirements, base)
        # Preferences are versions only: a folder or connector line would mean another path.
        preferred = [line for line in previous.locked if "==" in line] if previous else []
        locked = compile_requirements(InstallSpec(given, plugin.python), preferred=preferred,
                                      upgrade=upgrade, cancel=cancel)
        return LockEntry.create(plugin, [back.get(line, line) for line in locked])

    if todo:
        with ThreadPoolExecutor(max_workers=max(1, min(parallelism, len(todo)))) as pool:
            for entry in pool.map(resolve_one, todo):
                result[entry.address] = entry
    return dict(sorted(result.items()))


@dataclass(frozen=True)
class LockChange:
    """How one plugin's entry changed between two locks."""

    address: str
    action: str
    """``add``, ``update`` or ``remove``."""
    packages: tuple[str, ...] = ()
    """``+ six 1.16.0``, ``- six 1.16.0``, ``six 1.16.0 -> 1.17.0``."""


def package_changes(before: Iterable[str], after: Iterable[str]) -> tuple[str, ...]:
    old, new = pins(before), pins(after)
    lines: list[str] = []
    for name in sorted(old.keys() | new.keys()):
        if name not in old:
            lines.append(f"+ {name} {new[name]}")
        elif name not in new:
            lines.append(f"- {name} {old[name]}")
        elif old[name] != new[name]:
            lines.append(f"~ {name} {old[name]} -> {new[name]}")
    return tuple(lines)


def diff_locks(before: Mapping[str, LockEntry], after: Mapping[str, LockEntry]
               ) -> list[LockChange]:
    changes: list[LockChange] = []
    for address in sorted(before.keys() | after.keys()):
        old, new = before.get(address), after.get(address)
        if old is None and new is not None:
            changes.append(LockChange(address, "add", package_changes((), new.locked)))
        elif new is None and old is not None:
            changes.append(LockChange(address, "remove", package_changes(old.locked, ())))
        elif old is not None and new is not None and old.to_toml() != new.to_toml():
            changes.append(LockChange(address, "update", package_changes(old.locked, new.locked)))
    return changes


def stale_plugins(plugins: Sequence[PluginRequirements], lock: Lock | None) -> list[str]:
    """Why the lock does not fit ``plugins``: one line per problem (empty when it fits)."""
    if lock is None:
        return [f"{LOCK_NAME} does not exist"] if plugins else []
    problems: list[str] = []
    declared = {p.address for p in plugins}
    for plugin in plugins:
        _, problem = lock.lookup(plugin)
        if problem:
            problems.append(f"{plugin.address}: {problem}")
    problems.extend(f"{address} is in {LOCK_NAME} but no longer in the stack"
                    for address in sorted(set(lock.entries) - declared))
    return problems
