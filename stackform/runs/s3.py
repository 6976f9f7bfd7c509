"""Run state in the same bucket as the state, under its own keys, so runs never wait on applies.

Keys under the configured prefix::

    runs/<env>/bookmarks/<key>.json                       one bookmark
    runs/<env>/bookmarks-cleared/<key>.<time>.json        a cleared bookmark, kept to undo
    runs/<env>/history/<pipeline>/<order>~<run_id>.json   one run record
    runs/<env>/logs/<run_id>.log                          the run's log, uploaded when it ends
    runs/<env>/locks/<pipeline>.lock                      the run lock (a lease, see below)

``<order>`` is the start instant and a nanosecond tie-break, zero-padded, so listing the keys
orders the runs without reading them: ``stackform runs`` reads only the records it shows.

The run lock is an object lock with a lease (:mod:`stackform.s3.objectlock`): the run rewrites
it every ``lease / 3`` seconds, and one left by a killed worker is taken over once it is older
than ``lease``, or at once when its holder was on this host and is gone. A log is written to a
local file while the run goes (``log_path``) and uploaded when it ends; on another machine
``log_path`` downloads it.
"""

from __future__ import annotations

import json
import os
import shutil
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager, suppress
from dataclasses import replace
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from stackform.envnames import check_stored_env_name
from stackform.errors import StackformError
from stackform.fileio import atomic_write
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
from stackform.s3.client import PreconditionFailed, S3Object, S3Objects, in_parallel
from stackform.s3.objectlock import Holder, ObjectLock
from stackform.s3.settings import S3Settings
from stackform.state.backend import LockInfo

RUN_LOCK_LEASE = 90.0
"""Seconds after which a run lock nobody renewed is abandoned (the holder renews every 30 s)."""


