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


def _foreign_lock(host: str) -> bytes:
    from stackform.state.backend import LockInfo

    return LockInfo(operation="run daily", user="worker", host=host, pid=4242).dumps().encode()


def test_an_abandoned_run_lock_of_another_host_is_taken_over_after_its_lease(
        s3_server: S3Server, tmp_path: Path) -> None:
    import time

    from stackform.errors import RunLockedError

    bucket, prefix = s3_server.bucket(), S3Server.new_prefix()
    store = s3_store(s3_server, bucket, prefix, tmp_path / "c", lease=1.0)
    key = f"{prefix}/runs/dev/locks/daily.lock"
    # A worker on another machine died holding the lock: nobody renews it.
    s3_server.client().put_object(Bucket=bucket, Key=key, Body=_foreign_lock("worker-7"))
    with pytest.raises(RunLockedError, match="worker-7"), store.run_lock("dev", "daily"):
        pass
    started = time.monotonic()
    with store.run_lock("dev", "daily", timeout=10) as info:
        assert time.monotonic() - started < 8
        body = s3_server.client().get_object(Bucket=bucket, Key=key)["Body"].read()
        assert info.id.encode() in body


def test_a_renewed_run_lock_is_never_taken_over(s3_server: S3Server, tmp_path: Path) -> None:
    import threading

    from stackform.errors import RunLockedError

    bucket, prefix = s3_server.bucket(), S3Server.new_prefix()
    holder = s3_store(s3_server, bucket, prefix, tmp_path / "a", lease=1.0)
    other = s3_store(s3_server, bucket, prefix, tmp_path / "b", lease=1.0)
    held, done = threading.Event(), threading.Event()

    def hold() -> None:
        with holder.run_lock("dev", "daily"):
            held.set()
            done.wait(30)

    thread = threading.Thread(target=hold)
    thread.start()
    try:
        assert held.wait(30)
        # Three leases long: the holder's heartbeat keeps it fresh all along.
        with pytest.raises(RunLockedError), other.run_lock("dev", "daily", timeout=3.0):
            pass
    finally:
        done.set()
        thread.join(30)
    with other.run_lock("dev", "daily"):
        pass
