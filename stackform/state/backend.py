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

from stackform.errors import StateLockedError
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

    def describe(self, env: str) -> str:
        """Where this environment's state lives, for messages (a path, an s3:// URL)."""

    def read(self, env: str) -> State | None:
        """The stored state, ``None`` when the environment has none.

        Raises :class:`~stackform.errors.CorruptStateError` for an unreadable document.
        """

    def write(self, env: str, state: State, prior: State | None) -> None:
        """Store ``state`` atomically, keeping the previous version.

        ``prior`` is the state the writer read (``None`` when it found none). The write is
        refused with :class:`~stackform.errors.StateConflictError` when the stored state is no
        longer that one (another lineage, another serial), and with
        :class:`~stackform.errors.CorruptStateError` when the stored document is corrupt:
        a corrupt or foreign state is never overwritten.
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


def current_or_none(backend: StateBackend, env: str) -> State | None:
    """The current state for listing history: ``None`` when missing or corrupt (the history is
    what rescues a corrupt state, so it must still list)."""
    from stackform.errors import CorruptStateError

    try:
        return backend.read(env)
    except CorruptStateError:
        return None
