"""Past one machine for real: Airflow 3 with the CeleryExecutor (Redis broker, PostgreSQL
metadata database), a scheduler, a DAG processor, an API server and two Celery workers (one
task at a time each), each in an empty folder of its own, and the stack's state in S3
(SeaweedFS). The DAGs are triggered through Airflow's CLI and run by the scheduler.

1. The quickstart (with dbt) applied for two environments: both DAGs run at once, one on each
   worker; each worker fetches the bundle its DAG pins, the rows land, dbt builds, and each
   environment's run record and bookmark are in the bucket, apart from the other's.
2. A worker killed with SIGKILL in the middle of a run (after the loader committed a bookmark):
   Airflow's retry runs on the other worker, the run lock of the dead run lets it through, it
   starts from the bookmark committed in S3, and every record lands exactly once (the loader
   upserts by primary key).
3. An apply during a run: the running task finishes on the bundle it started with; the next
   run takes the new one.
"""

from __future__ import annotations

import json
import os
import time
import uuid
from collections.abc import Callable
from pathlib import Path
from typing import Any, TypeVar

import pytest
from celery_support import Cluster, running_cluster

from stackform.config.edit import set_table
from tests.cli_helpers import STACKFORM
from tests.e2e.e2e_support import (
    Stackform,
    copy_quickstart,
    duckdb_rows,
    stackform_in,
    write_orders,
)
from tests.s3server import S3Server

pytestmark = pytest.mark.slow

ENVS = ("dev", "staging")
ROWS = {"dev": 150, "staging": 90}
MORE = 40_000
"""Rows added for the kill: enough batches that the kill lands between two of them."""
NEVER_DUE = "0 0 29 2 *"
"""Last due before the DAGs' start date, next in 2028: only the test's triggers run them."""
RUN_TIMEOUT = 480
T = TypeVar("T")


def dag_id(env: str) -> str:
    return f"stackform_quickstart_{env}_daily"


def applied_stack(root: Path, server: S3Server, tag: str) -> Stackform:
    stack = copy_quickstart(root / "quickstart", dbt=True, batch_size_rows=2000,
                            extractor_config={"path": f"{root}/source-${{stack.env}}/*.jsonl"})
    path = stack / "stack.toml"
    text = path.read_text().replace('"warehouse/${stack.env}.duckdb"',
                                    f'"{root}/warehouse-${{stack.env}}.duckdb"')
    text = text.replace('schedule = "0 6 * * *"', f'schedule = "{NEVER_DUE}"')
    path.write_text(text + f'''
[environments.staging]

[orchestrators.airflow]
dags_path = "{root}/dags"
command = "{STACKFORM}"
retries = 1
retry_delay = "5s"
''')
    set_table(path, "state", {"backend": "s3", "bucket": server.bucket(),
                              "prefix": f"celery-{tag}", "endpoint_url": server.endpoint_url,
                              "region": server.region})
    for env in ENVS:
        source = root / f"source-{env}"
        source.mkdir()
        write_orders(source / "orders-01.jsonl", range(1, ROWS[env] + 1), time.time() - 60)
    cache = Path(os.environ["STACKFORM_CACHE_DIR"])  # the session's (providers/conftest.py)
    sf = stackform_in(stack, root / "home", cache, server.env)
    for env in ENVS:
        sf.apply("--env", env)
    return sf


def wait_for(cluster: Cluster, what: str, check: Callable[[], T | None],
             timeout: float = RUN_TIMEOUT, every: float = 2.0) -> T:
    deadline = time.monotonic() + timeout
    while True:
        found = check()
        if found:
            return found
        if time.monotonic() > deadline:
            logs = "\n".join(f"--- {n}\n{cluster.log(n)[-2500:]}" for n in cluster.procs)
            raise AssertionError(f"{what}: not within {timeout}s\n{logs}")
        time.sleep(every)


def runs_done(cluster: Cluster, runs: list[str]) -> dict[str, str] | None:
    rows = cluster.query("select run_id, state from dag_run where run_id = any(%s)", runs)
    states = {run: state for run, state in rows}
    if len(states) == len(runs) and all(s in ("success", "failed") for s in states.values()):
        return states
    return None


