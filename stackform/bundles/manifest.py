"""What goes into a bundle, its manifest and archive, and the checks a fetched one must pass.

The manifest lists every file with its sha256 and size; the bundle's digest is the sha256 of
the manifest's canonical bytes. So a digest names exactly one set of file contents, and a
worker that checks the manifest against the digest, then each file against the manifest, runs
nothing it was not given by an apply.
"""

from __future__ import annotations

import gzip
import hashlib
import io
import json
import os
import re
import tarfile
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from pathlib import Path, PurePosixPath
from typing import TYPE_CHECKING, Any

from stackform.errors import StackformError
from stackform.ownfiles import LOCK_NAME
from stackform.provider import WatchesPaths

if TYPE_CHECKING:
    from stackform.config.model import ResolvedStack
    from stackform.registry import Registry

FORMAT = 1
MANIFEST_NAME = "MANIFEST.json"
FILES_DIR = "files"
DIGEST_RE = re.compile(r"^[0-9a-f]{64}$")
SKIPPED_DIRS = frozenset({".git", ".hg", ".stackform", "__pycache__", ".venv", "venv",
                          "node_modules", "target", "logs", "dbt_packages", ".pytest_cache",
                          ".mypy_cache", ".ruff_cache"})
"""Folders that are made by tools (dbt's target/ and logs/, venvs, caches), never sources."""
MAX_FILES = 20_000
MAX_BYTES = 512 * 1024 * 1024
"""A bundle bigger than this is refused on both sides: a stack's sources are far smaller, and
a worker must not fill its disk because a bucket says so."""


class BundleError(StackformError):
    """A bundle cannot be built, published, fetched or trusted."""


@dataclass(frozen=True)
class Sources:
    """The files of one bundle: ``rel`` (posix, under ``root``) -> the file on disk."""

    root: Path
    stack_file: str
    files: Mapping[str, Path]


@dataclass(frozen=True)
class Bundle:
    digest: str
    manifest: bytes
    archive: bytes


def sources_of(stack: ResolvedStack, registry: Registry) -> Sources:
    """The stack file, ``stackform.lock`` and every path a provider says a resource is built
    from (:class:`~stackform.provider.WatchesPaths`), rooted at their common folder so that
    paths such as ``../shared/transform`` keep their meaning inside the bundle."""
    wanted: list[Path] = [stack.file.resolve()]
    lock = stack.dir / LOCK_NAME
    if lock.is_file():
        wanted.append(lock.resolve())
    for resource in stack.resources.values():
        provider = registry.get(resource.kind)
        if isinstance(provider, WatchesPaths):
            for _what, path in provider.watched_paths(stack, resource):
                found = (stack.dir / Path(path).expanduser()).resolve()
                if found.exists():
                    wanted.append(found)
    files = sorted({f for path in wanted for f in _walk(path)})
    root = Path(os.path.commonpath([stack.dir.resolve(), *(f.parent for f in files)]))
    rel = {f.relative_to(root).as_posix(): f for f in files}
    return Sources(root, stack.file.resolve().relative_to(root).as_posix(), rel)


def _walk(path: Path) -> Iterator[Path]:
    if path.is_file():
        yield path
        return
    for folder, dirs, names in os.walk(path):
        dirs[:] = sorted(d for d in dirs if d not in SKIPPED_DIRS)
        for name in names:
            found = Path(folder) / name
            if found.is_file() and not name.endswith((".pyc", ".pyo")):
                yield found


def build(sources: Sources) -> Bundle:
    """The manifest and the archive (``MANIFEST.json``, then ``files/<rel>``), both the same
    bytes for the same contents: no time stamp, owner or order of the disk gets in."""
    contents: dict[str, bytes] = {}
    entries: dict[str, Any] = {}
    total = 0
    for rel, path in sorted(sources.files.items()):
        try:
            data = path.read_bytes()
            executable = os.access(path, os.X_OK)
        except OSError as exc:
            raise BundleError(f"cannot read {path} for the bundle: {exc.strerror or exc}",
                              hint="check that the file is readable") from None
        total += len(data)
        contents[rel] = data
        entries[rel] = {"sha256": hashlib.sha256(data).hexdigest(), "size": len(data),
                        "executable": executable}
    if len(entries) > MAX_FILES or total > MAX_BYTES:
        raise BundleError(f"the bundle would hold {len(entries)} files, {total} bytes: over "
                          f"the limit ({MAX_FILES} files, {MAX_BYTES} bytes)",
                          hint="a dbt project or plugin folder holds generated files: move "
                          "them out of it")
    manifest = canonical({"format": FORMAT, "stack_file": sources.stack_file,
                          "files": entries})
    buf = io.BytesIO()
    with tarfile.open(fileobj=buf, mode="w", format=tarfile.PAX_FORMAT) as tar:
        _add(tar, MANIFEST_NAME, manifest, 0o644)
        for rel, data in contents.items():
            _add(tar, f"{FILES_DIR}/{rel}", data, 0o755 if entries[rel]["executable"] else 0o644)
    archive = gzip.compress(buf.getvalue(), compresslevel=6, mtime=0)
    return Bundle(hashlib.sha256(manifest).hexdigest(), manifest, archive)


def canonical(doc: Mapping[str, Any]) -> bytes:
    return json.dumps(doc, sort_keys=True, separators=(",", ":")).encode()


def _add(tar: tarfile.TarFile, name: str, data: bytes, mode: int) -> None:
    info = tarfile.TarInfo(name)
    info.size, info.mode, info.mtime = len(data), mode, 0
    tar.addfile(info, io.BytesIO(data))


def check_digest(digest: str) -> str:
    if not DIGEST_RE.match(digest):
        raise BundleError(f"{digest!r} is not a bundle digest (64 lowercase hex characters)",
                          hint="pass the digest a DAG was rendered with, or `current`")
    return digest


def parse_manifest(data: bytes, digest: str) -> dict[str, Any]:
    """The manifest of the bundle ``digest``, refused unless its bytes hash to the digest and
    every name in it is a plain relative path."""
    if hashlib.sha256(data).hexdigest() != digest:
        raise BundleError(f"bundle {digest[:12]} does not match its digest: its manifest "
                          f"hashes to {hashlib.sha256(data).hexdigest()[:12]}",
                          hint="the object was altered or replaced after apply published it; "
                          "nothing was run. Apply again to publish a good bundle")
    try:
        doc = json.loads(data)
        files = doc["files"]
        stack_file = doc["stack_file"]
        assert doc["format"] == FORMAT and isinstance(files, dict) and stack_file in files
        for name, entry in files.items():
            assert safe_name(name) and DIGEST_RE.match(entry["sha256"])
            assert isinstance(entry["size"], int) and 0 <= entry["size"] <= MAX_BYTES
    except (ValueError, KeyError, TypeError, AssertionError):
        raise BundleError(f"bundle {digest[:12]} has a manifest this stackform cannot use",
                          hint="publish it again with this stackform (apply)") from None
    if len(files) > MAX_FILES or sum(e["size"] for e in files.values()) > MAX_BYTES:
        raise BundleError(f"bundle {digest[:12]} is over the size limit")
    return dict(doc)


def safe_name(name: str) -> bool:
    """A relative posix path with no ``..``, no empty part and nothing a shell or tar reads
    specially at its start."""
    if not isinstance(name, str) or not name or "\\" in name or "\x00" in name:
        return False
    path = PurePosixPath(name)
    return not path.is_absolute() and all(p not in ("", ".", "..") for p in name.split("/"))
