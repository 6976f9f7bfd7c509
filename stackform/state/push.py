"""Replace an environment's state with a document a person supplies (``stackform state push``).

The rescue path: the errored-state file an apply could not store, a copy from ``state pull``,
or a good version when the current document is corrupt. So it must work exactly when the current
document is unreadable: that one is set aside (kept, never deleted) and the pushed state written.
It never records another stack's or environment's state, and without ``force`` never replaces a
readable state of another lineage or a newer serial.
"""

from __future__ import annotations

from dataclasses import dataclass, replace

from stackform.errors import CorruptStateError, StackformError
from stackform.state.backend import StateBackend
from stackform.state.model import State


@dataclass(frozen=True)
class Pushed:
    written: State
    replaced: State | None
    """The readable state it replaced, if any."""
    set_aside: str | None
    """Where an unreadable current document was kept, if there was one."""


def read_or_none(backend: StateBackend, env: str) -> tuple[State | None, bool]:
    """The current state and whether a document is there that cannot be read (corrupt, or
    another stack's): rescues go on in that case; everything else stops."""
    try:
        return backend.read(env), False
    except CorruptStateError:
        return None, True


def push(backend: StateBackend, env: str, stack: str, pushed: State,
         force: bool = False) -> Pushed:
    """Store ``pushed`` as the state of ``stack``/``env``; the caller holds the lock."""
    if pushed.stack != stack or pushed.env != env:
        raise StackformError(
            f"the pushed document is the state of stack {pushed.stack!r}, environment "
            f"{pushed.env!r}, not of {stack!r}, environment {env!r}",
            hint="push it with the stack file and --env it belongs to; a state is never "
            "moved to another stack or environment")
    current, unreadable = read_or_none(backend, env)
    if current is not None and not force:
        if pushed.lineage != current.lineage:
            raise StackformError(
                f"the pushed state has lineage {pushed.lineage}, the state of {env} has "
                f"{current.lineage}: they are different histories",
                hint="check you push to the right environment; --force overwrites")
        if pushed.serial < current.serial:
            raise StackformError(
                f"the pushed state (serial {pushed.serial}) is older than the state of {env} "
                f"(serial {current.serial})", hint="--force overwrites")
    aside = backend.set_aside(env) if unreadable else None
    new = replace(pushed, serial=max(pushed.serial, current.serial + 1 if current else 0))
    prior = current
    if current is not None and current.lineage != pushed.lineage:
        backend.delete(env)  # a new history: the old one stays in history
        prior = None
    backend.write(env, new, prior)
    return Pushed(new, current, aside)
