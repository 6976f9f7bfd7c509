"""The interface every state backend implements, and the lock holder record.

The conformance suite in :mod:`stackform.testing.state_conformance` is the contract: every
backend (local, S3, a third party's) runs it.
"""

from __future__ import annotations

import getpass
import hashlib
import json
import os
import re
import socket
import uuid
from contextlib import AbstractContextManager
from dataclasses import asdict, dataclass, field
from typing import Any, Protocol

from stackform.errors import CorruptStateError, ForeignStateError, StateError, StateLockedError
from stackform.state.model import State, utc_now


@dataclass(frozen=True)
class LockInfo:
    """Who holds an environment's lock, from where, doing what, since when."""

    id: str = field(default_factory=lambda: str(uuid.uuid4()))
    operation: str = ""
    user: str = field(default_factory=lambda: _user())
    host: str = field(default_factory=socket.gethostname)
    pid: int = field(default_factory=os.getpid)
    created_at: str = field(default_factory=utc_now)

    def to_json(self) -> dict[str, Any]:
        return asdict(self)

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> LockInfo:
        known = {k: data[k] for k in ("id", "operation", "user", "host", "pid", "created_at")
                 if k in data}
        return cls(**known)

    def dumps(self) -> str:
        return json.dumps(self.to_json(), indent=2)

    def describe(self) -> str:
        return (f"lock {self.id} held by {self.user}@{self.host} (pid {self.pid}) "
                f"for '{self.operation}' since {self.created_at}")


def _user() -> str:
    try:
        return getpass.getuser()
    except Exception:  # no passwd entry (containers)
        return os.environ.get("USER", "unknown")


@dataclass(frozen=True)
class StateVersion:
    """One kept version of an environment's state (for history and rollback)."""

    serial: int
    lineage: str
    updated_at: str
    ref: str
    """Backend-specific handle (a file name, an S3 version id)."""


class StateBackend(Protocol):
    """Stores one state document per environment.

    A backend may also set ``write_interval`` (seconds, default 0): apply then waits that long
    between state writes, grouping what finishes meanwhile into one write.
    """

    name: str
    stack: str | None
    """The stack whose states this backend holds (the factory scopes its keys to it). Reading
    a document of another stack or environment raises
    :class:`~stackform.errors.ForeignStateError`, and writing one is refused. ``None`` only
    for tools that must read any stack's documents (the upgrade of the pre-0.2 layout)."""

    def describe(self, env: str) -> str:
        """Where this environment's state lives, for messages (a path, an s3:// URL)."""

    def read(self, env: str) -> State | None:
        """The stored state, ``None`` when the environment has none.

        Raises :class:`~stackform.errors.CorruptStateError` for an unreadable document, and
        :class:`~stackform.errors.ForeignStateError` (a kind of it) for the state of another
        stack or environment (:func:`check_owner`).
        """

    def write(self, env: str, state: State, prior: State | None, *,
              keep_prior: bool = True) -> None:
        """Store ``state`` atomically, keeping the previous version.

        ``keep_prior=False`` leaves the version replaced out of the history (a backend whose
        storage keeps every version, a versioned bucket, keeps it anyway): an apply writes
        state several times, and only its first write replaces a version worth restoring,
        the one from before the apply. Its later writes replace its own snapshots, which would
        otherwise push older applies out of the kept versions.

        ``prior`` is the state the writer read (``None`` when it found none). The write is
        refused with :class:`~stackform.errors.StateConflictError` when the stored state is no
        longer that one (another lineage, another serial), and with
        :class:`~stackform.errors.CorruptStateError` when the stored document is corrupt:
        a corrupt or foreign state is never overwritten. A ``state`` of another stack or
        environment is refused (:func:`check_writable`).
        """

    def set_aside(self, env: str) -> str | None:
        """Move an unreadable current document (corrupt, or another stack's) out of the way,
        keeping it, so that a rescue can write a good state with ``prior=None``.

        Returns where the document was kept, ``None`` when the environment has no document.
        Refuses (:class:`~stackform.errors.StateError`) a readable document: a good state is
        never set aside. The caller holds the environment's lock.
        """

    def lock(
        self, env: str, operation: str, timeout: float = 0.0
    ) -> AbstractContextManager[LockInfo]:
        """Hold the environment's lock for the ``with`` block.

        Waits up to ``timeout`` seconds, retrying; then raises
        :class:`~stackform.errors.StateLockedError` naming the holder.
        """

    def lock_info(self, env: str) -> LockInfo | None:
        """The current holder, if any: a lock actually held, not the stale record of a holder
        the backend knows is gone."""

    def force_unlock(self, env: str, lock_id: str) -> None:
        """Remove a stale lock whose id is ``lock_id``.

        Refuses (:class:`~stackform.errors.StateError`) a wrong id or an environment that is not
        locked; a backend that can tell the holder is alive refuses that too.
        """

    def environments(self) -> list[str]:
        """Every environment with stored state."""

    def history(self, env: str) -> list[StateVersion]:
        """Kept versions, newest first: the current one, then at least the previous one.

        Versions of a deleted state stay listed (and readable) after :meth:`delete`.
        """

    def read_version(self, env: str, version: StateVersion) -> State: ...

    def delete(self, env: str) -> None:
        """Remove an environment's state (after it was destroyed), keeping it in history.

        Deleting an environment without state does nothing.
        """

    def purge(self, env: str) -> None:
        """Remove every trace of ``env``: its current document, backup, kept versions, lock
        record and temp files, so storage holds nothing of it (a throwaway environment after
        its destroy). Takes the environment's lock; other environments are untouched.
        Purging an environment with nothing stored does nothing.
        """


