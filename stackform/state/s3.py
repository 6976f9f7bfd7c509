"""State in an S3 bucket (or an S3-compatible store), for teams: CI plans, a deploy job applies.

Keys under the configured prefix::

    state/<env>.json                              current state
    state/<env>.lock                              the lock object (LockInfo), while held
    history/<env>/<serial>-<lineage>.json         previous versions, when the bucket does not
                                                  keep versions itself

Every write is conditional: the first with ``IfNoneMatch='*'``, later ones with ``IfMatch`` on
the ETag this instance read or wrote, so a writer whose view is stale (it lost its lock, a peer
pushed) is refused by S3 itself and can never overwrite a newer state. An apply step costs one
conditional ``PUT`` and no read: the ETag of the previous write is the expected one. When the
bucket keeps versions, S3's versions are the history; otherwise the previous document is copied
to ``history/`` before it is replaced (an ``IfNoneMatch`` put, so a retry is harmless).
"""

from __future__ import annotations

import re
import threading
import time
import uuid
from collections.abc import Iterator
from contextlib import contextmanager, suppress
from dataclasses import dataclass

from stackform.envnames import check_stored_env_name, is_stored_env_name
from stackform.errors import CorruptStateError, StateConflictError, StateError, StateLockedError
from stackform.fileio import hostname, pid_alive
from stackform.s3.client import (
    NOT_MODIFIED,
    PreconditionFailed,
    S3Object,
    S3Objects,
    in_parallel,
)
from stackform.s3.objectlock import ObjectLock
from stackform.s3.settings import S3Settings
from stackform.state.backend import (
    LockInfo,
    StateVersion,
    aside_name,
    check_owner,
    check_writable,
    current_or_none,
    lineage_token,
    locked_error,
    version_name,
)
from stackform.state.model import State
from stackform.state.swap import check_swap

HISTORY_KEEP = 100
"""Numbered copies kept per environment when the bucket does not version objects."""
HISTORY_READ = 100
"""Versions ``history()`` reads back from a versioned bucket (each is one GET)."""
_PRUNE_EVERY = 10
_HISTORY_NAME = re.compile(r"^(\d+)-([0-9A-Za-z-]{1,64})\.json$")


@dataclass(frozen=True)
class _Seen:
    """The stored document as this instance last read or wrote it."""

    etag: str
    data: bytes
    state: State


