"""The quickstart set up for workers that run bundles (the worker tests and
``benchmarks/worker_bundle.py``): source data and warehouse at absolute places, as a database
would be, state in S3, and an Airflow block without ``workdir``."""

from __future__ import annotations

import ast
import shlex
from pathlib import Path

from e2e_support import copy_quickstart

from stackform.config.edit import set_table
from tests.s3server import S3Server


def worker_stack(root: Path, server: S3Server, bucket: str, prefix: str) -> Path:
    source = root / "source"
    source.mkdir()
    stack = copy_quickstart(root / "quickstart",
                            extractor_config={"path": f"{source}/orders-*.jsonl"})
    path = stack / "stack.toml"
    path.write_text(path.read_text().replace('"warehouse/${stack.env}.duckdb"',
                                             f'"{root}/warehouse-${{stack.env}}.duckdb"')
                    + f'\n[orchestrators.airflow]\ndags_path = "{root}/dags"\n')
    set_table(path, "state", {"backend": "s3", "bucket": bucket, "prefix": prefix,
                              "endpoint_url": server.endpoint_url, "region": server.region})
    return stack


def dag_command(dag_file: Path) -> list[str]:
    """The words of the task's command in a generated DAG file."""
    line = next(x for x in dag_file.read_text().splitlines() if "bash_command=" in x)
    return shlex.split(ast.literal_eval(line.strip().removeprefix("bash_command=").rstrip(",")))
