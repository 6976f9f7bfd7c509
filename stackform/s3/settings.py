"""Where in S3: bucket, prefix, region, endpoint and AWS profile, checked without boto3.

Credentials are never part of these settings: they come from the standard AWS chain
(environment, shared files, a profile, instance or task roles), so they never reach a stack file,
a state document or a log.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlsplit

from stackform.errors import StackformError

_BUCKET = re.compile(r"^[a-z0-9][a-z0-9.-]{1,61}[a-z0-9]$")
KEYS = frozenset({"bucket", "prefix", "region", "endpoint_url", "profile"})


@dataclass(frozen=True)
class S3Settings:
    """A bucket and a key prefix, and how to reach them."""

    bucket: str
    prefix: str = ""
    """Without leading or trailing '/'; '' for the bucket's root."""
    region: str | None = None
    endpoint_url: str | None = None
    """For S3-compatible stores (SeaweedFS, MinIO, R2...); AWS itself needs none."""
    profile: str | None = None

    def key(self, *parts: str) -> str:
        return "/".join(p for p in (self.prefix, *parts) if p)

    def url(self, *parts: str) -> str:
        return f"s3://{self.bucket}/{self.key(*parts)}"

    def with_prefix(self, prefix: str) -> S3Settings:
        return S3Settings(self.bucket, _clean_prefix(prefix), self.region, self.endpoint_url,
                          self.profile)

    @classmethod
    def from_table(cls, table: Mapping[str, Any], where: str = "[state]") -> S3Settings:
        """From a stack-file table (``[state]`` with ``backend = "s3"``)."""
        unknown = sorted(set(table) - KEYS - {"backend"})
        if unknown:
            raise StackformError(
                f"the s3 backend does not take {', '.join(repr(k) for k in unknown)} in {where}",
                hint="it takes bucket, prefix, region, endpoint_url and profile; credentials "
                "come from the AWS chain (AWS_PROFILE, AWS_ACCESS_KEY_ID, a role)",
            )
        bucket = table.get("bucket")
        if not isinstance(bucket, str) or not bucket:
            raise StackformError(f'backend = "s3" needs a bucket in {where}',
                                 hint='for example bucket = "acme-stackform-state"')
        return cls.checked(bucket, str(table.get("prefix") or ""), table.get("region"),
                           table.get("endpoint_url"), table.get("profile"))

    @classmethod
    def from_url(cls, url: str, region: str | None = None, endpoint_url: str | None = None,
                 profile: str | None = None) -> S3Settings:
        """From ``s3://bucket/prefix``."""
        parts = urlsplit(url)
        if parts.scheme != "s3" or not parts.netloc:
            raise StackformError(f"{url!r} is not an s3:// URL",
                                 hint="write it as s3://bucket/prefix")
        return cls.checked(parts.netloc, parts.path, region, endpoint_url, profile)

    @classmethod
    def checked(cls, bucket: str, prefix: str, region: Any, endpoint_url: Any,
                profile: Any) -> S3Settings:
        problem = bucket_problem(bucket)
        if problem:
            raise StackformError(f"{bucket!r} is not a valid S3 bucket name: {problem}",
                                 hint="bucket names are 3-63 lower-case letters, digits, "
                                 "'.' and '-'")
        if endpoint_url is not None:
            problem = endpoint_problem(str(endpoint_url))
            if problem:
                raise StackformError(f"endpoint_url {shown_url(str(endpoint_url))!r} {problem}",
                                     hint="for example endpoint_url = \"http://127.0.0.1:8333\"")
        return cls(bucket, _clean_prefix(prefix), _opt(region), _opt(endpoint_url),
                   _opt(profile))


def bucket_problem(bucket: str) -> str | None:
    if not _BUCKET.match(bucket):
        return "use 3 to 63 lower-case letters, digits, '.' and '-'"
    if ".." in bucket:
        return "two dots in a row"
    return None


def endpoint_problem(url: str) -> str | None:
    parts = urlsplit(url)
    if parts.scheme not in ("http", "https") or not parts.netloc:
        return "is not an http:// or https:// URL"
    if parts.username or parts.password:
        return "holds credentials: give them through the AWS chain instead"
    return None


def shown_url(url: str) -> str:
    """``url`` without any user or password in it, for messages."""
    parts = urlsplit(url)
    if parts.username is None and parts.password is None:
        return url
    return parts._replace(netloc=parts.hostname or "").geturl().replace("//", "//***@", 1)


def _clean_prefix(prefix: str) -> str:
    cleaned = "/".join(p for p in prefix.split("/") if p)
    if any(p in (".", "..") for p in cleaned.split("/")):
        raise StackformError(f"S3 prefix {prefix!r} has a '.' or '..' part",
                             hint="use a plain path such as teams/data/stackform")
    return cleaned


def _opt(value: Any) -> str | None:
    return str(value) if value not in (None, "") else None
