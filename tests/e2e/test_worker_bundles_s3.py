"""Workers run the bundle an apply published, with the state in S3 (a real SeaweedFS server):
the generated DAG's command, run in an empty folder with an empty bundle cache, fetches the
bundle by its pinned digest, lands the rows and moves the bookmark in the bucket. A bundle
altered or replaced in the bucket, a missing one, and a bucket the worker may not read each
fail with a clear message, with nothing run and nothing left in the cache."""

from __future__ import annotations

import json
import subprocess
import time
from pathlib import Path

import pytest
from e2e_support import duckdb_rows, write_orders
from worker_support import dag_command, worker_stack

from tests.s3server import S3Server

pytestmark = pytest.mark.slow

ROWS = 120
DAG = "stackform_quickstart_dev_daily.py"


def worker(words: list[str], cwd: Path, env: dict[str, str]) -> subprocess.CompletedProcess[str]:
    cwd.mkdir(parents=True, exist_ok=True)
    return subprocess.run(words, cwd=cwd, env=env, capture_output=True, text=True, timeout=600,
                          stdin=subprocess.DEVNULL)


def test_a_worker_runs_the_published_bundle_and_refuses_a_bad_one(
        tmp_path: Path, stackform_for, s3_server: S3Server) -> None:
    bucket, prefix = s3_server.bucket(), S3Server.new_prefix()
    stack = worker_stack(tmp_path, s3_server, bucket, prefix)
    write_orders(tmp_path / "source" / "orders-01.jsonl", range(1, ROWS + 1), time.time() - 60)
    sf = stackform_for(stack, s3_server.env)
    sf.apply()
    client = s3_server.client()
    scope = f"{prefix}/quickstart"
    state = json.loads(client.get_object(Bucket=bucket, Key=f"{scope}/state/dev.json")
                       ["Body"].read())
    digest = state["bundle"]
    key = f"{scope}/bundles/{digest}.tar.gz"
    good = client.get_object(Bucket=bucket, Key=key)["Body"].read()
    words = dag_command(tmp_path / "dags" / DAG)
    assert words[words.index("--bundle") + 1] == digest, "the DAG pins the published bundle"
    assert words[words.index("--state") + 1] == f"s3://{bucket}/{prefix}"
    words[0] = sf.exe

    # A worker: an empty folder, its own bundle cache (plugins from the shared venv cache).
    cache = Path(sf.env["STACKFORM_CACHE_DIR"])
    ran = worker(words, tmp_path / "worker-1", sf.env)
    assert ran.returncode == 0, ran.stdout + ran.stderr
    assert "downloaded and checked" in ran.stderr
    assert f"{ROWS} records emitted, {ROWS} rows landed" in ran.stderr, ran.stderr
    assert list((tmp_path / "worker-1").iterdir()) == [], "the worker's folder stays empty"
    assert (cache / "bundles" / digest / "MANIFEST.json").is_file()
    assert duckdb_rows(tmp_path / "warehouse-dev.duckdb", "select count(*) from raw.orders"
                       ) == [(ROWS,)]
    bookmark = json.loads(client.get_object(
        Bucket=bucket, Key=f"{scope}/runs/dev/bookmarks/daily.orders.json")["Body"].read())
    assert bookmark["value"]["bookmarks"], bookmark
    [run] = sf.runs("daily")
    assert run["status"] == "success", run
    # `current` is the digest in state: the same cached bundle, nothing new to read.
    current = [*words]
    current[current.index("--bundle") + 1] = "current"
    again = worker(current, tmp_path / "worker-1", sf.env)
    assert again.returncode == 0 and "cached, checked" in again.stderr, again.stderr
    assert "0 records emitted" in again.stderr

    # Broken and hostile bundles, fetched by a worker with an empty cache: nothing runs.
    fresh = {**sf.env, "STACKFORM_CACHE_DIR": str(tmp_path / "fresh-cache")}
    edited = stack / "templates" / "settings.env.tmpl"
    edited.write_text(edited.read_text() + "# another bundle\n")
    sf.apply()
    other = json.loads(client.get_object(Bucket=bucket, Key=f"{scope}/state/dev.json")
                       ["Body"].read())["bundle"]
    assert other != digest
    replaced = client.get_object(Bucket=bucket, Key=f"{scope}/bundles/{other}.tar.gz"
                                 )["Body"].read()
    runs_before = len(sf.runs("daily"))
    cases = {
        "replaced": (replaced, None, "does not match its digest"),
        "missing": (None, None, f"bundle {digest[:12]} is missing"),
        "unreadable": (good, "wrong-secret", "S3 refused the credentials"),
    }
    for name, (body, secret, expected) in cases.items():
        if body is None:
            client.delete_object(Bucket=bucket, Key=key)
        else:
            client.put_object(Bucket=bucket, Key=key, Body=body)
        env = {**fresh, **({"AWS_SECRET_ACCESS_KEY": secret} if secret else {})}
        failed = worker(words, tmp_path / f"worker-{name}", env)
        assert failed.returncode == 1, (name, failed)
        assert expected in failed.stderr, (name, failed.stderr)
        assert "Traceback" not in failed.stderr
        assert not (tmp_path / "fresh-cache" / "bundles" / digest).exists(), name
    assert len(sf.runs("daily")) == runs_before, "no run was started by a bad bundle"
    assert duckdb_rows(tmp_path / "warehouse-dev.duckdb", "select count(*) from raw.orders"
                       ) == [(ROWS,)]
