"""Filesystem helpers shared by the local state backend, the local run-state store, the plugin
installs and the providers that write local files.

The one atomic writer (:func:`atomic_write`: temp file in the same folder, fsync, rename, fsync
the folder) through which every file stackform keeps is written, and ``fcntl.flock``
locks whose file holds the holder's :class:`~stackform.state.backend.LockInfo`. The kernel drops
a flock when its holder dies, so a holder record whose flock is free is stale and blocks nobody;
an atomic write holds a flock on its temp file for the same reason, so the temp files a killed
writer left can be told from the ones being written (:func:`sweep_temps_of`).
"""

from __future__ import annotations

import errno
import fcntl
import json
import os
import socket
import stat
import threading
import time
import uuid
from collections.abc import Callable
from contextlib import suppress
from functools import cache
from pathlib import Path
from typing import Literal

from stackform.state.backend import LockInfo
from stackform.templistings import TempListings

_LINK_UNSUPPORTED = {errno.EPERM, errno.EXDEV, errno.EMLINK, errno.ENOTSUP, errno.EOPNOTSUPP}

LOCK_GRACE = 0.2
"""How long a failed lock attempt keeps retrying while the holder record is still unreadable:
the holder writes it right after taking the flock, and probes (``flock_held``) take it briefly."""


# -- reading and writing ---------------------------------------------------------------------


def read_all(fd: int) -> bytes:
    chunks = []
    while chunk := os.read(fd, 1 << 20):
        chunks.append(chunk)
    return b"".join(chunks)


def write_all(fd: int, data: bytes) -> None:
    view = memoryview(data)
    while view:
        view = view[os.write(fd, view):]


TAIL_BYTES = 256 * 1024
"""How much of the end of a file :func:`tail_lines` reads."""


def tail_lines(path: str | os.PathLike[str], lines: int) -> list[str]:
    """The last ``lines`` lines of a text file such as a run's log, from its last
    :data:`TAIL_BYTES`; undecodable bytes replaced. ``[]`` when there is no file; any other
    failure to read it raises :class:`OSError`."""
    try:
        with open(path, "rb") as f:
            f.seek(max(0, os.fstat(f.fileno()).st_size - TAIL_BYTES))
            data = f.read()
    except FileNotFoundError:
        return []
    return data.decode("utf-8", errors="replace").splitlines()[-lines:] if lines > 0 else []


def fsync_dir(path: Path) -> None:
    fd = os.open(path, os.O_RDONLY | os.O_DIRECTORY | os.O_CLOEXEC)
    try:
        os.fsync(fd)
    except OSError as exc:
        # Some filesystems cannot fsync a directory; the rename is then as durable as it gets.
        if exc.errno not in (errno.EINVAL, errno.ENOTSUP, errno.EOPNOTSUPP):
            raise
    finally:
        os.close(fd)


Sync = Literal["now", "deferred", "never"]
"""When :func:`atomic_write` makes a file durable."""


def atomic_write(path: Path, data: bytes, mode: int = 0o600, *,
                 before_replace: Callable[[], None] | None = None,
                 exclusive: bool = False, sync: Sync = "now") -> os.stat_result:
    """Replace ``path`` with ``data``: a reader or a crash sees the whole old or the whole new file.

    The one writer of every file stackform and its providers keep (state, saved plans, the lock
    file, plugin config, venv markers, run records, managed files...). The temp file is
    ``.<name>.<random>.tmp`` in the same folder (see :func:`sweep_temps` and
    :func:`sweep_temps_of`). It is created 0600 and given ``mode`` only once written and
    fsynced, so what it holds is never readable by others while it is being written, nor left
    readable when the writer is killed; it is flocked until renamed, so a sweeper can tell it is
    being written. The folder is fsynced after the rename.

    ``before_replace`` runs once the data is durable, just before the rename (the state backend
    keeps the previous version there). With ``exclusive`` the new file is linked in place
    instead, and :class:`FileExistsError` is raised when ``path`` already exists. Returns the
    status of the new file.

    ``sync`` says when the data reaches the disk: ``"now"`` (both fsyncs); ``"deferred"``, by the
    next :func:`sync_deferred`, which an apply calls before state records what was written; or
    ``"never"``, for a file that does not outlive its run (a plugin's config in a runtime
    folder, which a crash leaves to the sweep). Either way the file is replaced atomically: a
    reader, or a killed writer, sees the whole old or the whole new file.
    """
    written = _replace(path, data, mode, before_replace, exclusive, sync == "now")
    if sync == "deferred":
        with _deferred_lock:
            _deferred.add(path.parent)
    elif sync == "now":
        fsync_dir(path.parent)
    return written


