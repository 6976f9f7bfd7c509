"""DAGs deployed to an S3 prefix (managed Airflow reads them there), through the real CLI and a
real S3-compatible server (SeaweedFS): deploy, a hand edit and a deleted object as drift,
repair, an unscheduled pipeline's DAG removed, destroy; and the errors a user meets."""

from __future__ import annotations

from pathlib import Path

import pytest
from airflow_support import files_stack, write

from tests.cli_helpers import Runner, assert_clean_error, make_env
from tests.s3server import S3Server

DAG = "stackform_demo_dev_daily.py"


@pytest.fixture
def sf(tmp_path: Path, s3_server: S3Server) -> Runner:
    stack = tmp_path / "stack"
    stack.mkdir()
    return Runner(stack, make_env(tmp_path / "home", s3_server.env))


def orchestrator(server: S3Server, bucket: str, prefix: str) -> str:
    return (f'dags_path = "s3://{bucket}/{prefix}/dags"\n'
            f'endpoint_url = "{server.endpoint_url}"\nregion = "{server.region}"\n')


def test_dags_deploy_to_s3_with_drift_and_repair(sf: Runner, s3_server: S3Server) -> None:
    bucket, prefix = s3_server.bucket(), S3Server.new_prefix()
    client = s3_server.client()
    key = f"{prefix}/dags/{DAG}"

    def body() -> bytes | None:
        try:
            return bytes(client.get_object(Bucket=bucket, Key=key)["Body"].read())
        except client.exceptions.NoSuchKey:
            return None

    write(sf.cwd, files_stack(orchestrator(s3_server, bucket, prefix)))
    applied = sf("apply", "--auto-approve")
    assert applied.code == 0, applied
    deployed = body()
    assert deployed is not None and b"stackform worker run --state " in deployed
    assert sf("plan", "--detailed-exitcode").code == 0

    client.put_object(Bucket=bucket, Key=key, Body=deployed + b"\n# edited by hand\n")
    drift = sf("plan", "--detailed-exitcode")
    assert drift.code == 2, drift
    assert "stackform_demo_dev_daily" in drift.stdout and "sha256" in drift.stdout
    assert sf("apply", "--auto-approve").code == 0
    assert body() == deployed, "apply restores the generated file"

    client.delete_object(Bucket=bucket, Key=key)
    assert sf("plan", "--detailed-exitcode").code == 2
    assert sf("apply", "--auto-approve").code == 0
    assert body() == deployed

    write(sf.cwd, files_stack(orchestrator(s3_server, bucket, prefix), schedule=""))
    assert sf("apply", "--auto-approve").code == 0
    assert body() is None, "an unscheduled pipeline's DAG is removed"
    write(sf.cwd, files_stack(orchestrator(s3_server, bucket, prefix)))
    assert sf("apply", "--auto-approve").code == 0
    assert sf("destroy", "--auto-approve").code == 0
    assert body() is None


def test_s3_dags_path_errors(sf: Runner, s3_server: S3Server) -> None:
    write(sf.cwd, files_stack(orchestrator(s3_server, "no-such-dag-bucket", "x")))
    missing = sf("apply", "--auto-approve")
    assert_clean_error(missing)
    assert "bucket 'no-such-dag-bucket' does not exist" in missing.output
    write(sf.cwd, files_stack('dags_path = "dags"\nregion = "eu-west-1"'))
    misplaced = sf("validate")
    assert_clean_error(misplaced)
    assert "only apply to an s3:// dags_path" in misplaced.stderr
    write(sf.cwd, files_stack('dags_path = "s3://Bad_Bucket/dags"'))
    bad = sf("validate")
    assert_clean_error(bad)
    assert "not a valid S3 bucket name" in bad.stderr
