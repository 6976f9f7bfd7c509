"""Where deployed DAG files live: a folder (:class:`FolderDagStore`) or an S3 prefix for managed
Airflow (:class:`S3DagStore`). Every read, write, delete and listing of deployed DAGs goes
through a :class:`DagStore`, so the provider does not know which."""

from __future__ import annotations

import os
from pathlib import Path
from typing import Protocol

from stackform.errors import StackformError, os_reason
from stackform.fileio import atomic_write
from stackform.provider import Context
from stackform.s3.client import S3Object, S3Objects
from stackform.s3.settings import S3Settings

DAG_FILE_MODE = 0o644
"""Airflow's processes may run as another user: DAG files are world-readable (they hold no
secret, see the provider)."""


class DagStoreError(StackformError):
    """The DAG location cannot be read or written."""


class DagStore(Protocol):
    """A flat collection of DAG files, by file name."""

    location: str
    """Shown in plans and errors (a folder, later ``s3://bucket/prefix``)."""

    def exists(self) -> bool:
        """Whether the location itself is there (a folder, a bucket prefix)."""

    def ensure(self) -> None:
        """Create the location when it is missing (so an empty deploy still exists)."""

    def list(self, prefix: str = "") -> list[str]:
        """Names of the ``.py`` files starting with ``prefix``, sorted."""

    def read(self, name: str) -> bytes | None:
        """A file's bytes, or ``None`` when there is no such file."""

    def write(self, name: str, data: bytes) -> None:
        """Replace a file atomically (a DAG processor never parses half a file)."""

    def delete(self, name: str) -> None:
        """Remove a file; nothing happens when it is already gone."""


class FolderDagStore:
    """DAG files in a local (or mounted) folder: Airflow's ``dags_folder`` or one inside it."""

    def __init__(self, folder: Path) -> None:
        self.folder = folder
        self.location = str(folder)

    def exists(self) -> bool:
        return self.folder.is_dir()

    def ensure(self) -> None:
        try:
            self.folder.mkdir(parents=True, exist_ok=True)
        except OSError as exc:
            raise self._error("create", exc) from None

    def list(self, prefix: str = "") -> list[str]:
        try:
            names = os.listdir(self.folder)
        except FileNotFoundError:
            return []
        except OSError as exc:
            raise self._error("list", exc) from None
        return sorted(n for n in names if n.startswith(prefix) and n.endswith(".py")
                      and (self.folder / n).is_file())

    def read(self, name: str) -> bytes | None:
        try:
            return (self.folder / name).read_bytes()
        except (FileNotFoundError, NotADirectoryError):
            return None
        except OSError as exc:
            raise self._error(f"read {name} in", exc) from None

    def write(self, name: str, data: bytes) -> None:
        self.ensure()
        try:
            atomic_write(self.folder / name, data, mode=DAG_FILE_MODE)
        except OSError as exc:
            raise self._error(f"write {name} to", exc) from None

    def delete(self, name: str) -> None:
        try:
            (self.folder / name).unlink(missing_ok=True)
        except OSError as exc:
            raise self._error(f"delete {name} from", exc) from None

    def _error(self, what: str, exc: OSError) -> DagStoreError:
        return DagStoreError(f"cannot {what} the DAG folder {self.folder}: "
                             f"{os_reason(exc)}",
                             hint="check that dags_path exists and is writable by this user")


class S3DagStore:
    """DAG files under an S3 prefix, where managed Airflow (MWAA, a Composer bucket synced by
    its agent) reads them. One PUT replaces a file whole; S3 never shows half an object."""

    def __init__(self, objects: S3Objects) -> None:
        self.objects = objects
        self.folder = objects.settings.key()
        self.location = f"s3://{objects.bucket}/{self.folder}".rstrip("/")

    def _key(self, name: str) -> str:
        return f"{self.folder}/{name}" if self.folder else name

    def exists(self) -> bool:
        # A prefix has no existence of its own; the bucket's errors (missing, refused) raise.
        next(iter(self.objects.listing(self._key(""), delimiter="/")), None)
        return True

    def ensure(self) -> None:
        return None

    def list(self, prefix: str = "") -> list[str]:
        base = self._key("")
        names = (item.key[len(base):] for item in self.objects.listing(base + prefix, "/"))
        return sorted(n for n in names if n.endswith(".py") and "/" not in n)

    def read(self, name: str) -> bytes | None:
        got = self.objects.get(self._key(name))
        return got.data if isinstance(got, S3Object) else None

    def write(self, name: str, data: bytes) -> None:
        self.objects.put(self._key(name), data, content_type="text/x-python")

    def delete(self, name: str) -> None:
        self.objects.delete(self._key(name))


def store_for(ctx: Context, dags_path: str, region: str | None = None,
              endpoint_url: str | None = None, profile: str | None = None) -> DagStore:
    """The store behind a ``dags_path``: a folder relative to the stack's folder, or an
    ``s3://bucket/prefix`` reached through the standard AWS credential chain."""
    if dags_path.startswith("s3://"):
        settings = S3Settings.from_url(dags_path, region, endpoint_url, profile)
        return S3DagStore(S3Objects(settings))
    if "://" in dags_path:
        raise DagStoreError(f"dags_path {dags_path}: only folders are supported",
                            hint="set dags_path to a folder, relative to the stack's folder")
    return FolderDagStore(ctx.resolve_path(dags_path))