def trigger(cluster: Cluster, env: str) -> str:
    run_id = f"test-{env}-{uuid.uuid4().hex[:8]}"
    done = cluster.airflow("dags", "trigger", dag_id(env), "--run-id", run_id)
    assert done.returncode == 0, done.stdout + done.stderr
    return run_id


def task_log(cluster: Cluster, env: str, run_id: str) -> str:
    logs = cluster.root / "airflow-home" / "logs"
    found = sorted(logs.glob(f"dag_id={dag_id(env)}/run_id={run_id}/task_id=*/attempt=*.log"))
    return "\n".join(p.read_text(errors="replace") for p in found)


def ran_on(cluster: Cluster, run_id: str) -> list[str]:
    """The workers whose log shows they executed a task of ``run_id`` (Airflow records the
    machine's host name, the same for both workers here)."""
    return [name for name in cluster.procs
            if name.startswith("worker") and f"run_id={run_id}/" in cluster.log(name)]


def state_doc(server: S3Server, scope: str, env: str) -> dict[str, Any]:
    body = server.client().get_object(Bucket=server.bucket(), Key=f"{scope}/state/{env}.json")
    return dict(json.loads(body["Body"].read()))


def bookmark(server: S3Server, scope: str, env: str) -> bytes | None:
    client = server.client()
    try:
        return bytes(client.get_object(
            Bucket=server.bucket(), Key=f"{scope}/runs/{env}/bookmarks/daily.orders.json"
        )["Body"].read())
    except client.exceptions.NoSuchKey:
        return None


def runs_of(sf: Stackform, env: str) -> list[dict[str, Any]]:
    return list(json.loads(sf.ok("runs", "daily", "--env", env, "--format", "json").stdout))


def test_celery_workers_run_the_applied_bundles_and_survive_a_killed_worker(
        tmp_path: Path, s3_server: S3Server) -> None:
    tag = uuid.uuid4().hex[:8]
    sf = applied_stack(tmp_path, s3_server, tag)
    scope = f"celery-{tag}/quickstart"
    with running_cluster(tmp_path, Path(os.environ["STACKFORM_CACHE_DIR"]), tmp_path / "dags",
                         dict(sf.env)) as cluster:
        for env in ENVS:
            cluster.worker(f"worker-{env}", tmp_path / f"cache-{env}")
        wait_for(cluster, "the DAG processor registers both DAGs", lambda: len(cluster.query(
            "select dag_id from dag where dag_id = any(%s) and not is_paused",
            [dag_id(e) for e in ENVS])) == 2)
        two_environments_at_once(cluster, sf, s3_server, scope)
        killed_worker_and_retry(cluster, sf, s3_server, scope)
        apply_during_a_run(cluster, sf, s3_server, scope)


def two_environments_at_once(cluster: Cluster, sf: Stackform, server: S3Server,
                             scope: str) -> None:
    runs = {env: trigger(cluster, env) for env in ENVS}
    states = wait_for(cluster, "both DAG runs end", lambda: runs_done(cluster, [*runs.values()]))
    logs = {env: task_log(cluster, env, runs[env]) for env in ENVS}
    assert set(states.values()) == {"success"}, (states, logs)
    ran = {env: cluster.query("select start_date, end_date from task_instance "
                              "where run_id = %s", runs[env])[0] for env in ENVS}
    assert ran["dev"][0] < ran["staging"][1] and ran["staging"][0] < ran["dev"][1], \
        f"the runs did not overlap: {ran}"
    workers = {env: ran_on(cluster, runs[env]) for env in ENVS}
    assert len(workers["dev"]) == len(workers["staging"]) == 1, workers
    assert workers["dev"] != workers["staging"], f"both ran on one worker: {workers}"
    root = cluster.root
    for env in ENVS:
        digest = state_doc(server, scope, env)["bundle"]
        assert f"bundle {digest[:12]}: downloaded and checked" in logs[env], logs[env]
        warehouse = root / f"warehouse-{env}.duckdb"
        assert duckdb_rows(warehouse, "select count(*) from raw.orders") == [(ROWS[env],)]
        assert duckdb_rows(warehouse, f"select sum(orders) from analytics_{env}.customer_revenue"
                           ) == [(ROWS[env],)]
        assert bookmark(server, scope, env), f"no bookmark of {env} in S3"
        [run] = runs_of(sf, env)
        assert run["status"] == "success" and run["env"] == env, run
    for name in ("worker-dev", "worker-staging"):
        assert not any((root / "workers" / name).iterdir()), "a worker's folder stays empty"