class S3Backend:
    """A :class:`~stackform.state.backend.StateBackend` keeping documents in S3."""

    name = "s3"
    write_interval = 1.0
    """Seconds an apply waits between writes: every write sends the whole document, so what
    finishes meanwhile is grouped into the next one (a crash loses at most that second)."""

    def __init__(self, settings: S3Settings, objects: S3Objects | None = None,
                 stack: str | None = None) -> None:
        self.settings = settings
        self.stack = stack
        self.objects = objects or S3Objects(settings)
        self._seen: dict[str, _Seen] = {}
        self._mutex = threading.Lock()

    # -- keys --------------------------------------------------------------------------------

    def _key(self, env: str, suffix: str = ".json") -> str:
        check_stored_env_name(env, "S3 state", StateError)
        return self.settings.key("state", env + suffix)

    def _history_prefix(self, env: str) -> str:
        self._key(env)
        return self.settings.key("history", env) + "/"

    def describe(self, env: str) -> str:
        return self.objects.url(self._key(env))

    # -- reading -----------------------------------------------------------------------------

    def read(self, env: str) -> State | None:
        key = self._key(env)
        seen = self._seen.get(env)
        got = self.objects.get(key, if_none_match=seen.etag if seen else None)
        if got is NOT_MODIFIED and seen is not None:
            return seen.state
        if not isinstance(got, S3Object):
            self._seen.pop(env, None)
            return None
        source = f"state object {self.objects.url(key)}"
        state = check_owner(State.loads(got.data, source=source), env, self.stack, source)
        self._seen[env] = _Seen(got.etag, got.data, state)
        return state

    # -- writing -----------------------------------------------------------------------------

    def write(self, env: str, state: State, prior: State | None, *,
              keep_prior: bool = True) -> None:
        key = self._key(env)
        check_writable(state, env, self.stack)
        data = state.dumps().encode()
        with self._mutex:
            seen = self._seen.get(env)
        if prior is None:
            check_swap(env, None, state, prior)
            self._put(env, key, data, state, prior, None)
            return
        stored: _Seen | None = seen
        if seen is None or not _same_version(seen.state, prior):
            self.read(env)  # what we last saw is not what the writer read: look again
            stored = self._seen.get(env)
        check_swap(env, stored.state if stored else None, state, prior)
        assert stored is not None  # check_swap refuses a prior when nothing is stored
        if keep_prior and not self.objects.versioned():
            self._keep(env, stored)
        self._put(env, key, data, state, prior, stored.etag)
        if not self.objects.versioned() and state.serial % _PRUNE_EVERY == 0:
            self._prune(env, state.lineage)

    def _put(self, env: str, key: str, data: bytes, state: State, prior: State | None,
             etag: str | None) -> None:
        try:
            written = self.objects.put(key, data, if_match=etag, if_none_match=etag is None)
        except PreconditionFailed:
            self._conflict(env, data, state, prior)
            return
        with self._mutex:
            self._seen[env] = _Seen(written.etag, data, state)

    def _conflict(self, env: str, data: bytes, state: State, prior: State | None) -> None:
        """S3 refused the conditional write: say what the stored state is now."""
        current = self.read(env)  # raises CorruptStateError for a corrupt document
        seen = self._seen.get(env)
        if seen is not None and seen.data == data:
            return  # our own write, retried by the client after a lost response
        check_swap(env, current, state, prior)
        raise StateConflictError(
            f"state for {env!r} changed in {self.describe(env)} while this write was under "
            f"way (it is now serial {current.serial if current else '(none)'})",
            hint="another process wrote it; run plan again",
        )

    def _keep(self, env: str, stored: _Seen) -> None:
        name = version_name(stored.state.serial, stored.state.lineage)
        with suppress(PreconditionFailed):  # already kept by an earlier, retried write
            self.objects.put(self._history_prefix(env) + name, stored.data, if_none_match=True)

    def _prune(self, env: str, lineage: str) -> None:
        token = lineage_token(lineage)
        prefix = self._history_prefix(env)
        kept = []
        for item in self.objects.listing(prefix):
            m = _HISTORY_NAME.match(item.key[len(prefix):])
            if m and m.group(2) == token:
                kept.append((int(m.group(1)), item.key))
        for _, key in sorted(kept, reverse=True)[HISTORY_KEEP:]:
            self.objects.delete(key)

    def set_aside(self, env: str) -> str | None:
        key = self._key(env)
        got = self.objects.get(key)
        if not isinstance(got, S3Object):
            return None
        source = f"state object {self.objects.url(key)}"
        try:
            check_owner(State.loads(got.data, source=source), env, self.stack, source)
        except CorruptStateError:
            pass
        else:
            raise StateError(f"the state in {self.describe(env)} is readable: nothing to set "
                             "aside", hint="a good state is replaced by `state push` or "
                             "`state rollback` as a new serial, never set aside")
        stamp = time.strftime("%Y%m%dT%H%M%SZ", time.gmtime())
        kept = self._history_prefix(env) + aside_name(stamp, uuid.uuid4().hex[:8])
        self.objects.put(kept, got.data, if_none_match=True)
        try:
            self.objects.delete(key, if_match=got.etag)
        except PreconditionFailed:
            raise StateConflictError(
                f"state for {env!r} changed while it was being set aside",
                hint="another process wrote it; look at it again") from None
        with self._mutex:
            self._seen.pop(env, None)
        return self.objects.url(kept)

    def delete(self, env: str) -> None:
        key = self._key(env)
        stored = self.read(env)  # a corrupt document raises: it is never removed
        if stored is None:
            return
        seen = self._seen[env]
        if not self.objects.versioned():
            self._keep(env, seen)
        try:
            self.objects.delete(key, if_match=seen.etag)
        except PreconditionFailed:
            raise StateConflictError(
                f"state for {env!r} changed while it was being deleted",
                hint="another process wrote it; look at it again before deleting",
            ) from None
        self._seen.pop(env, None)

    def purge(self, env: str) -> None:
        with self.lock(env, "purge"):
            self.objects.purge([self._key(env)], self._history_prefix(env))
        # After the lock's release: in a versioned bucket the lock object left versions too.
        self.objects.purge([self._key(env, ".lock")])
        with self._mutex:
            self._seen.pop(env, None)

    # -- listing and history -----------------------------------------------------------------

    def environments(self) -> list[str]:
        prefix = self.settings.key("state") + "/"
        names = []
        for item in self.objects.listing(prefix, delimiter="/"):
            name = item.key[len(prefix):]
            if name.endswith(".json") and is_stored_env_name(name[: -len(".json")]):
                names.append(name[: -len(".json")])
        return sorted(names)

    def history(self, env: str) -> list[StateVersion]:
        """Kept versions, newest first (see the module docstring for where they are)."""
        if self.objects.versioned():
            return self._object_versions(env)
        out: list[StateVersion] = []
        current = current_or_none(self, env)
        if current is not None:
            out.append(StateVersion(current.serial, current.lineage, current.updated_at,
                                    "current"))
        prefix = self._history_prefix(env)
        names = []
        for item in self.objects.listing(prefix):
            name = item.key[len(prefix):]
            m = _HISTORY_NAME.match(name)
            if m and not (current is not None and name == version_name(current.serial,
                                                                        current.lineage)):
                names.append(name)  # (the current document may be there after a delete)
        token = lineage_token(current.lineage) if current else None
        # The current lineage by serial first, then older lineages; read back at most
        # HISTORY_READ of them (in parallel) for their exact lineage and time.
        names.sort(key=lambda n: (n.split("-", 1)[1] == f"{token}.json",
                                  int(n.split("-", 1)[0])), reverse=True)
        peeked = in_parallel(lambda n: self._peek(env, n), names[:HISTORY_READ])
        for name, state in zip(names, peeked, strict=False):
            if state is not None:
                out.append(StateVersion(state.serial, state.lineage, state.updated_at, name))
        return out

    def _peek(self, env: str, name: str) -> State | None:
        got = self.objects.get(self._history_prefix(env) + name)
        if not isinstance(got, S3Object):
            return None
        try:
            return State.loads(got.data, source=name)
        except CorruptStateError:
            return None

    def _object_versions(self, env: str) -> list[StateVersion]:
        key = self._key(env)
        listed = self.objects.versions(key)[:HISTORY_READ]

        def load(version_id: str | None) -> State | None:
            got = self.objects.get(key, version_id=version_id)
            if not isinstance(got, S3Object):
                return None
            try:
                return State.loads(got.data, source=f"version {version_id} of {key}")
            except CorruptStateError:
                return None  # a corrupt version is skipped; the others still rescue it

        states = in_parallel(load, [v.version_id for v in listed])
        return [StateVersion(s.serial, s.lineage, s.updated_at, f"version:{v.version_id}")
                for v, s in zip(listed, states, strict=True) if s is not None]

    def read_version(self, env: str, version: StateVersion) -> State:
        if version.ref == "current":
            state = self.read(env)
        elif version.ref.startswith("version:"):
            got = self.objects.get(self._key(env), version_id=version.ref[len("version:"):])
            state = (State.loads(got.data, source=f"{self.describe(env)} {version.ref}")
                     if isinstance(got, S3Object) else None)
        elif _HISTORY_NAME.match(version.ref):
            got = self.objects.get(self._history_prefix(env) + version.ref)
            state = (State.loads(got.data, source=f"state version {version.ref}")
                     if isinstance(got, S3Object) else None)
        else:
            raise StateError(f"{version.ref!r} is not a state version of the s3 backend")
        if state is not None:
            check_owner(state, env, self.stack, f"{self.describe(env)} {version.ref}")
        if state is None or (state.serial, state.lineage) != (version.serial, version.lineage):
            raise StateError(
                f"version {version.serial} of the {env!r} state (lineage {version.lineage}) "
                "is no longer kept",
                hint="list the versions again with `stackform state history`",
            )
        return state

    # -- locking -----------------------------------------------------------------------------

    def _lock(self, env: str) -> ObjectLock:
        return ObjectLock(self.objects, self._key(env, ".lock"),
                          lambda holder, waited: locked_error(env, holder, waited))

    @contextmanager
    def lock(self, env: str, operation: str, timeout: float = 0.0) -> Iterator[LockInfo]:
        with self._lock(env).hold(LockInfo(operation=operation), timeout) as info:
            yield info

    def lock_info(self, env: str) -> LockInfo | None:
        holder = self._lock(env).holder()
        if holder is None:
            return None
        return holder.info or _unreadable()

    def force_unlock(self, env: str, lock_id: str) -> None:
        lock = self._lock(env)
        holder = lock.holder()
        if holder is None:
            raise StateError(f"environment {env!r} has no lock to remove",
                             hint="nothing to do: the environment is not locked")
        info = holder.info or _unreadable()
        if info.id != lock_id:
            raise StateError(
                f"lock id {lock_id!r} does not match the lock of {env!r}: {info.describe()}",
                hint="pass the id of the lock you mean to remove")
        if info.host == hostname() and pid_alive(info.pid):
            raise StateLockedError(
                f"refusing to force-unlock {env!r}: process {info.pid} on this host is alive "
                f"and still holds it ({info.describe()})",
                hint="force-unlock is for a lock left by a process that is gone; wait for "
                "this one or stop it")
        try:
            lock.remove(holder)
        except PreconditionFailed:
            raise StateError(f"the lock of {env!r} changed hands while it was being removed",
                             hint="look at it again: `stackform plan` names the holder") from None


def _same_version(a: State, b: State) -> bool:
    return (a.lineage, a.serial) == (b.lineage, b.serial)


def _unreadable() -> LockInfo:
    return LockInfo(id="unknown", operation="unknown", user="unknown", host="unknown", pid=0,
                    created_at="unknown")
