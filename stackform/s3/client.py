"""One bucket's objects through boto3, with every failure turned into a :class:`S3Error`.

boto3 is imported here and only when an object is first touched, so a stack on local state never
pays for it. Conditional writes are the point of this module: ``put(..., if_none_match=True)``
creates only when absent, ``put(..., if_match=etag)`` replaces only the version that was read;
either raises :class:`PreconditionFailed` when S3 answers 412 (or 409 for a concurrent
conditional write), which callers turn into a lock or conflict error of their own.
"""

from __future__ import annotations

import os
import threading
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from datetime import datetime
from email.utils import parsedate_to_datetime
from typing import Any, Literal

from stackform.errors import S3Error
from stackform.s3.settings import S3Settings

_CREDENTIAL_CODES = frozenset({
    "InvalidAccessKeyId", "SignatureDoesNotMatch", "AccessDenied", "ExpiredToken",
    "InvalidToken", "TokenRefreshRequired", "Forbidden", "403", "AllAccessDisabled",
})
_PRECONDITION_CODES = frozenset({"PreconditionFailed", "412", "ConditionalRequestConflict", "409"})
_MISSING_CODES = frozenset({"NoSuchKey", "404", "NotFound", "NoSuchVersion"})


class PreconditionFailed(Exception):
    """A conditional request found the object not as expected (S3 answered 412 or 409)."""


@dataclass(frozen=True)
class S3Object:
    data: bytes
    etag: str
    last_modified: datetime | None = None
    server_time: datetime | None = None
    """The response's ``Date``: comparing it with ``last_modified`` needs no local clock."""
    version_id: str | None = None

    @property
    def age(self) -> float | None:
        """Seconds since the object was written, by the server's own clock."""
        if self.last_modified is None or self.server_time is None:
            return None
        return (self.server_time - self.last_modified).total_seconds()


@dataclass(frozen=True)
class Listed:
    key: str
    last_modified: datetime
    version_id: str | None = None
    is_latest: bool = True


NOT_MODIFIED = object()
"""``get(..., if_none_match=etag)`` gives this when the object is still that version."""


