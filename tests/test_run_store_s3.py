"""The S3 run-state store against a real S3-compatible server (SeaweedFS, started by the tests)."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from stackform.runs.s3 import S3RunStore
from stackform.runs.store import RunStore
from stackform.s3.client import S3Objects
from stackform.s3.settings import S3Settings
from stackform.testing.run_store_conformance import KeptAside, RunStoreConformance
from tests.s3server import S3Server


def s3_store(server: S3Server, bucket: str, prefix: str, cache: Path,
             lease: float = 90.0) -> S3RunStore:
    settings = S3Settings(bucket, prefix, server.region, server.endpoint_url)
    return S3RunStore(settings, cache, S3Objects(settings, server.client()), lease=lease)


class TestS3RunStoreConformance(RunStoreConformance):
    @pytest.fixture
    def bucket(self, s3_server: S3Server) -> str:
        return s3_server.bucket()

    @pytest.fixture
    def prefix(self) -> str:
        return S3Server.new_prefix()

    @pytest.fixture
    def store(self, s3_server: S3Server, bucket: str, prefix: str, tmp_path: Path) -> RunStore:
        return s3_store(s3_server, bucket, prefix, tmp_path / "cache-a")

    @pytest.fixture
    def peer(self, s3_server: S3Server, bucket: str, prefix: str, tmp_path: Path) -> RunStore:
        return s3_store(s3_server, bucket, prefix, tmp_path / "cache-b")

    @pytest.fixture
    def kept_aside(self, s3_server: S3Server, bucket: str, prefix: str) -> KeptAside:
        client = s3_server.client()

        def kept(env: str, key: str) -> list[dict[str, Any]]:
            folder = f"{prefix}/runs/{env}/bookmarks-cleared/{key}."
            listed = client.list_objects_v2(Bucket=bucket, Prefix=folder).get("Contents") or []
            return [json.loads(client.get_object(Bucket=bucket, Key=o["Key"])["Body"].read())
                    for o in sorted(listed, key=lambda o: o["Key"])]

        return kept

    @pytest.fixture
    def child_store_code(self, s3_server: S3Server, bucket: str, prefix: str,
                         tmp_path: Path) -> str:
        return (
            "from pathlib import Path\n"
            "from stackform.runs.s3 import S3RunStore\n"
            "from stackform.s3.client import S3Objects\n"
            "from stackform.s3.settings import S3Settings\n"
            "from tests.s3server import S3Server\n"
            f"server = S3Server({s3_server.endpoint_url!r})\n"
            f"settings = S3Settings({bucket!r}, {prefix!r}, server.region, "
            "server.endpoint_url)\n"
            f"store = S3RunStore(settings, Path({str(tmp_path / 'cache-child')!r}), "
            "S3Objects(settings, server.client()))\n"
        )
