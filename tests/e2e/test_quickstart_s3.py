"""The quickstart with its state and run state in S3 (a real SeaweedFS server): bookmarks, run
records and logs land in the bucket, a run never waits on an apply's lock, and a second run of
the same pipeline is refused while the first holds the run lock."""

from __future__ import annotations

import json
import shutil
import textwrap
import time
from pathlib import Path

import pytest
from e2e_support import copy_quickstart, duckdb_rows, write_orders

from stackform.config.edit import set_table
from stackform.testing.child import ChildProcess
from tests.s3server import S3Server

pytestmark = pytest.mark.slow

ROWS = 800


def s3_child(server: S3Server, bucket: str, prefix: str, code: str) -> ChildProcess:
    """A Python process holding a lock of the same S3 state until told to let go (``prefix``
    is the stack's own: the stack's prefix and its name)."""
    setup = textwrap.dedent(f"""
        import sys
        from stackform.runs.s3 import S3RunStore
        from stackform.s3.client import S3Objects
        from stackform.s3.settings import S3Settings
        from stackform.state.s3 import S3Backend
        from tests.s3server import S3Server
        server = S3Server({server.endpoint_url!r})
        settings = S3Settings({bucket!r}, {prefix!r}, server.region, server.endpoint_url)
        objects = S3Objects(settings, server.client())
    """)
    return ChildProcess(setup + textwrap.dedent(code))


HOLD_STATE_LOCK = """
    with S3Backend(settings, objects).lock("dev", "apply"):
        print("locked", flush=True)
        sys.stdin.readline()
"""
HOLD_RUN_LOCK = """
    import pathlib, tempfile
    with tempfile.TemporaryDirectory() as cache:
        store = S3RunStore(settings, pathlib.Path(cache), objects)
        with store.run_lock("dev", "daily"):
            print("locked", flush=True)
            sys.stdin.readline()
"""


def test_quickstart_on_s3_state(tmp_path: Path, stackform_for, s3_server: S3Server) -> None:
    bucket, prefix = s3_server.bucket(), S3Server.new_prefix()
    stack = copy_quickstart(tmp_path / "quickstart")
    set_table(stack / "stack.toml", "state", {"backend": "s3", "bucket": bucket,
                                              "prefix": prefix,
                                              "endpoint_url": s3_server.endpoint_url})
    written = write_orders(stack / "data" / "orders-00.jsonl", range(1, ROWS + 1),
                           time.time() - 3600)
    sf = stackform_for(stack, s3_server.env)
    client = s3_server.client()

    def get(key: str) -> bytes:
        return bytes(client.get_object(Bucket=bucket,
                                       Key=f"{prefix}/quickstart/{key}")["Body"].read())

    sf.apply()
    assert json.loads(get("state/dev.json"))["resources"]
    assert not (stack / ".stackform" / "state").exists(), "no local state with s3"

    # An apply holding the state lock does not hold up a run.
    holder = s3_child(s3_server, bucket, f"{prefix}/quickstart", HOLD_STATE_LOCK)
    try:
        assert holder.line()[0] == "locked"
        locked = sf("apply", "--auto-approve")
        assert locked.code == 1 and "locked" in locked.stderr, locked
        first = sf.ok("run", "daily")
    finally:
        holder.send()
        holder.proc.communicate(timeout=30)
    assert f"{written} records emitted, {written} rows landed" in first.stderr, first
    warehouse = stack / "warehouse" / "dev.duckdb"
    assert duckdb_rows(warehouse, "select count(*) from raw.orders") == [(written,)]

    bookmark = json.loads(get("runs/dev/bookmarks/daily.orders.json"))
    assert bookmark["value"]["bookmarks"], bookmark
    [run] = sf.runs("daily")
    assert run["status"] == "success" and run["log"].startswith("s3://"), run
    assert get(f"runs/dev/logs/{run['run_id']}.log"), "the log was uploaded"

    # Another machine (no local cache) sees the run and its log from the bucket.
    shutil.rmtree(stack / ".stackform")
    shown = sf.ok("runs", "--id", run["run_id"])
    assert "Last" in shown.stdout and "stackform run" in shown.stdout, shown

    # A second run of the same pipeline is refused while one holds the run lock.
    runner = s3_child(s3_server, bucket, f"{prefix}/quickstart", HOLD_RUN_LOCK)
    try:
        assert runner.line()[0] == "locked"
        second = sf("run", "daily")
        assert second.code == 1, second
        assert "already running" in second.stderr and str(runner.pid) in second.stderr
    finally:
        runner.send()
        runner.proc.communicate(timeout=30)

    # The bookmark from S3 holds: nothing new, nothing re-read.
    again = sf.ok("run", "daily")
    assert "0 records emitted" in again.stderr, again
    assert duckdb_rows(warehouse, "select count(*) from raw.orders") == [(written,)]