class S3Objects:
    """The objects of ``settings.bucket``; keys are given in full (see ``S3Settings.key``)."""

    def __init__(self, settings: S3Settings, client: Any = None) -> None:
        self.settings = settings
        self._client = client
        self._mutex = threading.Lock()
        self._versioned: bool | None = None

    @property
    def client(self) -> Any:
        if self._client is None:
            with self._mutex:
                if self._client is None:
                    self._client = make_client(self.settings)
        return self._client

    @property
    def bucket(self) -> str:
        return self.settings.bucket

    def url(self, key: str) -> str:
        return f"s3://{self.bucket}/{key}"

    # -- objects -----------------------------------------------------------------------------

    def get(self, key: str, if_none_match: str | None = None,
            version_id: str | None = None) -> S3Object | object | None:
        """The object, ``None`` when absent, :data:`NOT_MODIFIED` when still ``if_none_match``."""
        args: dict[str, Any] = {"Bucket": self.bucket, "Key": key}
        if if_none_match:
            args["IfNoneMatch"] = if_none_match
        if version_id:
            args["VersionId"] = version_id
        try:
            with self._errors("read", key):
                resp = self.client.get_object(**args)
                data = resp["Body"].read()
        except _Missing:
            return None
        except _NotModified:
            return NOT_MODIFIED
        return S3Object(data, resp.get("ETag", ""), resp.get("LastModified"),
                        _server_time(resp), resp.get("VersionId"))

    def put(self, key: str, data: bytes, *, if_match: str | None = None,
            if_none_match: bool = False, content_type: str = "application/json") -> S3Object:
        """Store ``data``; with a condition, raise :class:`PreconditionFailed` when it fails."""
        args: dict[str, Any] = {"Bucket": self.bucket, "Key": key, "Body": data,
                                "ContentType": content_type}
        if if_match is not None:
            args["IfMatch"] = if_match
        if if_none_match:
            args["IfNoneMatch"] = "*"
        with self._errors("write", key, conditional=if_match is not None or if_none_match):
            resp = self.client.put_object(**args)
        return S3Object(data, resp.get("ETag", ""), None, _server_time(resp),
                        resp.get("VersionId"))

    def delete(self, key: str, if_match: str | None = None) -> None:
        args: dict[str, Any] = {"Bucket": self.bucket, "Key": key}
        if if_match is not None:
            args["IfMatch"] = if_match
        try:
            with self._errors("delete", key, conditional=if_match is not None):
                self.client.delete_object(**args)
        except _Missing:
            if if_match is not None:
                raise PreconditionFailed(key) from None

    def delete_many(self, keys: list[str]) -> None:
        """Delete ``keys`` (1,000 per request)."""
        for start in range(0, len(keys), 1000):
            batch = [{"Key": k} for k in keys[start:start + 1000]]
            with self._errors("delete", batch[0]["Key"]):
                resp = self.client.delete_objects(Bucket=self.bucket,
                                                  Delete={"Objects": batch, "Quiet": True})
            failed = resp.get("Errors") or []
            if failed:
                first = failed[0]
                raise S3Error(f"could not delete {len(failed)} object(s), e.g. "
                              f"{self.url(first.get('Key', ''))}: {first.get('Code')}")

    def purge(self, keys: list[str], prefix: str | None = None) -> None:
        """Delete ``keys`` and every key under ``prefix`` for good: in a versioned bucket,
        every version and delete marker of them too (a purged environment leaves nothing)."""
        if not self.versioned():
            under = [item.key for item in self.listing(prefix)] if prefix else []
            self.delete_many([*keys, *under])
            return
        wanted = set(keys)
        gone: list[dict[str, str]] = []
        paginator = self.client.get_paginator("list_object_versions")
        for search in [*keys, *([prefix] if prefix else [])]:
            with self._errors("list versions of", search):
                for page in paginator.paginate(Bucket=self.bucket, Prefix=search):
                    for item in [*(page.get("Versions") or ()),
                                 *(page.get("DeleteMarkers") or ())]:
                        if item["Key"] in wanted or (prefix and search == prefix):
                            gone.append({"Key": item["Key"], "VersionId": item["VersionId"]})
        for start in range(0, len(gone), 1000):
            with self._errors("delete", gone[start]["Key"]):
                resp = self.client.delete_objects(
                    Bucket=self.bucket, Delete={"Objects": gone[start:start + 1000],
                                                "Quiet": True})
            if resp.get("Errors"):
                raise S3Error(f"could not delete {len(resp['Errors'])} object version(s), "
                              f"e.g. {self.url(resp['Errors'][0].get('Key', ''))}")

    def listing(self, prefix: str, delimiter: str | None = None) -> Iterator[Listed]:
        args: dict[str, Any] = {"Bucket": self.bucket, "Prefix": prefix}
        if delimiter:
            args["Delimiter"] = delimiter
        paginator = self.client.get_paginator("list_objects_v2")
        with self._errors("list", prefix):
            for page in paginator.paginate(**args):
                for item in page.get("Contents") or ():
                    yield Listed(item["Key"], item["LastModified"])

    def versions(self, key: str) -> list[Listed]:
        """Every version of ``key`` (not delete markers), newest first."""
        out: list[Listed] = []
        paginator = self.client.get_paginator("list_object_versions")
        with self._errors("list versions of", key):
            for page in paginator.paginate(Bucket=self.bucket, Prefix=key):
                for item in page.get("Versions") or ():
                    if item["Key"] == key:
                        out.append(Listed(key, item["LastModified"], item.get("VersionId"),
                                          bool(item.get("IsLatest"))))
        out.sort(key=lambda v: v.last_modified, reverse=True)
        return out

    def versioned(self) -> bool:
        """Whether the bucket keeps every version (asked once per instance)."""
        if self._versioned is None:
            with self._errors("read the versioning of", ""):
                resp = self.client.get_bucket_versioning(Bucket=self.bucket)
            self._versioned = resp.get("Status") == "Enabled"
        return self._versioned

    # -- errors ------------------------------------------------------------------------------

    def _errors(self, action: str, key: str, conditional: bool = False) -> _Translate:
        return _Translate(self, action, key, conditional)


class _Missing(Exception):
    pass


class _NotModified(Exception):
    pass


