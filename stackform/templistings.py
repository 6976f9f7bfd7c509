"""Cached listings of the temp files in a folder, for the sweep of :mod:`stackform.fileio`.

Writing a file sweeps the temp files a killed writer left beside it, which needs the folder's
names; listing the folder for every write made writing N files into one folder cost N².
"""

from __future__ import annotations

import os
import re
import threading
import time
from dataclasses import dataclass
from pathlib import Path

_TEMP_NAME = re.compile(r"\.(.+)\.(?:[0-9a-f]{32}|[a-z0-9_]{8})\.tmp")


@dataclass
class _Listing:
    """The temp files of one folder, by the name they are a temp of, as last listed."""

    index: dict[str, list[str]]
    at: float
    """When the listing began (``time.monotonic``)."""


class TempListings:
    """Folder listings for :func:`stackform.fileio.temps_of`, reused while they are younger
    than half of the grace a temp file gets (``grace``: :data:`stackform.fileio.TEMP_GRACE`).

    Whatever changed in the folder since, a reused listing changes nothing a sweep removes: a
    temp file it misses was made after the listing began, so it is younger than half the grace,
    and a fresh listing would find it too young to remove as well; the next listing, within
    half the grace, has it. (Listings used to be dropped too when the folder's mtime showed a
    change this process had not announced: with several threads writing into one folder, their
    own changes raced with that check, and a cold apply of 10,000 files listed its folder some
    80 times, 5,000 names each, for nothing a sweep could remove.)
    """

    def __init__(self, grace: float) -> None:
        self._grace = grace
        self._lock = threading.Lock()
        self._folders: dict[Path, _Listing] = {}

    def get(self, folder: Path) -> dict[str, list[str]]:
        now = time.monotonic()
        with self._lock:
            known = self._folders.get(folder)
            if known is not None and now - known.at < self._grace / 2:
                return known.index
        try:
            names = os.listdir(folder)
        except OSError:
            return {}  # no folder, or not one we may list: its writes fail with their own error
        index: dict[str, list[str]] = {}
        for name in names:
            if name.endswith(".tmp") and (m := _TEMP_NAME.fullmatch(name)):
                index.setdefault(m.group(1), []).append(name)
        with self._lock:
            for old in [f for f, x in self._folders.items() if now - x.at >= self._grace / 2]:
                del self._folders[old]
            self._folders[folder] = _Listing(index, now)
        return index

    def forget(self, tmp: Path) -> None:
        """Drop a removed temp file from its folder's listing."""
        with self._lock:
            known = self._folders.get(tmp.parent)
            if known is not None:
                for names in known.index.values():
                    if tmp.name in names:
                        names.remove(tmp.name)