def locked_error(env: str, holder: LockInfo | None, timeout: float) -> StateLockedError:
    who = holder.describe() if holder is not None else "a process that left no holder record"
    waited = f" (waited {timeout:g}s)" if timeout > 0 else ""
    lock_id = holder.id if holder is not None else "ID"
    return StateLockedError(
        f"state for {env!r} is locked{waited}: {who}",
        hint=f"wait for it to finish, or retry with --lock-timeout 5m to wait; if that process "
        f"is gone, `stackform force-unlock {lock_id}`",
    )


_SAFE_LINEAGE = re.compile(r"^[0-9A-Za-z-]{1,64}$")


def lineage_token(lineage: str) -> str:
    """The lineage as it may appear in a file or key name (a uuid as is; anything else hashed)."""
    if _SAFE_LINEAGE.match(lineage):
        return lineage
    return "h" + hashlib.sha256(lineage.encode()).hexdigest()[:40]


def version_name(serial: int, lineage: str) -> str:
    """The name of a kept version: ``<serial>-<lineage token>.json``."""
    return f"{serial}-{lineage_token(lineage)}.json"


def check_owner(state: State, env: str, stack: str | None, source: str) -> State:
    """``state`` if it is the state of ``stack`` (any, when ``None``) and ``env``."""
    if state.env == env and (stack is None or state.stack == stack):
        return state
    raise ForeignStateError(
        f"{source} is the state of stack {state.stack!r}, environment {state.env!r}, not of "
        f"{stack or state.stack!r}, environment {env!r}",
        hint="it was copied or shared from elsewhere, and stackform neither uses nor "
        "overwrites it: give each stack and environment its own state location; "
        "`stackform state history` and `stackform state rollback SERIAL` (or `state push "
        "FILE`) restore this one's own state, keeping that document aside")


def check_writable(state: State, env: str, stack: str | None) -> None:
    """Refuse to store a state under another stack's or environment's key."""
    if state.env != env or (stack is not None and state.stack != stack):
        raise StateError(
            f"refusing to store the state of stack {state.stack!r}, environment "
            f"{state.env!r} as the state of {stack or state.stack!r}, environment {env!r}",
            hint="a state belongs to exactly one stack and environment")


def aside_name(stamp: str, token: str) -> str:
    """The name a set-aside document is kept under (never taken for a history version)."""
    return f"unreadable-{stamp}-{token}.json"


def current_or_none(backend: StateBackend, env: str) -> State | None:
    """The current state for listing history: ``None`` when missing or corrupt (the history is
    what rescues a corrupt state, so it must still list)."""
    try:
        return backend.read(env)
    except CorruptStateError:
        return None
