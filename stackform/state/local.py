"""State in files beside the stack: the default backend, for a laptop or a single deploy host.

Layout under ``root`` (``<stack dir>/.stackform/state``)::

    <env>.json                          current state (0600)
    <env>.json.backup                   the version before it
    <env>.lock                          flock target; holds the holder's LockInfo while locked
                                        (``purge`` removes all of an environment's files)
    .write.lock                         flock taken for the few milliseconds of a write
    history/<env>/<serial>-<lineage>.json   the previous versions, the last ``HISTORY_KEEP``

Writes go through :func:`stackform.fileio.atomic_write` (a temp file in the same folder, fsynced,
renamed over the state, the folder fsynced), so a reader (or a crash) only ever sees a whole old
or a whole new document. The previous version is kept by hard-linking the old file (no data
copy) just before the rename.

The lock is ``fcntl.flock`` on ``<env>.lock``: the kernel drops it when the holder dies, so a
holder record whose flock is free is stale and never blocks anyone.
"""

from __future__ import annotations

import fcntl
import json
import os
import re
import shutil
import threading
import time
import uuid
from collections.abc import Iterator
from contextlib import contextmanager, suppress
from dataclasses import dataclass
from functools import partial
from pathlib import Path

from stackform import fileio
from stackform.envnames import check_stored_env_name, is_stored_env_name
from stackform.errors import (
    CorruptStateError,
    StateError,
    StateLockedError,
    os_error,
    os_errors,
)
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

HISTORY_KEEP = 20
"""Previous versions kept per environment in ``history/`` (the current one comes on top)."""

_HISTORY_NAME = re.compile(r"^(\d+)-([0-9A-Za-z-]{1,64})\.json$")
_TEMP_MAX_AGE = 3600.0
"""A temp file older than this was left by a killed writer and is swept on the next write."""


@dataclass(frozen=True)
class _Seen:
    """What this instance last read or wrote, to skip re-parsing an unchanged file."""

    dev: int
    ino: int
    mtime_ns: int
    size: int
    state: State

    def matches(self, st: os.stat_result) -> bool:
        # ctime is left out on purpose: linking the file into history changes it.
        return (st.st_dev, st.st_ino, st.st_mtime_ns, st.st_size) == (
            self.dev, self.ino, self.mtime_ns, self.size)