def killed_worker_and_retry(cluster: Cluster, sf: Stackform, server: S3Server,
                            scope: str) -> None:
    first = ROWS["dev"] + 1
    write_orders(cluster.root / "source-dev" / "orders-02.jsonl", range(first, first + MORE),
                 time.time() - 30)
    before = bookmark(server, scope, "dev")
    run_id = trigger(cluster, "dev")
    [victim] = wait_for(cluster, "a worker takes the task", lambda: ran_on(cluster, run_id),
                        every=0.5)
    wait_for(cluster, "the loader commits a bookmark",
             lambda: bookmark(server, scope, "dev") != before, timeout=240, every=0.2)
    [(state,)] = cluster.query("select state from dag_run where run_id = %s", run_id)
    assert state == "running", "the run ended before the kill: add rows (MORE)"
    cluster.kill_worker(victim)

    states = wait_for(cluster, "the retry ends", lambda: runs_done(cluster, [run_id]))
    log = task_log(cluster, "dev", run_id)
    assert states == {run_id: "success"}, log
    [(try_number,)] = cluster.query("select try_number from task_instance where run_id = %s",
                                    run_id)
    assert try_number == 2, log
    assert [w for w in ran_on(cluster, run_id) if w != victim], "the retry ran elsewhere"
    warehouse = cluster.root / "warehouse-dev.duckdb"
    total = ROWS["dev"] + MORE
    # Upsert by primary key: every record exactly once, though the retry re-read some.
    assert duckdb_rows(warehouse, "select count(*), count(distinct id) from raw.orders"
                       ) == [(total, total)]
    retry, killed = runs_of(sf, "dev")[:2]
    assert retry["status"] == "success", retry
    emitted = sum(s.get("records_emitted") or 0 for s in retry["steps"])
    assert 0 < emitted < MORE, f"the retry did not start from the committed bookmark: {retry}"
    assert killed["status"] in ("interrupted", "running"), killed


def apply_during_a_run(cluster: Cluster, sf: Stackform, server: S3Server, scope: str) -> None:
    old = state_doc(server, scope, "dev")["bundle"]
    first = ROWS["dev"] + MORE + 1
    write_orders(cluster.root / "source-dev" / "orders-03.jsonl", range(first, first + MORE),
                 time.time() - 30)
    run_id = trigger(cluster, "dev")
    wait_for(cluster, "the task fetches its bundle",
             lambda: f"bundle {old[:12]}: " in task_log(cluster, "dev", run_id), every=0.5)
    template = sf.cwd / "templates" / "settings.env.tmpl"
    template.write_text(template.read_text() + "# applied during a run\n")
    sf.apply("--env", "dev")
    new = state_doc(server, scope, "dev")["bundle"]
    assert new != old
    assert runs_done(cluster, [run_id]) is None, "the run ended before the apply: add rows"
    states = wait_for(cluster, "the running task ends", lambda: runs_done(cluster, [run_id]))
    log = task_log(cluster, "dev", run_id)
    assert states == {run_id: "success"}, log
    assert f"bundle {new[:12]}" not in log, "the running task kept the bundle it started with"
    wait_for(cluster, "Airflow reads the rewritten DAG", lambda: cluster.query(
        "select 1 from dag_code where dag_id = %s and source_code like %s", dag_id("dev"),
        f"%{new}%"))
    next_id = trigger(cluster, "dev")
    wait_for(cluster, "the next run ends", lambda: runs_done(cluster, [next_id]))
    assert f"bundle {new[:12]}: downloaded and checked" in task_log(cluster, "dev", next_id)
