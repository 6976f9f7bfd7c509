"""A worker's cache of bundles: ``<cache>/bundles/<digest>/``, filled once, checked every use.

A bundle is unpacked into a private temporary folder, every file checked against the manifest
(and the manifest against the digest), then renamed into place in one step: a folder named
after a digest is always complete. Each run checks it again before copying it into the run's
own folder, so a cache edited on the worker is found out as surely as a bucket that was.
"""

from __future__ import annotations

import gzip
import hashlib
import io
import json
import os
import shutil
import tarfile
import tempfile
import zlib
from pathlib import Path
from typing import Any

from stackform.bundles.manifest import (
    FILES_DIR,
    MANIFEST_NAME,
    MAX_BYTES,
    BundleError,
    check_digest,
    parse_manifest,
)
from stackform.bundles.store import BundleStore
from stackform.errors import os_reason
from stackform.plugins.uvtool import cache_dir


def bundles_dir() -> Path:
    return cache_dir() / "bundles"


def fetch(store: BundleStore, digest: str, root: Path | None = None) -> tuple[Path, bool]:
    """The checked folder of bundle ``digest``, and whether it was downloaded now (``False``:
    the cache had it)."""
    check_digest(digest)
    root = root or bundles_dir()
    folder = root / digest
    if folder.is_dir():
        verify(folder, digest)
        return folder, False
    archive = store.get(digest)
    if archive is None:
        raise BundleError(f"bundle {digest[:12]} is missing: no {store.where(digest)}",
                          hint="the DAG names a bundle no apply published there (another "
                          "state location, or it was deleted); apply again. Nothing was run")
    try:
        root.mkdir(parents=True, exist_ok=True)
        temp = Path(tempfile.mkdtemp(prefix=f".{digest[:12]}-", dir=root))
    except OSError as exc:
        raise BundleError(f"cannot create the bundle cache {root}: {os_reason(exc)}",
                          hint="set STACKFORM_CACHE_DIR to a writable folder") from None
    try:
        unpack(archive, digest, temp)
        try:
            temp.rename(folder)
        except OSError:
            if not folder.is_dir():  # not another process that got there first
                raise
    except OSError as exc:
        raise BundleError(f"cannot unpack bundle {digest[:12]} into {root}: "
                          f"{os_reason(exc)}") from None
    finally:
        shutil.rmtree(temp, ignore_errors=True)
    verify(folder, digest)
    return folder, True


def unpack(archive: bytes, digest: str, dest: Path) -> dict[str, Any]:
    """Unpack a downloaded archive into ``dest`` (empty): only the manifest's files, each
    matching its sha256; links, devices, unlisted or missing members are refused."""
    try:
        raw = gzip.decompress(archive)
    except (OSError, EOFError, zlib.error):
        raise _altered(digest, "it is not a gzip archive") from None
    if len(raw) > MAX_BYTES + 1024 * 1024:
        raise _altered(digest, "it is over the size limit")

    try:
        with tarfile.open(fileobj=io.BytesIO(raw), mode="r:") as tar:
            members = tar.getmembers()
            if not members or members[0].name != MANIFEST_NAME or not members[0].isfile():
                raise _altered(digest, "it does not start with its manifest")
            manifest = parse_manifest(_read(tar, members[0]), digest)
            (dest / MANIFEST_NAME).write_bytes(_read(tar, members[0]))
            files = manifest["files"]
            seen: set[str] = set()
            for member in members[1:]:
                name = member.name.removeprefix(f"{FILES_DIR}/")
                if not member.isfile() or name not in files or name in seen:
                    raise _altered(digest, f"it holds {member.name!r}, which its manifest "
                                   "does not list as a file")
                data = _read(tar, member)
                if hashlib.sha256(data).hexdigest() != files[name]["sha256"]:
                    raise _altered(digest, f"{name} does not match its manifest")
                seen.add(name)
                target = dest / FILES_DIR / name
                target.parent.mkdir(parents=True, exist_ok=True)
                target.write_bytes(data)
                target.chmod(0o755 if files[name].get("executable") else 0o644)
    except tarfile.TarError as exc:
        raise _altered(digest, f"it is not a readable tar archive ({exc})") from None
    missing = sorted(set(files) - seen)
    if missing:
        raise _altered(digest, f"it lacks {missing[0]}" + (f" and {len(missing) - 1} more"
                                                          if len(missing) > 1 else ""))
    return manifest


def _read(tar: tarfile.TarFile, member: tarfile.TarInfo) -> bytes:
    f = tar.extractfile(member)
    if f is None:
        raise tarfile.TarError(f"{member.name} has no content")
    return f.read()


def verify(folder: Path, digest: str) -> dict[str, Any]:
    """Check an unpacked bundle file by file; a cache entry that fails is removed so that the
    next run downloads it again, and this run stops."""
    try:
        manifest = parse_manifest((folder / MANIFEST_NAME).read_bytes(), digest)
        files = manifest["files"]
        found = {p.relative_to(folder / FILES_DIR).as_posix()
                 for p in (folder / FILES_DIR).rglob("*") if not p.is_dir()}
        bad = sorted(found ^ set(files)) or sorted(
            n for n in files
            if hashlib.sha256((folder / FILES_DIR / n).read_bytes()).hexdigest()
            != files[n]["sha256"])
    except (OSError, BundleError):
        bad = ["its manifest"]
    if bad:
        shutil.rmtree(folder, ignore_errors=True)
        raise BundleError(f"the cached bundle {folder} was altered on this worker ({bad[0]} "
                          "differs from the manifest); it was removed",
                          hint="run the task again to download it afresh. Nothing was run")
    return manifest


def _altered(digest: str, what: str) -> BundleError:
    return BundleError(f"bundle {digest[:12]} cannot be trusted: {what}",
                       hint="the object was altered or replaced after apply published it; "
                       "nothing was run. Apply again to publish a good bundle")


def run_copy(folder: Path, runs_root: Path) -> tuple[Path, str]:
    """A private copy of a checked bundle for one run (dbt writes target/ and logs/ into its
    project; two runs on one worker must not share them), and the stack file's path in it."""
    manifest = json.loads((folder / MANIFEST_NAME).read_bytes())
    try:
        runs_root.mkdir(parents=True, exist_ok=True)
        run_dir = Path(tempfile.mkdtemp(prefix="run-", dir=runs_root))
        shutil.copytree(folder / FILES_DIR, run_dir, dirs_exist_ok=True)
    except OSError as exc:
        raise BundleError(f"cannot copy the bundle for this run into {runs_root}: "
                          f"{os_reason(exc)}") from None
    return run_dir, os.path.join(run_dir, manifest["stack_file"])