def _replace(path: Path, data: bytes, mode: int, before_replace: Callable[[], None] | None,
             exclusive: bool, fsync: bool) -> os.stat_result:
    tmp = path.parent / f".{path.name}.{uuid.uuid4().hex}.tmp"
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_CLOEXEC, 0o600)
    try:
        try:
            fcntl.flock(fd, fcntl.LOCK_EX)  # ours alone: just created with O_EXCL
            write_all(fd, data)
            if fsync:
                os.fsync(fd)
            os.fchmod(fd, mode)  # only now; and exactly ``mode``, whatever the umask
            written = os.fstat(fd)
            if before_replace is not None:
                before_replace()
            if exclusive:
                os.link(tmp, path)
                os.unlink(tmp)
            else:
                os.replace(tmp, path)
        finally:
            os.close(fd)  # after the rename: a sweeper never sees it unlocked yet unrenamed
    except BaseException:
        with suppress(OSError):
            os.unlink(tmp)
        raise
    return written


_deferred: set[Path] = set()
"""Folders holding writes of :func:`atomic_write` not yet made durable (``sync="deferred"``)."""
_deferred_lock = threading.Lock()


def sync_deferred() -> None:
    """Make every write made with ``sync="deferred"`` so far durable: one ``syncfs`` per filesystem
    holding them (fsync of each file and folder cost more than the rest of writing a small
    file: thousands of disk flushes where one does)."""
    with _deferred_lock:
        folders = list(_deferred)
        _deferred.clear()
    by_device: dict[int, Path] = {}
    for folder in folders:
        with suppress(FileNotFoundError):  # removed since: nothing of it to keep
            by_device.setdefault(os.stat(folder).st_dev, folder)
    for folder in by_device.values():
        _syncfs(folder)


def _syncfs(folder: Path) -> None:
    fd = os.open(folder, os.O_RDONLY | os.O_DIRECTORY | os.O_CLOEXEC)
    try:
        syncfs = _libc_syncfs()
        if syncfs is None:
            os.sync()
        elif syncfs(fd) != 0:
            import ctypes

            code = ctypes.get_errno()
            raise OSError(code, os.strerror(code), str(folder))
    finally:
        os.close(fd)


@cache
def _libc_syncfs() -> Callable[[int], int] | None:
    """Linux's ``syncfs`` (the filesystem of one descriptor); ``None`` elsewhere."""
    import ctypes

    try:
        func: Callable[[int], int] = ctypes.CDLL(None, use_errno=True).syncfs
    except (OSError, AttributeError):
        return None
    return func


def link_or_copy(src: Path, dst: Path, mode: int = 0o600) -> None:
    """Atomically make ``dst`` a copy of ``src``: a hard link where the filesystem has them (no
    data copied), else an :func:`atomic_write` of its bytes. Leaves the folder's fsync to the
    caller, who usually links several files into it."""
    tmp = dst.parent / f".{dst.name}.{uuid.uuid4().hex}.tmp"
    try:
        os.link(src, tmp)
    except OSError as exc:
        if exc.errno not in _LINK_UNSUPPORTED:
            raise
        atomic_write(dst, src.read_bytes(), mode)
        return
    try:
        os.replace(tmp, dst)
    except BaseException:
        with suppress(OSError):
            os.unlink(tmp)
        raise


def sweep_temps(directory: Path, max_age: float = 3600.0) -> None:
    """Remove temp files of :func:`atomic_write` older than ``max_age`` (left by killed writers)."""
    cutoff = time.time() - max_age
    with suppress(FileNotFoundError):
        for entry in os.scandir(directory):
            if entry.name.startswith(".") and entry.name.endswith(".tmp"):
                with suppress(OSError):
                    if entry.stat(follow_symlinks=False).st_mtime < cutoff:
                        os.unlink(entry.path)


TEMP_GRACE = 2.0
"""A temp file younger than this may be one whose writer has not flocked it yet."""


def temps_of(path: Path) -> list[Path]:
    """The temp files :func:`atomic_write` made for ``path`` that are still beside it.

    Also those of the ``files`` provider's own writer before it used :func:`atomic_write`
    (``tempfile.mkstemp``: eight characters of ``[a-z0-9_]`` where the uuid is now).
    """
    names = _temp_listings.get(path.parent).get(path.name, ())
    return [path.parent / name for name in sorted(names)]


_temp_listings = TempListings(TEMP_GRACE)


