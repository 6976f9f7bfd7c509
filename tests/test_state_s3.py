"""The S3 state backend against a real S3-compatible server (SeaweedFS, started by the tests).

The conformance suite runs twice: on a bucket without versioning (numbered copies keep history)
and on a versioned one (S3's own versions are the history).
"""

from __future__ import annotations

import pytest

from stackform.s3.client import S3Objects
from stackform.s3.settings import S3Settings
from stackform.state.backend import StateBackend
from stackform.state.s3 import S3Backend
from stackform.testing.state_conformance import (
    STACK,
    StateBackendConformance,
    Stored,
    StoreRaw,
)
from tests.s3server import S3Server


def settings_for(server: S3Server, bucket: str, prefix: str = "team/stackform") -> S3Settings:
    return S3Settings(bucket, prefix, server.region, server.endpoint_url)


def s3_backend(server: S3Server, bucket: str, prefix: str = "team/stackform") -> S3Backend:
    settings = settings_for(server, bucket, prefix)
    return S3Backend(settings, S3Objects(settings, server.client()), stack=STACK)


class _S3Conformance(StateBackendConformance):
    versioned = False

    @pytest.fixture
    def bucket(self, s3_server: S3Server) -> str:
        return s3_server.bucket(versioned=self.versioned)

    @pytest.fixture
    def prefix(self) -> str:
        return S3Server.new_prefix()

    @pytest.fixture
    def backend(self, s3_server: S3Server, bucket: str, prefix: str) -> StateBackend:
        return s3_backend(s3_server, bucket, prefix)

    @pytest.fixture
    def peer(self, s3_server: S3Server, bucket: str, prefix: str) -> StateBackend:
        return s3_backend(s3_server, bucket, prefix)

    @pytest.fixture
    def store_raw(self, s3_server: S3Server, bucket: str, prefix: str) -> StoreRaw:
        client = s3_server.client()

        def store(env: str, data: bytes) -> None:
            client.put_object(Bucket=bucket, Key=f"{prefix}/state/{env}.json", Body=data)

        return store

    @pytest.fixture
    def stored(self, s3_server: S3Server, bucket: str, prefix: str) -> Stored:
        client = s3_server.client()

        def names(env: str) -> list[str]:
            found: list[str] = []
            pages = client.get_paginator("list_object_versions").paginate(Bucket=bucket,
                                                                         Prefix=prefix)
            for page in pages:
                for item in [*(page.get("Versions") or ()), *(page.get("DeleteMarkers") or ())]:
                    key = item["Key"][len(prefix) + 1:]
                    if key.startswith((f"state/{env}.", f"history/{env}/")):
                        found.append(f"{key}@{item.get('VersionId')}")
            return found

        return names


class TestS3Conformance(_S3Conformance):
    pass


class TestS3VersionedConformance(_S3Conformance):
    versioned = True