class S3RunStore:
    """A :class:`~stackform.runs.store.RunStore` keeping run state in S3; logs are staged in
    ``cache_dir`` on the machine that runs."""

    name = "s3"

    def __init__(self, settings: S3Settings, cache_dir: Path, objects: S3Objects | None = None,
                 lease: float = RUN_LOCK_LEASE) -> None:
        self.settings = settings
        self.objects = objects or S3Objects(settings)
        self.cache_dir = Path(cache_dir)
        self.lease = lease
        self._record_keys: dict[tuple[str, str], str] = {}
        self._held: dict[tuple[str, str], str] = {}
        self._mutex = threading.Lock()

    # -- keys --------------------------------------------------------------------------------

    def _env_key(self, env: str, *parts: str) -> str:
        check_stored_env_name(env, "run state")
        return self.settings.key("runs", env, *parts)

    def _bookmark_key(self, env: str, key: str) -> str:
        check_name(key, KEY, "bookmark key",
                   "a key is <pipeline>.<extractor>, made of letters, digits, '_' and '-'")
        return self._env_key(env, "bookmarks", f"{key}.json")

    def _pipeline(self, pipeline: str) -> str:
        check_name(pipeline, PIPELINE_NAME, "pipeline name",
                   "use letters, digits, '-' and '_', starting with a letter")
        return pipeline

    def describe(self, env: str) -> str:
        return self.objects.url(self._env_key(env)) + "/"

    # -- bookmarks ---------------------------------------------------------------------------

    def get_bookmark(self, env: str, key: str) -> Bookmark | None:
        object_key = self._bookmark_key(env, key)
        got = self.objects.get(object_key)
        if not isinstance(got, S3Object):
            return None
        return parse_bookmark(got.data, self.objects.url(object_key))

    def put_bookmark(self, env: str, bookmark: Bookmark) -> None:
        # One PUT: S3 replaces an object atomically, a reader sees the old or the new one.
        self.objects.put(self._bookmark_key(env, bookmark.key), dump_bookmark(bookmark))

    def clear_bookmark(self, env: str, key: str) -> bool:
        object_key = self._bookmark_key(env, key)
        got = self.objects.get(object_key)
        if not isinstance(got, S3Object):
            return False
        stamp = datetime.now(UTC).strftime("%Y%m%dT%H%M%S.%fZ")
        self.objects.put(self._env_key(env, "bookmarks-cleared", f"{key}.{stamp}.json"),
                         got.data)
        try:
            self.objects.delete(object_key, if_match=got.etag)
        except PreconditionFailed:
            return False  # cleared, or moved on by a run, meanwhile
        return True

    def bookmarks(self, env: str, prefix: str | None = None) -> list[Bookmark]:
        folder = self._env_key(env, "bookmarks") + "/"
        keys = []
        for item in self.objects.listing(folder, delimiter="/"):
            name = item.key[len(folder):]
            if not name.endswith(".json"):
                continue
            key = name[: -len(".json")]
            if KEY.match(key) and (prefix is None or key.startswith(prefix)):
                keys.append(key)
        found = in_parallel(lambda k: self.get_bookmark(env, k), sorted(keys))
        return [b for b in found if b is not None]

    # -- the run lock ------------------------------------------------------------------------

    def _lock(self, env: str, pipeline: str, timeout: float = 0.0) -> ObjectLock:
        key = self._env_key(env, "locks", f"{self._pipeline(pipeline)}.lock")
        return ObjectLock(self.objects, key,
                          lambda holder, _: locked_error(env, pipeline, holder, timeout),
                          lease=self.lease, break_dead_local=True)

    @contextmanager
    def run_lock(self, env: str, pipeline: str, timeout: float = 0.0,
                 operation: str | None = None) -> Iterator[LockInfo]:
        info = LockInfo(operation=operation or f"run {pipeline}")
        with self._lock(env, pipeline, timeout).hold(info, timeout):
            with self._mutex:
                self._held[(env, pipeline)] = info.id
            try:
                yield info
            finally:
                with self._mutex:
                    self._held.pop((env, pipeline), None)

    # -- run records -------------------------------------------------------------------------

    def start_run(self, record: RunRecord) -> None:
        check_name(record.run_id, RUN_ID, "run id", "use letters, digits, '_', '-', '.' or ':'")
        started_ns = time.time_ns()
        order = f"{max(int(timestamp(record.started_at) * 1e6), 0):017d}.{started_ns:020d}"
        key = self._env_key(record.env, "history", self._pipeline(record.pipeline),
                            f"{order}~{record.run_id}.json")
        extra: dict[str, Any] = {STARTED_NS_FIELD: started_ns}
        with self._mutex:
            lock_id = self._held.get((record.env, record.pipeline))
            self._record_keys[(record.env, record.run_id)] = key
        if lock_id is not None:
            extra[LOCK_ID_FIELD] = lock_id
        self._put_record(key, record, extra)

    def finish_run(self, record: RunRecord) -> None:
        key = self._find_record(record)
        got = self.objects.get(key)
        extra: dict[str, Any] = {}
        if isinstance(got, S3Object):
            try:
                stored = json.loads(got.data)
            except ValueError:
                stored = None
            if isinstance(stored, dict):
                extra = {k: stored[k] for k in (STARTED_NS_FIELD, LOCK_ID_FIELD) if k in stored}
        log = self._local_log(record.env, record.run_id)
        if log.exists() and log.stat().st_size:
            log_key = self._env_key(record.env, "logs", f"{record.run_id}.log")
            self.objects.put(log_key, log.read_bytes(), content_type="text/plain")
            record = replace(record, log=self.objects.url(log_key))
        self._put_record(key, record, extra)

    def _find_record(self, record: RunRecord) -> str:
        with self._mutex:
            key = self._record_keys.get((record.env, record.run_id))
        if key is not None:
            return key
        folder = self._env_key(record.env, "history", self._pipeline(record.pipeline)) + "/"
        for item in self.objects.listing(folder):
            if item.key.endswith(f"~{record.run_id}.json"):
                return item.key
        raise StackformError(f"run {record.run_id} of {record.pipeline!r} in {record.env!r} "
                             "was never started in this run store")

    def _put_record(self, key: str, record: RunRecord, extra: dict[str, Any]) -> None:
        self.objects.put(key, json.dumps({**record.to_json(), **extra}, indent=2).encode())

    def runs(self, env: str, pipeline: str | None = None, limit: int = 20) -> list[RunRecord]:
        folder = self._env_key(env, "history") + "/"
        if pipeline is not None:
            folder += self._pipeline(pipeline) + "/"
        ordered: list[tuple[str, str]] = []
        for item in self.objects.listing(folder):
            name = item.key.rsplit("/", 1)[-1]
            if "~" in name and name.endswith(".json"):
                ordered.append((name.split("~", 1)[0], item.key))
        ordered.sort(reverse=True)
        keys = [key for _, key in ordered[: max(limit, 0)]]
        loaded = in_parallel(self._load_record, keys)
        holders: dict[str, Holder | None] = {}
        out = []
        for record, lock_id in (r for r in loaded if r is not None):
            if record.status == "running":
                if record.pipeline not in holders:
                    holders[record.pipeline] = self._lock(env, record.pipeline).holder()
                record = self._live_status(env, record, lock_id, holders[record.pipeline])
            out.append(record)
        return out

    def _load_record(self, key: str) -> tuple[RunRecord, str | None] | None:
        got = self.objects.get(key)
        if not isinstance(got, S3Object):
            return None  # removed while listing
        try:
            data = json.loads(got.data)
            record = RunRecord.from_json(data)
        except (ValueError, TypeError) as exc:
            raise StackformError(
                f"run record {self.objects.url(key)} is unreadable: {exc}",
                hint="delete it; it only affects `stackform runs`",
            ) from exc
        lock_id = data.get(LOCK_ID_FIELD)
        return record, lock_id if isinstance(lock_id, str) else None

    def _live_status(self, env: str, record: RunRecord, lock_id: str | None,
                     holder: Holder | None) -> RunRecord:
        """``interrupted`` for a ``running`` record whose run no longer holds the run lock."""
        alive = holder is not None and not self._lock(env, record.pipeline).abandoned(holder)
        if alive and (lock_id is None or holder is None or holder.info is None
                      or holder.info.id == lock_id):
            return record
        return interrupted(record)

    def forget(self, env: str) -> str | None:
        folder = self._env_key(env) + "/"
        shutil.rmtree(self.cache_dir / env, ignore_errors=True)  # the local copies of its logs
        if not any(True for _ in self.objects.listing(folder)):
            return None
        self.objects.purge([], folder)  # in a versioned bucket, the old versions too
        return self.objects.url(folder)

    # -- logs --------------------------------------------------------------------------------

    def _local_log(self, env: str, run_id: str) -> Path:
        check_name(run_id, RUN_ID, "run id", "use letters, digits, '_', '-', '.' or ':'")
        check_stored_env_name(env, "run state")
        return self.cache_dir / env / "logs" / f"{run_id}.log"

    def log_path(self, env: str, run_id: str) -> Path:
        path = self._local_log(env, run_id)
        path.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
        if not path.exists():
            got = self.objects.get(self._env_key(env, "logs", f"{run_id}.log"))
            data = got.data if isinstance(got, S3Object) else b""
            with suppress(FileExistsError):  # another thread made it first: keep that one
                atomic_write(path, data, 0o600, exclusive=True)
        os.chmod(path, 0o600)
        return path
