"""Run state in files beside the stack: bookmarks, run history, logs and the run lock.

Layout under ``root`` (``<stack dir>/.stackform/runs``)::

    <env>/bookmarks/<key>.json                      one bookmark (0600), ``<pipeline>.<extractor>``
    <env>/bookmarks/.cleared/<key>.<time>.json      a cleared bookmark, kept to undo by hand
    <env>/history/<run_id>.json                     one run record (0600)
    <env>/logs/<run_id>.log                         the run's log (0600)
    <env>/locks/<pipeline>.lock                     flock target; holds the holder's LockInfo

Every file is written atomically (temp file in the same folder, fsync, rename, fsync the
folder), so a crash leaves the old or the new version, never a torn one. ``put_bookmark`` is
called after every Singer STATE message a target emits: it is one small atomic write.

A run record is written with status ``running`` when the run starts and rewritten when it
finishes. A ``running`` record whose run lock is no longer held by that run is listed as
``interrupted``: the process running it died (the kernel dropped its flock).
"""

from __future__ import annotations

import json
import os
import shutil
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager, suppress
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from stackform.envnames import check_stored_env_name
from stackform.errors import StackformError, os_error
from stackform.fileio import (
    acquire_flock,
    atomic_write,
    flock_held,
    fsync_dir,
    hostname,
    read_holder,
    release,
    sweep_temps,
    write_holder,
)
from stackform.runs.common import (
    KEY,
    LOCK_ID_FIELD,
    PIPELINE_NAME,
    RUN_ID,
    STARTED_NS_FIELD,
    check_name,
    dump_bookmark,
    interrupted,
    locked_error,
    parse_bookmark,
    timestamp,
)
from stackform.runs.model import Bookmark, RunRecord
from stackform.state.backend import LockInfo

_CLEARED = ".cleared"


