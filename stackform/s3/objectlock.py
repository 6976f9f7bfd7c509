"""A lock that is an S3 object: created with ``IfNoneMatch='*'``, removed with ``IfMatch``.

Exactly one ``put`` of a missing key succeeds, so whoever creates the object holds the lock; its
body is the holder's :class:`~stackform.state.backend.LockInfo` (who, where, doing what, since
when). Releasing deletes it only if it is still the object this holder wrote.

A holder that dies leaves its object behind. Two ways out, chosen per lock:

- ``lease``: the holder rewrites its object every ``lease / 3`` seconds; an object older than
  ``lease`` by the server's own clock (its ``Last-Modified`` against the response's ``Date``) is
  abandoned and may be taken over. The run lock uses this: a worker killed by the orchestrator
  must not block the next scheduled run for ever.
- ``break_dead_local``: a holder on this very host whose process is gone is abandoned too.

Without either (the state lock), only ``stackform force-unlock ID`` removes a stale lock, as in
Terraform: a person decides that an interrupted apply is over.
"""

from __future__ import annotations

import json
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager, suppress
from dataclasses import dataclass

from stackform.fileio import hostname, pid_alive
from stackform.s3.client import PreconditionFailed, S3Object, S3Objects
from stackform.state.backend import LockInfo

LockedError = Callable[[LockInfo | None, float], Exception]
"""Makes the error for a lock that stays held: (holder, seconds waited) -> exception."""


@dataclass(frozen=True)
class Holder:
    info: LockInfo | None
    """``None`` when the object is not a readable lock record."""
    etag: str
    age: float | None


class ObjectLock:
    """The lock at ``key`` in ``objects``."""

    def __init__(self, objects: S3Objects, key: str, locked: LockedError, *,
                 lease: float | None = None, break_dead_local: bool = False) -> None:
        self.objects = objects
        self.key = key
        self._locked = locked
        self.lease = lease
        self.break_dead_local = break_dead_local

    @contextmanager
    def hold(self, info: LockInfo, timeout: float = 0.0) -> Iterator[LockInfo]:
        etag = self.acquire(info, timeout)
        heartbeat = _Heartbeat(self, info, etag) if self.lease else None
        try:
            yield info
        finally:
            if heartbeat is not None:
                etag = heartbeat.stop()
            self.release(etag)

    def acquire(self, info: LockInfo, timeout: float) -> str:
        body = info.dumps().encode()
        start = time.monotonic()
        delay = 0.05
        while True:
            try:
                return self.objects.put(self.key, body, if_none_match=True).etag
            except PreconditionFailed:
                pass
            holder = self.holder()
            if holder is None:
                continue  # released between our put and our read
            if self.abandoned(holder):
                self._take_over(holder)
                continue
            waited = time.monotonic() - start
            if waited >= timeout:
                raise self._locked(holder.info, timeout)
            time.sleep(min(delay, max(timeout - waited, 0.0)))
            delay = min(delay * 1.5, 1.0)

    def release(self, etag: str) -> None:
        # Taken over (or force-unlocked) meanwhile: then it is no longer ours to remove.
        with suppress(PreconditionFailed):
            self.objects.delete(self.key, if_match=etag)

    def holder(self) -> Holder | None:
        got = self.objects.get(self.key)
        if not isinstance(got, S3Object):
            return None
        return Holder(_parse(got.data), got.etag, got.age)

    def abandoned(self, holder: Holder) -> bool:
        """Whether the holder is known to be gone (see the module's docstring)."""
        if self.lease is not None and holder.age is not None and holder.age > self.lease:
            return True
        info = holder.info
        return (self.break_dead_local and info is not None and info.host == hostname()
                and not pid_alive(info.pid))

    def remove(self, holder: Holder) -> None:
        """Delete the lock if it is still ``holder``'s (force-unlock); PreconditionFailed if not."""
        self.objects.delete(self.key, if_match=holder.etag)

    def _take_over(self, holder: Holder) -> None:
        # Someone else may take it over first; the next put decides.
        with suppress(PreconditionFailed):
            self.objects.delete(self.key, if_match=holder.etag)


class _Heartbeat:
    """Rewrites the lock object while it is held, so its lease never runs out."""

    def __init__(self, lock: ObjectLock, info: LockInfo, etag: str) -> None:
        self._lock = lock
        self._body = info.dumps().encode()
        self.etag = etag
        self._stop = threading.Event()
        self._mutex = threading.Lock()
        assert lock.lease is not None
        self._every = lock.lease / 3
        self._thread = threading.Thread(target=self._run, name="lock-heartbeat", daemon=True)
        self._thread.start()

    def _run(self) -> None:
        while not self._stop.wait(self._every):
            try:
                renewed = self._lock.objects.put(self._lock.key, self._body, if_match=self.etag)
            except PreconditionFailed:
                return  # taken over: stop renewing; release will not delete the new holder's
            except Exception:
                continue  # a network blip: the lease allows a couple of misses
            with self._mutex:
                self.etag = renewed.etag

    def stop(self) -> str:
        self._stop.set()
        self._thread.join()
        with self._mutex:
            return self.etag


def _parse(data: bytes) -> LockInfo | None:
    try:
        parsed = json.loads(data)
        return LockInfo.from_json(parsed) if isinstance(parsed, dict) else None
    except (ValueError, TypeError):
        return None
