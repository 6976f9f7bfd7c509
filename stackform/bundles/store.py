"""Where bundles live: next to the state, under the stack's own keys.

``<state folder>/<stack>/bundles/<digest>.tar.gz`` for the local backend,
``s3://BUCKET/PREFIX/<stack>/bundles/<digest>.tar.gz`` for S3. A bundle is content-addressed,
so the environments of one stack share it; each environment's state records the digest of its
own last apply. The worker's command line carries the state's location
(:func:`location_args`), never a credential: those come from the worker's AWS chain.
"""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path
from typing import Any, Protocol

from stackform.bundles.manifest import BundleError
from stackform.errors import os_reason
from stackform.fileio import atomic_write
from stackform.s3.settings import S3Settings
from stackform.state.factory import local_state_folder

SUFFIX = ".tar.gz"
FOLDER = "bundles"


class BundleStore(Protocol):
    def where(self, digest: str) -> str:
        """The bundle's address, for messages."""

    def exists(self, digest: str) -> bool: ...

    def get(self, digest: str) -> bytes | None:
        """The archive, ``None`` when there is no such bundle."""

    def put(self, digest: str, data: bytes) -> None: ...


class FolderBundles:
    def __init__(self, folder: Path) -> None:
        self.folder = folder

    def where(self, digest: str) -> str:
        return str(self.folder / f"{digest}{SUFFIX}")

    def exists(self, digest: str) -> bool:
        return (self.folder / f"{digest}{SUFFIX}").is_file()

    def get(self, digest: str) -> bytes | None:
        try:
            return (self.folder / f"{digest}{SUFFIX}").read_bytes()
        except FileNotFoundError:
            return None
        except OSError as exc:
            raise BundleError(f"cannot read the bundle {self.where(digest)}: "
                              f"{os_reason(exc)}") from None

    def put(self, digest: str, data: bytes) -> None:
        try:
            self.folder.mkdir(parents=True, exist_ok=True)
            atomic_write(self.folder / f"{digest}{SUFFIX}", data, mode=0o644)
        except OSError as exc:
            raise BundleError(f"cannot write the bundle {self.where(digest)}: "
                              f"{os_reason(exc)}") from None


class S3Bundles:
    def __init__(self, settings: S3Settings) -> None:
        from stackform.s3.client import S3Objects

        self.settings = settings
        self.objects = S3Objects(settings)

    def where(self, digest: str) -> str:
        return self.settings.url(FOLDER, f"{digest}{SUFFIX}")

    def exists(self, digest: str) -> bool:
        key = self.settings.key(FOLDER, f"{digest}{SUFFIX}")
        return any(item.key == key for item in self.objects.listing(key))

    def get(self, digest: str) -> bytes | None:
        from stackform.s3.client import S3Object

        got = self.objects.get(self.settings.key(FOLDER, f"{digest}{SUFFIX}"))
        return got.data if isinstance(got, S3Object) else None

    def put(self, digest: str, data: bytes) -> None:
        self.objects.put(self.settings.key(FOLDER, f"{digest}{SUFFIX}"), data,
                         content_type="application/gzip")


def store_for(table: Mapping[str, Any], stack_dir: Path, stack: str) -> BundleStore:
    """The bundles of ``stack`` beside the state that the ``[state]`` table names."""
    if table.get("backend", "local") == "s3":
        s3 = S3Settings.from_table(table)
        return S3Bundles(s3.with_prefix(s3.key(stack)))
    folder = local_state_folder(table, stack_dir)
    assert folder is not None
    return FolderBundles(folder / stack / FOLDER)


def location_args(table: Mapping[str, Any], stack_dir: Path) -> list[str]:
    """The state's location as ``stackform worker run`` options: ``--state s3://B/P`` with
    its endpoint, region and profile, or ``--state /abs/folder`` for the local backend."""
    if table.get("backend", "local") == "s3":
        s3 = S3Settings.from_table(table)
        words = ["--state", f"s3://{s3.bucket}/{s3.prefix}".rstrip("/")]
        for key, value in (("--endpoint-url", s3.endpoint_url), ("--region", s3.region),
                           ("--profile", s3.profile)):
            if value:
                words += [key, value]
        return words
    folder = local_state_folder(table, stack_dir)
    assert folder is not None
    return ["--state", str(folder.resolve())]


def table_from_args(location: str, endpoint_url: str | None, region: str | None,
                    profile: str | None) -> dict[str, Any]:
    """The ``[state]`` table the worker uses, from :func:`location_args`' options."""
    if location.startswith("s3://"):
        s3 = S3Settings.from_url(location, region, endpoint_url, profile)
        table: dict[str, Any] = {"backend": "s3", "bucket": s3.bucket, "prefix": s3.prefix}
        for key in ("region", "endpoint_url", "profile"):
            if getattr(s3, key):
                table[key] = getattr(s3, key)
        return table
    if "://" in location or not Path(location).is_absolute():
        raise BundleError(f"--state {location!r} is neither s3://bucket/prefix nor an absolute "
                          "folder", hint="pass what the generated DAG passes")
    if endpoint_url or region or profile:
        raise BundleError("--endpoint-url, --region and --profile only go with an s3:// state")
    return {"backend": "local", "path": location}