class LocalRunStore:
    """A :class:`~stackform.runs.store.RunStore` storing files under ``root``."""

    name = "local"

    def __init__(self, root: Path) -> None:
        self.root = Path(root)
        self._made: set[Path] = set()
        self._swept: set[Path] = set()
        self._mutex = threading.Lock()

    # -- paths -------------------------------------------------------------------------------

    def _env_dir(self, env: str) -> Path:
        check_stored_env_name(env, "run state")
        return self.root / env

    def _bookmark_path(self, env: str, key: str) -> Path:
        check_name(key, KEY, "bookmark key",
               "a key is <pipeline>.<extractor>, made of letters, digits, '_' and '-'")
        return self._env_dir(env) / "bookmarks" / f"{key}.json"

    def _run_path(self, env: str, run_id: str) -> Path:
        check_name(run_id, RUN_ID, "run id", "use letters, digits, '_', '-', '.' or ':'")
        return self._env_dir(env) / "history" / f"{run_id}.json"

    def _lock_path(self, env: str, pipeline: str) -> Path:
        check_name(pipeline, PIPELINE_NAME, "pipeline name",
               "use letters, digits, '-' and '_', starting with a letter")
        return self._env_dir(env) / "locks" / f"{pipeline}.lock"

    def _mkdir(self, directory: Path) -> None:
        if directory in self._made:
            return
        directory.mkdir(parents=True, exist_ok=True, mode=0o700)
        with self._mutex:
            self._made.add(directory)

    def _sweep(self, directory: Path) -> None:
        """Remove temp files left by a killed writer, once per folder and instance."""
        if directory in self._swept:
            return
        with self._mutex:
            self._swept.add(directory)
        sweep_temps(directory)

    def describe(self, env: str) -> str:
        return str(self._env_dir(env))

    # -- bookmarks ---------------------------------------------------------------------------

    def get_bookmark(self, env: str, key: str) -> Bookmark | None:
        path = self._bookmark_path(env, key)
        try:
            data = path.read_bytes()
        except FileNotFoundError:
            return None
        except OSError as exc:
            raise os_error("read", path, exc) from exc
        return parse_bookmark(data, str(path))

    def put_bookmark(self, env: str, bookmark: Bookmark) -> None:
        path = self._bookmark_path(env, bookmark.key)
        data = dump_bookmark(bookmark)
        try:
            self._mkdir(path.parent)
            self._sweep(path.parent)
            atomic_write(path, data)
        except OSError as exc:
            raise os_error("write", path, exc) from exc

    def clear_bookmark(self, env: str, key: str) -> bool:
        path = self._bookmark_path(env, key)
        kept = path.parent / _CLEARED
        try:
            if not path.exists():
                return False
            self._mkdir(kept)
            stamp = datetime.now(UTC).strftime("%Y%m%dT%H%M%S.%fZ")
            target = kept / f"{key}.{stamp}.json"
            n = 1
            while target.exists():
                n += 1
                target = kept / f"{key}.{stamp}-{n}.json"
            try:
                os.rename(path, target)
            except FileNotFoundError:
                return False  # cleared by someone else meanwhile
            fsync_dir(kept)
            fsync_dir(path.parent)
        except OSError as exc:
            raise os_error("clear", path, exc) from exc
        return True

    def bookmarks(self, env: str, prefix: str | None = None) -> list[Bookmark]:
        directory = self._env_dir(env) / "bookmarks"
        try:
            names = sorted(os.listdir(directory))
        except FileNotFoundError:
            return []
        except OSError as exc:
            raise os_error("list", directory, exc) from exc
        out: list[Bookmark] = []
        for name in names:
            if not name.endswith(".json") or name.startswith("."):
                continue
            key = name[: -len(".json")]
            if not KEY.match(key) or (prefix is not None and not key.startswith(prefix)):
                continue
            bookmark = self.get_bookmark(env, key)
            if bookmark is not None:
                out.append(bookmark)
        return out

    # -- the run lock ------------------------------------------------------------------------

    @contextmanager
    def run_lock(self, env: str, pipeline: str, timeout: float = 0.0,
                 operation: str | None = None) -> Iterator[LockInfo]:
        """Hold ``pipeline``'s run lock in ``env``; ``operation`` is told to whoever waits."""
        path = self._lock_path(env, pipeline)
        info = LockInfo(operation=operation or f"run {pipeline}")
        try:
            self._mkdir(path.parent)
            fd = acquire_flock(path, timeout,
                               lambda holder: locked_error(env, pipeline, holder, timeout))
            try:
                write_holder(fd, info)
            except BaseException:
                release(fd)
                raise
        except OSError as exc:
            raise os_error("lock", path, exc) from exc
        try:
            yield info
        finally:
            try:
                release(fd)
            except OSError as exc:
                raise os_error("unlock", path, exc) from exc

    # -- run records -------------------------------------------------------------------------

    def start_run(self, record: RunRecord) -> None:
        path = self._run_path(record.env, record.run_id)
        extra: dict[str, Any] = {STARTED_NS_FIELD: time.time_ns()}
        lock_id = self._own_lock_id(record.env, record.pipeline)
        if lock_id is not None:
            extra[LOCK_ID_FIELD] = lock_id
        self._write_run(path, record, extra)

    def finish_run(self, record: RunRecord) -> None:
        path = self._run_path(record.env, record.run_id)
        extra: dict[str, Any] = {}
        with suppress(OSError, ValueError):
            stored = json.loads(path.read_bytes())
            if isinstance(stored, dict):
                extra = {k: stored[k] for k in (STARTED_NS_FIELD, LOCK_ID_FIELD) if k in stored}
        self._write_run(path, record, extra)

    def _write_run(self, path: Path, record: RunRecord, extra: dict[str, Any]) -> None:
        data = json.dumps({**record.to_json(), **extra}, indent=2).encode()
        try:
            self._mkdir(path.parent)
            self._sweep(path.parent)
            atomic_write(path, data)
        except OSError as exc:
            raise os_error("write", path, exc) from exc

    def _own_lock_id(self, env: str, pipeline: str) -> str | None:
        """The id of the pipeline's run lock when this process holds it."""
        try:
            path = self._lock_path(env, pipeline)
        except StackformError:
            return None
        holder = read_holder(path)
        if holder is not None and holder.pid == os.getpid() and holder.host == hostname():
            return holder.id
        return None

    def runs(self, env: str, pipeline: str | None = None, limit: int = 20) -> list[RunRecord]:
        directory = self._env_dir(env) / "history"
        try:
            names = os.listdir(directory)
        except FileNotFoundError:
            return []
        except OSError as exc:
            raise os_error("list", directory, exc) from exc
        found: list[tuple[float, int, RunRecord, str | None]] = []
        for name in names:
            if name.startswith(".") or not name.endswith(".json"):
                continue
            path = directory / name
            try:
                data = json.loads(path.read_bytes())
                record = RunRecord.from_json(data)
            except FileNotFoundError:
                continue
            except (OSError, ValueError, TypeError) as exc:
                raise StackformError(
                    f"run record {path} is unreadable: {exc}",
                    hint="move it aside or delete it; it only affects `stackform runs`",
                ) from exc
            if pipeline is not None and record.pipeline != pipeline:
                continue
            started_ns = data.get(STARTED_NS_FIELD)
            lock_id = data.get(LOCK_ID_FIELD)
            found.append((timestamp(record.started_at),
                          started_ns if isinstance(started_ns, int) else 0,
                          record, lock_id if isinstance(lock_id, str) else None))
        found.sort(key=lambda f: (f[0], f[1]), reverse=True)
        return [self._live_status(env, record, lock_id)
                for _, _, record, lock_id in found[: max(limit, 0)]]

    def _live_status(self, env: str, record: RunRecord, lock_id: str | None) -> RunRecord:
        """``interrupted`` for a ``running`` record whose run no longer holds the run lock."""
        if record.status != "running":
            return record
        try:
            path = self._lock_path(env, record.pipeline)
        except StackformError:
            return record
        if flock_held(path):
            if lock_id is None:
                return record  # started without the lock recorded: the lock being held will do
            holder = read_holder(path)
            if holder is None or holder.id == lock_id:
                return record
        return interrupted(record)

    def forget(self, env: str) -> str | None:
        folder = self._env_dir(env)
        if not folder.exists():
            return None
        try:
            shutil.rmtree(folder)
        except OSError as exc:
            raise os_error("remove", folder, exc) from exc
        with self._mutex:  # its folders are gone: a later run makes them again
            self._made = {d for d in self._made if not d.is_relative_to(folder)}
            self._swept = {d for d in self._swept if not d.is_relative_to(folder)}
        return str(folder)

    # -- logs --------------------------------------------------------------------------------

    def log_path(self, env: str, run_id: str) -> Path:
        check_name(run_id, RUN_ID, "run id", "use letters, digits, '_', '-', '.' or ':'")
        path = self._env_dir(env) / "logs" / f"{run_id}.log"
        try:
            self._mkdir(path.parent)
            fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_APPEND | os.O_CLOEXEC, 0o600)
            try:
                os.fchmod(fd, 0o600)
            finally:
                os.close(fd)
        except OSError as exc:
            raise os_error("create", path, exc) from exc
        return path
