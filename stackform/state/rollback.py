"""Restore a kept version of an environment's state as its newest version.

A rollback never rewrites history: the chosen version is written again as a new serial on top
of the current one, so the rollback itself can be rolled back. It changes only what stackform
remembers; the next plan shows what it would take to make the real stack match again.
"""

from __future__ import annotations

from dataclasses import dataclass, replace

from stackform.errors import StateError
from stackform.state.backend import StateBackend, StateVersion
from stackform.state.model import GitInfo, State
from stackform.state.push import read_or_none


@dataclass(frozen=True)
class Rollback:
    restored: StateVersion
    previous: State | None
    written: State
    set_aside: str | None = None
    """Where an unreadable current document was kept, when there was one."""


def pick_version(versions: list[StateVersion], serial: int, lineage: str | None,
                 current: State | None) -> StateVersion:
    """The kept version with ``serial`` (of ``lineage``, a prefix is enough; else the current
    lineage's, else the only one with that serial)."""
    found = [v for v in versions if v.serial == serial
             and (lineage is None or v.lineage.startswith(lineage))]
    if lineage is None and current is not None and len(found) > 1:
        found = [v for v in found if v.lineage == current.lineage] or found
    if not found:
        kept = ", ".join(str(v.serial) for v in versions[:20]) or "none"
        raise StateError(f"no kept version has serial {serial}"
                         + (f" in lineage {lineage}" if lineage else ""),
                         hint=f"`stackform state history` lists them (kept serials: {kept})")
    if len(found) > 1:
        raise StateError(f"serial {serial} exists in {len(found)} lineages: "
                         + ", ".join(v.lineage for v in found),
                         hint="pick one with --lineage")
    return found[0]


def rollback(backend: StateBackend, env: str, serial: int, git: GitInfo,
             lineage: str | None = None, force: bool = False) -> Rollback:
    """Write version ``serial`` again as the newest state; the caller holds the lock.

    An unreadable current document (corrupt, another stack's) is what a rollback rescues: it
    is set aside, kept, once the version to restore has been read."""
    current, unreadable = read_or_none(backend, env)
    if current is not None and current.serial == serial and (
            lineage is None or current.lineage.startswith(lineage)):
        raise StateError(f"serial {serial} is already the current state of {env!r}",
                         hint="nothing to roll back")
    version = pick_version(backend.history(env), serial, lineage, current)
    old = backend.read_version(env, version)
    if current is None:
        aside = backend.set_aside(env) if unreadable else None
        written = old.next(git)
        backend.write(env, written, None)  # restores a deleted or unreadable state
        return Rollback(version, None, written, aside)
    if old.lineage != current.lineage:
        if not force:
            raise StateError(
                f"version {serial} belongs to lineage {old.lineage}, the current state of "
                f"{env!r} to {current.lineage}: another history",
                hint="pass --force to replace the current history with that one (the current "
                "state stays in history)")
        backend.delete(env)
        written = replace(old, serial=max(old.serial, current.serial)).next(git)
        backend.write(env, written, None)
        return Rollback(version, current, written)
    written = replace(old, serial=current.serial).next(git)
    backend.write(env, written, current)
    return Rollback(version, current, written)