class _Translate:
    """Turn botocore's exceptions into ours, with what was being done and where."""

    def __init__(self, objects: S3Objects, action: str, key: str, conditional: bool) -> None:
        self.objects, self.action, self.key, self.conditional = objects, action, key, conditional

    def __enter__(self) -> None:
        return None

    def __exit__(self, kind: Any, exc: BaseException | None, tb: Any) -> Literal[False]:
        if exc is None or not isinstance(exc, Exception) or isinstance(
                exc, _Missing | _NotModified | PreconditionFailed | S3Error):
            return False
        new = self.translate(exc)
        if new is exc:
            return False
        raise new from exc

    def translate(self, exc: Exception) -> Exception:
        from botocore import exceptions as bx

        settings = self.objects.settings
        where = self.objects.url(self.key)
        endpoint = settings.endpoint_url or "AWS S3"
        if isinstance(exc, bx.ClientError):
            error = exc.response.get("Error", {})
            code = str(error.get("Code", ""))
            status = exc.response.get("ResponseMetadata", {}).get("HTTPStatusCode")
            if code in ("304", "NotModified") or status == 304:
                return _NotModified()
            if self.conditional and (code in _PRECONDITION_CODES or status in (409, 412)):
                return PreconditionFailed(self.key)
            if code == "NoSuchBucket":
                return S3Error(
                    f"bucket {settings.bucket!r} does not exist at {endpoint}",
                    hint="create it (with versioning on, to keep every state version), or "
                    "fix `bucket` in [state]")
            if code in _MISSING_CODES or status == 404:
                return _Missing()
            if code in _CREDENTIAL_CODES or status == 403:
                return S3Error(
                    f"S3 refused the credentials to {self.action} {where} ({code or status})",
                    hint="stackform uses the standard AWS credential chain: check "
                    "AWS_PROFILE / `profile` in [state], AWS_ACCESS_KEY_ID and "
                    "AWS_SECRET_ACCESS_KEY, or the role, and that it may use this bucket")
            message = error.get("Message") or str(exc)
            return S3Error(f"could not {self.action} {where}: {code or status}: {message}")
        if isinstance(exc, bx.NoCredentialsError | bx.PartialCredentialsError):
            return S3Error(f"no AWS credentials found to {self.action} {where}",
                           hint="set AWS_PROFILE or AWS_ACCESS_KEY_ID and "
                           "AWS_SECRET_ACCESS_KEY, or run where a role provides them")
        if isinstance(exc, bx.ProfileNotFound):
            name = settings.profile or os.environ.get("AWS_PROFILE", "")
            return S3Error(f"AWS profile {name!r} is not configured",
                           hint="fix `profile` in [state] or AWS_PROFILE, or add the profile "
                           "to ~/.aws/config")
        if isinstance(exc, bx.EndpointConnectionError | bx.ConnectTimeoutError
                      | bx.ConnectionClosedError | bx.ReadTimeoutError):
            return S3Error(f"could not reach {endpoint} to {self.action} {where}",
                           hint="check endpoint_url and region in [state] and the network")
        if isinstance(exc, bx.BotoCoreError):
            return S3Error(f"could not {self.action} {where}: {exc}")
        return exc


def make_client(settings: S3Settings) -> Any:
    """A boto3 S3 client for ``settings``: the standard credential chain, path-style addressing
    for custom endpoints (S3-compatible servers rarely have per-bucket host names)."""
    try:
        import boto3
        from botocore.config import Config
        from botocore.exceptions import BotoCoreError
    except ImportError:
        raise S3Error(
            "the s3 backend needs boto3, which is not installed",
            hint="install stackform with the s3 extra: pip install 'stackform[s3]'",
        ) from None
    config = Config(
        retries={"mode": "standard", "max_attempts": 4},
        connect_timeout=5,
        read_timeout=30,
        s3={"addressing_style": "path"} if settings.endpoint_url else {},
    )
    try:
        session = boto3.session.Session(profile_name=settings.profile)
        return session.client("s3", region_name=settings.region,
                              endpoint_url=settings.endpoint_url, config=config)
    except BotoCoreError as exc:
        raise _Translate(S3Objects(settings, client=object()), "connect to", "",
                         False).translate(exc) from exc


def _server_time(resp: dict[str, Any]) -> datetime | None:
    date = resp.get("ResponseMetadata", {}).get("HTTPHeaders", {}).get("date")
    if not date:
        return None
    try:
        return parsedate_to_datetime(date)
    except (TypeError, ValueError):
        return None


def in_parallel(fn: Callable[[Any], Any], items: list[Any]) -> list[Any]:
    """``[fn(i) for i in items]`` with up to 8 requests in flight (S3 latency, not CPU)."""
    if len(items) <= 1:
        return [fn(i) for i in items]
    with ThreadPoolExecutor(max_workers=min(8, len(items))) as pool:
        return list(pool.map(fn, items))
