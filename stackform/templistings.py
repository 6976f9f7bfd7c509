"""Cached listings of the temp files in a folder, for the sweep of :mod:`stackform.fileio`.

Writing a file sweeps the temp files a killed writer left beside it, which needs the folder's
names; listing the folder for every write made writing N files into one folder cost N².
"""

from __future__ import annotations

import os
import re
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

_TEMP_NAME = re.compile(r"\.(.+)\.(?:[0-9a-f]{32}|[a-z0-9_]{8})\.tmp")


@dataclass
class _Listing:
    """The temp files of one folder, by the name they are a temp of, as last listed."""

    index: dict[str, list[str]]
    at: float
    """When it was listed (``time.monotonic``)."""
    mtime: int | None
    """The folder's ``st_mtime_ns`` it matches (while ``busy``: matched when our changes
    began); ``None``: someone else changed the folder, list it again."""
    busy: int = 0
    """This process's own changes of the folder in flight (:meth:`own_change`)."""


class TempListings:
    """Folder listings for :func:`stackform.fileio.temps_of`, reused while nothing else changed
    the folder.

    Listing a folder for each file written into it made writing N files cost N^2. A listing is
    reused while it is younger than half of the grace a temp file gets (``grace``:
    :data:`stackform.fileio.TEMP_GRACE`) and the folder's mtime says that
    only this process changed it since (its own writes and removals, which add no temp file of
    a killed writer, are followed by :meth:`own_change`). What could slip past: a temp file
    made by another writer while one of ours was in flight; it is younger than the listing, so
    a fresh listing would find it too young to remove as well, and the next listing, within
    half the grace, finds it.
    """

    def __init__(self, grace: float) -> None:
        self._grace = grace
        self._lock = threading.Lock()
        self._folders: dict[Path, _Listing] = {}

    def get(self, folder: Path) -> dict[str, list[str]]:
        now = time.monotonic()
        try:
            mtime = os.stat(folder).st_mtime_ns
        except OSError:
            return {}  # no folder, or not one we may list: its writes fail with their own error
        with self._lock:
            known = self._folders.get(folder)
            if (known is not None and now - known.at < self._grace / 2
                    and known.mtime is not None and (known.busy or known.mtime == mtime)):
                return known.index
        try:
            names = os.listdir(folder)
        except OSError:
            return {}
        index: dict[str, list[str]] = {}
        for name in names:
            if name.endswith(".tmp") and (m := _TEMP_NAME.fullmatch(name)):
                index.setdefault(m.group(1), []).append(name)
        with self._lock:
            for old in [f for f, x in self._folders.items()
                        if now - x.at >= self._grace / 2 and not x.busy]:
                del self._folders[old]
            known = self._folders.get(folder)
            busy = known.busy if known is not None else 0
            # Listed after ``mtime`` was read: a change in between shows as a new mtime.
            self._folders[folder] = _Listing(index, now, mtime, busy)
        return index

    @contextmanager
    def own_change(self, folder: Path) -> Iterator[None]:
        """Around a change of ``folder`` by this process that adds no temp file to sweep."""
        with self._lock:
            known = self._folders.get(folder)
            if known is not None:
                if not known.busy and known.mtime is not None:
                    try:
                        if os.stat(folder).st_mtime_ns != known.mtime:
                            known.mtime = None  # someone else changed it: list again
                    except OSError:
                        known.mtime = None
                known.busy += 1
        try:
            yield
        finally:
            with self._lock:
                known = self._folders.get(folder)
                if known is not None and known.busy:
                    known.busy -= 1
                    if not known.busy and known.mtime is not None:
                        try:
                            known.mtime = os.stat(folder).st_mtime_ns
                        except OSError:
                            known.mtime = None

    def forget(self, tmp: Path) -> None:
        """Drop a removed temp file from its folder's listing."""
        with self._lock:
            known = self._folders.get(tmp.parent)
            if known is not None:
                for names in known.index.values():
                    if tmp.name in names:
                        names.remove(tmp.name)
