"""Every environment of a stack: those with state and those declared, and which of them a
clean-up may remove.

``env list`` shows these rows; ``env destroy`` follows the rules here on which environment a
name reaches and what it may destroy without being told twice.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from stackform.config.loader import StackFile
from stackform.errors import CorruptStateError, StackformError
from stackform.state.backend import StateBackend


@dataclass(frozen=True)
class EnvRow:
    name: str
    declared: bool
    per_developer: bool
    """A ``<base>-<developer>`` environment of a ``per_developer`` base."""
    base: str | None
    protected: bool
    has_state: bool
    updated_at: str | None = None
    user: str | None = None
    commit: str | None = None
    branch: str | None = None
    resources: int = 0
    serial: int | None = None
    developer_base: bool = False
    """A declared ``per_developer`` environment: its state lives under ``<name>-<dev>``."""
    unreadable: str | None = None
    """Why the stored document cannot be read (corrupt, another stack's), when it cannot."""
    orphaned: bool = False
    """State recorded under a ``per_developer`` base's own name (from before per_developer
    was turned on): ``--env NAME`` now means ``NAME-<developer>``, so only ``env destroy NAME``
    reaches it."""
    throwaway: bool = False
    """Made by ``stackform test`` (its state is marked): a clean-up may remove it."""

    def to_json(self) -> dict[str, Any]:
        return {"name": self.name, "declared": self.declared,
                "per_developer": self.per_developer, "base": self.base,
                "protected": self.protected, "has_state": self.has_state,
                "updated_at": self.updated_at, "user": self.user, "commit": self.commit,
                "branch": self.branch, "resources": self.resources, "serial": self.serial,
                "developer_base": self.developer_base, "unreadable": self.unreadable,
                "orphaned": self.orphaned, "throwaway": self.throwaway}


def base_of(stack_file: StackFile, name: str) -> tuple[str | None, bool, bool]:
    """(base, per_developer, protected) of an environment name as the stack declares it."""
    declared = stack_file.core.environments
    section = declared.get(name)
    if section is not None:
        return name, False, section.protected
    for base, candidate in declared.items():
        if candidate.per_developer and name.startswith(f"{base}-"):
            return base, True, candidate.protected
    return None, False, False


def collect(stack_file: StackFile, backend: StateBackend) -> list[EnvRow]:
    """Every environment with state, then declared ones without state."""
    rows: list[EnvRow] = []
    with_state = backend.environments()
    for name in with_state:
        base, per_dev, protected = base_of(stack_file, name)
        try:
            state = backend.read(name)
        except CorruptStateError as exc:
            rows.append(EnvRow(name=name, declared=base == name, per_developer=per_dev,
                               base=base, protected=protected, has_state=True,
                               unreadable=exc.reason))
            continue
        if state is None:
            continue
        section = stack_file.core.environments.get(name)
        orphaned = section is not None and section.per_developer
        rows.append(EnvRow(
            name=name, declared=base == name, per_developer=per_dev, base=base,
            protected=protected, has_state=True, updated_at=state.updated_at,
            user=state.git.user, commit=state.git.commit, branch=state.git.branch,
            resources=len(state.resources), serial=state.serial, developer_base=orphaned,
            orphaned=orphaned, throwaway=state.throwaway is not None))
    for name, section in stack_file.core.environments.items():
        if name not in with_state:
            rows.append(EnvRow(name=name, declared=True, per_developer=False, base=name,
                               protected=section.protected, has_state=False,
                               developer_base=section.per_developer))
    return rows


def applied_before(row: EnvRow, cutoff: datetime) -> bool:
    """Whether the environment's state was last written before ``cutoff`` (never, without
    state or a readable time)."""
    if not row.has_state or not row.updated_at:
        return False
    try:
        when = datetime.fromisoformat(row.updated_at)
    except ValueError:
        return False
    if when.tzinfo is None:
        when = when.replace(tzinfo=UTC)
    return when < cutoff


def stale_developer_envs(rows: list[EnvRow], cutoff: datetime) -> list[str]:
    """The per-developer and throwaway environments last applied before ``cutoff``: what a
    clean-up removes (a declared environment never is)."""
    return [row.name for row in rows
            if (row.per_developer or row.throwaway) and applied_before(row, cutoff)]


def needs_exact_name(name: str, env: str, with_state: list[str]) -> bool:
    """Whether ``env destroy NAME`` must reach the state recorded under ``name`` itself rather
    than ``env``, the environment the stack makes of it (``dev`` of a per-developer base is
    ``dev-<me>``); refused when ``name`` has no state of its own then."""
    if env == name:
        return False
    if name not in with_state:
        raise StackformError(
            f"environment {name} is per-developer; its environments are named like {env}",
            hint="run `stackform env list` and pass the full name")
    # A state recorded under the base name itself, from before per_developer was on: the
    # exact name reaches it.
    return True


def check_may_destroy(name: str, protected: bool, confirmed: bool) -> None:
    """A protected environment is destroyed only when the command line says so."""
    if protected and not confirmed:
        raise StackformError(f"environment {name} is protected",
                             hint="pass --yes (and run from a clean tree on an allowed "
                                  "branch) to destroy it")