def sweep_temps_of(path: Path) -> list[Path]:
    """Remove the temp files a killed :func:`atomic_write` of ``path`` left; return them.

    A temp file whose flock is free (its writer is gone: the kernel dropped the lock) is
    removed; one being written is flocked and stays, and so does one younger than
    :data:`TEMP_GRACE`. Only regular files are touched.
    """
    removed = []
    cutoff = time.time() - TEMP_GRACE
    for tmp in temps_of(path):
        try:
            fd = os.open(tmp, os.O_RDONLY | os.O_NOFOLLOW | os.O_NONBLOCK | os.O_CLOEXEC)
        except OSError:
            continue  # gone meanwhile, a symlink, or not ours to read
        try:
            st = os.fstat(fd)
            if not stat.S_ISREG(st.st_mode) or st.st_mtime > cutoff:
                continue
            try:
                fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
            except BlockingIOError:
                continue  # being written right now
            if same_file(fd, tmp):
                os.unlink(tmp)
                _temp_listings.forget(tmp)
                removed.append(tmp)
        except OSError:
            continue
        finally:
            os.close(fd)
    return removed


# -- flock with a holder record ----------------------------------------------------------------


def acquire_flock(path: Path, timeout: float,
                  locked: Callable[[LockInfo | None], Exception]) -> int:
    """Take an exclusive flock on ``path`` (created 0600), retrying up to ``timeout`` seconds.

    Returns the descriptor holding it (write the holder record with :func:`write_holder`, release
    with :func:`release`). When it stays held, raises ``locked(holder)``, ``holder`` being the
    record in the file (``None`` when there is none, or it names a process known to be gone).
    """
    start = time.monotonic()
    deadline = start + max(timeout, 0.0)
    delay = 0.02
    while True:
        fd = os.open(path, os.O_RDWR | os.O_CREAT | os.O_CLOEXEC, 0o600)
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            os.close(fd)
        else:
            if same_file(fd, path):
                return fd
            # The lock file was removed or replaced by hand while we waited: a lock on
            # the orphaned inode would exclude nobody, so take the one at the path.
            os.close(fd)
            continue
        now = time.monotonic()
        if now < deadline:
            time.sleep(min(delay, deadline - now))
            delay = min(delay * 1.5, 0.25)
            continue
        holder = read_holder(path)
        if holder is not None and not plausible(holder):
            holder = None  # a dead holder's record, about to be replaced by the new one
        if holder is not None or now >= start + LOCK_GRACE:
            raise locked(holder)
        time.sleep(0.01)


def write_holder(fd: int, info: LockInfo) -> None:
    """Record the holder in a lock file whose flock ``fd`` holds."""
    data = info.dumps().encode()
    # Write then truncate, so a reader sees the old (empty) or the new record, and never an
    # empty file in between once it was written.
    os.pwrite(fd, data, 0)
    os.ftruncate(fd, len(data))


def release(fd: int) -> None:
    try:
        # Clear the record before unlocking, or it could wipe the next holder's.
        os.ftruncate(fd, 0)
    finally:
        fcntl.flock(fd, fcntl.LOCK_UN)
        os.close(fd)


def flock_held(path: Path) -> bool:
    """Whether some open file (in any process, this one included) holds ``path``'s flock."""
    try:
        fd = os.open(path, os.O_RDWR | os.O_CLOEXEC)
    except FileNotFoundError:
        return False
    try:
        fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except BlockingIOError:
        return True
    else:
        fcntl.flock(fd, fcntl.LOCK_UN)
        return False
    finally:
        os.close(fd)


def same_file(fd: int, path: Path) -> bool:
    try:
        st = os.stat(path)
    except FileNotFoundError:
        return False
    fst = os.fstat(fd)
    return (st.st_dev, st.st_ino) == (fst.st_dev, fst.st_ino)


def read_holder(path: Path) -> LockInfo | None:
    try:
        text = path.read_text(encoding="utf-8")
    except (FileNotFoundError, UnicodeDecodeError):
        return None
    if not text.strip():
        return None
    try:
        # raw_decode: a longer old record may still trail the new one for an instant.
        data, _ = json.JSONDecoder().raw_decode(text)
        if not isinstance(data, dict) or not isinstance(data.get("id"), str):
            return None
        return LockInfo.from_json(data)
    except (ValueError, TypeError):
        return None


def unknown_holder() -> LockInfo:
    return LockInfo(id="unknown", operation="unknown", user="unknown", host="unknown", pid=0,
                    created_at="unknown")


def plausible(holder: LockInfo) -> bool:
    """False for a record of a process that is known to be gone."""
    return holder.host != hostname() or pid_alive(holder.pid)


def hostname() -> str:
    return socket.gethostname()


def pid_alive(pid: int) -> bool:
    if pid <= 0:
        return False
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True  # exists, owned by someone else
    return True