class LocalBackend:
    """A :class:`~stackform.state.backend.StateBackend` storing files under ``root``."""

    name = "local"

    def __init__(self, root: Path, stack: str | None = None) -> None:
        self.root = Path(root)
        self.stack = stack
        self._mutex = threading.Lock()
        self._seen: dict[str, _Seen] = {}
        self._swept: set[str] = set()

    # -- paths -------------------------------------------------------------------------------

    def _check_env(self, env: str) -> None:
        check_stored_env_name(env, "local state", StateError)

    def _state_path(self, env: str) -> Path:
        self._check_env(env)
        return self.root / f"{env}.json"

    def _backup_path(self, env: str) -> Path:
        return self.root / f"{env}.json.backup"

    def _lock_path(self, env: str) -> Path:
        self._check_env(env)
        return self.root / f"{env}.lock"

    def _history_dir(self, env: str) -> Path:
        return self.root / "history" / env

    def describe(self, env: str) -> str:
        return str(self._state_path(env))

    # -- reading -----------------------------------------------------------------------------

    def read(self, env: str) -> State | None:
        path = self._state_path(env)
        with self._mutex, os_errors("read state", path, StateError):
            return self._load(env, path)

    def _load(self, env: str, path: Path) -> State | None:
        """The stored state, parsed only when the file changed since this instance saw it."""
        try:
            fd = os.open(path, os.O_RDONLY | os.O_CLOEXEC)
        except FileNotFoundError:
            self._seen.pop(env, None)
            return None
        try:
            # fstat and read the same open file so the cache key describes the bytes parsed.
            st = os.fstat(fd)
            seen = self._seen.get(env)
            if seen is not None and seen.matches(st):
                return seen.state
            data = fileio.read_all(fd)
        finally:
            os.close(fd)
        self._seen.pop(env, None)
        source = f"state file {path}"
        state = check_owner(State.loads(data, source=source), env, self.stack, source)
        self._seen[env] = _Seen(st.st_dev, st.st_ino, st.st_mtime_ns, st.st_size, state)
        return state

    # -- writing -----------------------------------------------------------------------------

    def write(self, env: str, state: State, prior: State | None, *,
              keep_prior: bool = True) -> None:
        path = self._state_path(env)
        check_writable(state, env, self.stack)
        with self._mutex, os_errors("write state", path, StateError), self._write_lock():
            stored = self._load(env, path)
            check_swap(env, stored, state, prior)
            self._sweep_temps(env)
            keep = (None if stored is None
                    else partial(self._keep_previous, env, path, stored, keep_prior))
            st = fileio.atomic_write(path, state.dumps().encode(), 0o600, before_replace=keep)
            self._seen[env] = _Seen(st.st_dev, st.st_ino, st.st_mtime_ns, st.st_size, state)
            if stored is not None and keep_prior:
                self._prune_history(env, state.lineage)

    def _keep_previous(self, env: str, path: Path, stored: State, keep_prior: bool = True
                       ) -> None:
        """Make the stored file the backup, and a history entry unless ``keep_prior`` is
        false (see :meth:`StateBackend.write`), before it is replaced."""
        fileio.link_or_copy(path, self._backup_path(env))
        if not keep_prior:
            return
        history = self._history_dir(env)
        history.mkdir(parents=True, exist_ok=True, mode=0o700)
        fileio.link_or_copy(path, history / version_name(stored.serial, stored.lineage))
        fileio.fsync_dir(history)

    def _prune_history(self, env: str, lineage: str) -> None:
        for name in self._history_names(env, lineage)[HISTORY_KEEP:]:
            with suppress(FileNotFoundError):
                os.unlink(self._history_dir(env) / name)

    def _history_names(self, env: str, lineage: str | None) -> list[str]:
        """History file names, newest first: the current lineage by serial, then other
        lineages by age (a destroyed and re-created environment restarts its serials)."""
        directory = self._history_dir(env)
        try:
            names = os.listdir(directory)
        except FileNotFoundError:
            return []
        token = lineage_token(lineage) if lineage is not None else None
        current: list[tuple[int, str]] = []
        other: list[tuple[int, str]] = []
        for name in names:
            m = _HISTORY_NAME.match(name)
            if not m:
                continue
            if m.group(2) == token:
                current.append((int(m.group(1)), name))
            else:
                with suppress(FileNotFoundError):
                    other.append((os.stat(directory / name).st_mtime_ns, name))
        return ([n for _, n in sorted(current, reverse=True)]
                + [n for _, n in sorted(other, reverse=True)])

    @contextmanager
    def _write_lock(self) -> Iterator[None]:
        """Serialize the check-and-replace of a write with writers in other processes.

        This is not the environment lock (a command holds that for its whole run, and this
        process may hold it through another descriptor); it only makes compare-and-swap atomic
        for writers that do not take the environment lock, like a ``state push``.
        """
        self.root.mkdir(parents=True, exist_ok=True, mode=0o700)
        fd = os.open(self.root / ".write.lock", os.O_RDWR | os.O_CREAT | os.O_CLOEXEC, 0o600)
        try:
            fcntl.flock(fd, fcntl.LOCK_EX)
            yield
        finally:
            os.close(fd)  # closing the only descriptor releases the flock

    def _sweep_temps(self, env: str) -> None:
        if env in self._swept:
            return
        self._swept.add(env)
        cutoff = time.time() - _TEMP_MAX_AGE
        for tmp in self.root.glob(f".{env}.json.*.tmp"):
            with suppress(OSError):
                if tmp.stat().st_mtime < cutoff:
                    tmp.unlink()

    def set_aside(self, env: str) -> str | None:
        path = self._state_path(env)
        with self._mutex, os_errors("set aside state", path, StateError), self._write_lock():
            try:
                if self._load(env, path) is None:
                    return None
            except CorruptStateError:
                pass
            else:
                raise StateError(f"the state in {path} is readable: nothing to set aside",
                                 hint="a good state is replaced by `state push` or "
                                 "`state rollback` as a new serial, never set aside")
            history = self._history_dir(env)
            history.mkdir(parents=True, exist_ok=True, mode=0o700)
            stamp = time.strftime("%Y%m%dT%H%M%SZ", time.gmtime())
            kept = history / aside_name(stamp, uuid.uuid4().hex[:8])
            os.replace(path, kept)
            fileio.fsync_dir(history)
            fileio.fsync_dir(self.root)
            self._seen.pop(env, None)
            return str(kept)

    def delete(self, env: str) -> None:
        path = self._state_path(env)
        with self._mutex, os_errors("delete state", path, StateError), self._write_lock():
            # A corrupt document is not moved over the backup: that may be the only good copy.
            stored = self._load(env, path)
            if stored is None:
                return
            self._keep_previous(env, path, stored)
            os.unlink(path)
            fileio.fsync_dir(self.root)
            self._seen.pop(env, None)

    def purge(self, env: str) -> None:
        traces = [self._state_path(env), self._backup_path(env), self._lock_path(env),
                  *self.root.glob(f".{env}.json.*.tmp")]
        history = self._history_dir(env)
        if not history.exists() and not any(p.exists() for p in traces):
            return
        # The lock file goes while held: a purged environment has no lock to keep.
        with self.lock(env, "purge"), self._mutex, self._write_lock(), \
                os_errors("purge state", self.root / env, StateError):
            shutil.rmtree(history, ignore_errors=True)
            for path in traces:
                with suppress(FileNotFoundError):
                    path.unlink()
            fileio.fsync_dir(self.root)
            self._seen.pop(env, None)

    # -- listing and history -----------------------------------------------------------------

    def environments(self) -> list[str]:
        try:
            names = os.listdir(self.root)
        except FileNotFoundError:
            return []
        except OSError as exc:
            raise os_error("list", self.root, exc, StateError) from exc
        return sorted(n[: -len(".json")] for n in names
                      if n.endswith(".json") and is_stored_env_name(n[: -len(".json")]))

    def history(self, env: str) -> list[StateVersion]:
        """Kept versions newest first: the current one, then up to ``HISTORY_KEEP`` previous."""
        out: list[StateVersion] = []
        current = current_or_none(self, env)
        if current is not None:
            out.append(StateVersion(current.serial, current.lineage, current.updated_at,
                                    version_name(current.serial, current.lineage)))
        directory = self._history_dir(env)
        for name in self._history_names(env, current.lineage if current else None):
            if out and name == out[0].ref:
                continue  # the current file itself, left there by an interrupted delete
            serial = int(name.split("-", 1)[0])
            lineage, updated_at = _peek(directory / name)
            out.append(StateVersion(serial, lineage, updated_at, name))
        return out

    def read_version(self, env: str, version: StateVersion) -> State:
        if not _HISTORY_NAME.match(version.ref):
            raise StateError(f"{version.ref!r} is not a state version of the local backend")
        path = self._history_dir(env) / version.ref
        try:
            data = path.read_bytes()
        except FileNotFoundError:
            # The current version is not in the history folder until the next write.
            current = self.read(env)
            if current is None or (current.serial, current.lineage) != (version.serial,
                                                                        version.lineage):
                raise StateError(
                    f"version {version.serial} of the {env!r} state (lineage "
                    f"{version.lineage}) is no longer kept",
                    hint=f"the local backend keeps the last {HISTORY_KEEP} versions; "
                    "list them again",
                ) from None
            return current
        except OSError as exc:
            raise os_error("read", path, exc, StateError) from exc
        source = f"state version {path}"
        state = check_owner(State.loads(data, source=source), env, self.stack, source)
        if (state.serial, state.lineage) != (version.serial, version.lineage):
            raise CorruptStateError(
                f"state version {path} holds serial {state.serial} of lineage {state.lineage}, "
                f"not the version its name says",
                hint="it was edited or moved by hand; pick another version",
            )
        return state

    # -- locking -----------------------------------------------------------------------------

    @contextmanager
    def lock(self, env: str, operation: str, timeout: float = 0.0) -> Iterator[LockInfo]:
        path = self._lock_path(env)
        info = LockInfo(operation=operation)
        with os_errors("lock", path, StateError):
            self.root.mkdir(parents=True, exist_ok=True, mode=0o700)
            fd = self._acquire(env, path, timeout)
            try:
                fileio.write_holder(fd, info)
            except BaseException:
                fileio.release(fd)
                raise
        try:
            yield info  # errors of the caller's block pass through untouched
        finally:
            with os_errors("unlock", path, StateError):
                fileio.release(fd)

    def _acquire(self, env: str, path: Path, timeout: float) -> int:
        return fileio.acquire_flock(path, timeout,
                                    lambda holder: locked_error(env, holder, timeout))

    def lock_info(self, env: str) -> LockInfo | None:
        path = self._lock_path(env)
        with os_errors("read the lock", path, StateError):
            if not self._flock_held(path):
                return None
            # The holder writes its record right after taking the flock; give it a moment.
            deadline = time.monotonic() + fileio.LOCK_GRACE
            while True:
                holder = fileio.read_holder(path)
                if holder is not None or time.monotonic() >= deadline:
                    return holder if holder is not None else fileio.unknown_holder()
                time.sleep(0.01)

    def recorded_lock(self, env: str) -> LockInfo | None:
        """The holder record in the lock file, whether or not its flock is still held.

        A record whose flock is free was left by a process that died while holding the lock.
        """
        return fileio.read_holder(self._lock_path(env))

    def _flock_held(self, path: Path) -> bool:
        return fileio.flock_held(path)

    def force_unlock(self, env: str, lock_id: str) -> None:
        path = self._lock_path(env)
        with os_errors("unlock", path, StateError):
            recorded = fileio.read_holder(path)
            if recorded is None:
                raise StateError(
                    f"environment {env!r} has no lock to remove",
                    hint="nothing to do: the environment is not locked",
                )
            if recorded.id != lock_id:
                raise StateError(
                    f"lock id {lock_id!r} does not match the lock of {env!r}: "
                    f"{recorded.describe()}",
                    hint="pass the id of the lock you mean to remove",
                )
            fd = os.open(path, os.O_RDWR | os.O_CLOEXEC)
            try:
                try:
                    fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
                except BlockingIOError:
                    raise _held_error(env, recorded) from None
                try:
                    # Between reading and locking the lock may have changed hands.
                    if fileio.read_holder(path) == recorded:
                        os.ftruncate(fd, 0)
                finally:
                    fcntl.flock(fd, fcntl.LOCK_UN)
            finally:
                os.close(fd)


# -- helpers ---------------------------------------------------------------------------------


def _peek(path: Path) -> tuple[str, str]:
    """Lineage and time of a kept version without validating all of it ("" when unreadable)."""
    try:
        data = json.loads(path.read_bytes())
    except (OSError, ValueError):
        return "", ""
    if not isinstance(data, dict):
        return "", ""
    lineage, updated_at = data.get("lineage"), data.get("updated_at")
    return (lineage if isinstance(lineage, str) else "",
            updated_at if isinstance(updated_at, str) else "")


def _held_error(env: str, holder: LockInfo) -> StateLockedError:
    here = holder.host == fileio.hostname()
    if here and fileio.pid_alive(holder.pid):
        why = f"process {holder.pid} on this host is alive and still holds it"
    else:
        why = "a live process still holds it"
    return StateLockedError(
        f"refusing to force-unlock {env!r}: {why} ({holder.describe()})",
        hint="force-unlock is for a lock left by a process that is gone; wait for this one "
        "or stop it",
    )
