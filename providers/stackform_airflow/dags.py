"""The DAG files: their ids and names, the command their task runs, and their text.

A DAG file is a pure function of the stack's name and environment, the block's settings and
one scheduled pipeline (its name, schedule and command line), so the plan can show its digest
before anything is written and apply writes exactly those bytes. Every file starts with a
machine-readable header naming the stack, environment and pipeline it was generated for: that
is how stackform tells its own files from the other DAGs of a shared folder.
"""

from __future__ import annotations

import hashlib
import json
import re
import shlex
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import date
from pathlib import Path
from typing import Any

from stackform.errors import StackformError
from stackform_airflow.config import (
    TEMPLATE_MARKERS,
    AirflowConfig,
    command_words,
    duration_seconds,
)

HEADER = "# stackform-dag: "
DAG_ID_PREFIX = "stackform"
MAX_DAG_ID = 250
_NOT_ID_CHAR = re.compile(r"[^A-Za-z0-9_.-]")
DIGEST_CHARS = 16
TASK_ID = "stackform_run"


class DagError(StackformError):
    """A DAG cannot be generated, validated or deployed."""


@dataclass(frozen=True)
class Owner:
    """Who a deployed DAG file belongs to, from its header."""

    stack: str
    env: str
    pipeline: str


def dag_id(stack: str, env: str, pipeline: str) -> str:
    """``stackform_<stack>_<env>_<pipeline>`` in Airflow's dag_id alphabet: two environments
    (or two stacks) deploying into one Airflow never collide."""
    raw = f"{DAG_ID_PREFIX}_{stack}_{env}_{pipeline}"
    return _NOT_ID_CHAR.sub("_", raw)[:MAX_DAG_ID]


def file_name(dag: str) -> str:
    return f"{dag}.py"


def file_prefix(stack: str, env: str) -> str:
    """The start of every file name of one stack and environment (a cheap listing filter; the
    header decides)."""
    return _NOT_ID_CHAR.sub("_", f"{DAG_ID_PREFIX}_{stack}_{env}_")


def digest(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()[:DIGEST_CHARS]


def workdir_for(config: AirflowConfig, stack_dir: Path) -> str:
    """Where the task runs: ``workdir`` (relative to the stack's folder), else that folder."""
    if config.workdir is None:
        return str(stack_dir)
    path = Path(config.workdir).expanduser()
    return str(path if path.is_absolute() else stack_dir / path)


def command_line(config: AirflowConfig, workdir: str, stack_file: str, env: str,
                 pipeline: str) -> str:
    """``cd WORKDIR && stackform --file stack.toml run --env ENV PIPELINE``, every word quoted
    for the shell."""
    words = [*command_words(config.command), "--file", stack_file, "run", "--env", env, pipeline]
    line = f"cd {shlex.quote(workdir)} && {shlex.join(words)}"
    _no_template(line, "the task's command line (command, workdir, stack file name)")
    return line


def worker_command_line(config: AirflowConfig, location: list[str], stack: str, env: str,
                        bundle: str, pipeline: str) -> str:
    """``stackform worker run --state LOCATION --stack S --env E --bundle DIGEST PIPELINE``:
    the worker fetches the bundle this apply publishes, by the digest pinned here, so a run
    started before the next apply finishes on its own bundle and the next run takes the new
    one (apply rewrites this file)."""
    words = [*command_words(config.command), "worker", "run", *location, "--stack", stack,
             "--env", env, "--bundle", bundle, pipeline]
    line = shlex.join(words)
    _no_template(line, "the task's command line (command, state location)")
    return line


def _no_template(value: str, what: str) -> None:
    if any(m in value for m in TEMPLATE_MARKERS):
        raise DagError(f"{what} contains a Jinja marker ({', '.join(TEMPLATE_MARKERS)}), which "
                       "Airflow would render as a template",
                       hint="rename the folder or value so it holds none of them")


def render(stack: str, env: str, config: AirflowConfig, pipeline: str, schedule: str,
           command: str, pool: str | None = None) -> str:
    """The DAG file of one scheduled pipeline; its task takes one slot of ``pool``."""
    for name, value in config.env.items():
        _no_template(value, f"env.{name}")
    dag = dag_id(stack, env, pipeline)
    start = date.fromisoformat(config.start_date)
    owner_line = json.dumps({"stack": stack, "env": env, "pipeline": pipeline}, sort_keys=True)
    task_args = [f"task_id={TASK_ID!r}", f"bash_command={command!r}"]
    if config.env:
        task_args += [f"env={dict(sorted(config.env.items()))!r}", "append_env=True"]
    if config.timeout is not None:
        seconds = duration_seconds(config.timeout)
        task_args.append(f"execution_timeout=datetime.timedelta(seconds={seconds})")
    if config.queue is not None:
        task_args.append(f"queue={config.queue!r}")
    pool_lines = []
    if pool is not None:
        task_args += [f"pool={pool!r}", "pool_slots=1"]
        pool_lines = [f"# Needs the Airflow pool {pool}: `stackform plan` prints the "
                      "`airflow pools set` command that creates it."]
    doc = (f"Runs the stackform pipeline `{pipeline}` of stack `{stack}` in environment "
           f"`{env}`:\n\n    {command}\n\nGenerated by `stackform apply`: change the stack "
           "file, not this DAG.")
    lines = [
        f"# Generated by stackform from stack {stack!r}, environment {env!r}, pipeline "
        f"{pipeline!r}.",
        "# Do not edit: `stackform apply` rewrites this file, and `stackform plan` reports any "
        "edit as drift.",
        f"{HEADER}{owner_line}",
        *pool_lines,
        f'"""Airflow DAG running stackform pipeline {pipeline!r} ({stack}, {env})."""',
        "",
        "from __future__ import annotations",
        "",
        "import datetime",
        "",
        "from airflow.providers.standard.operators.bash import BashOperator",
        "from airflow.sdk import DAG",
        "",
        "with DAG(",
        f"    dag_id={dag!r},",
        f"    schedule={schedule!r},",
        f"    start_date=datetime.datetime({start.year}, {start.month}, {start.day}, "
        "tzinfo=datetime.timezone.utc),",
        f"    catchup={config.catchup!r},",
        "    max_active_runs=1,",
        f"    tags={list(config.tags)!r},",
        f"    default_args={{'owner': {config.owner!r}, 'retries': {config.retries!r}, "
        f"'retry_delay': datetime.timedelta(seconds={duration_seconds(config.retry_delay)})}},",
        f"    doc_md={doc!r},",
        "):",
        "    BashOperator(",
        *(f"        {arg}," for arg in task_args),
        "    )",
        "",
    ]
    return "\n".join(lines)


def desired_dags(stack: str, env: str, stack_dir: Path, stack_file: str,
                 config: AirflowConfig, schedules: Mapping[str, str],
                 bundle: tuple[list[str], str] | None = None,
                 pools: Mapping[str, str] | None = None) -> dict[str, dict[str, str]]:
    """``{dag_id: {pipeline, schedule, command, sha256}}`` for the scheduled pipelines.

    With ``workdir`` the task runs the stack found there; without it, the bundle
    ``(state location options, digest)``. ``pools`` maps a pipeline to its Airflow pool."""
    workdir = workdir_for(config, stack_dir)
    out: dict[str, dict[str, str]] = {}
    for pipeline, schedule in sorted(schedules.items()):
        if config.workdir is None and bundle is not None:
            command = worker_command_line(config, bundle[0], stack, env, bundle[1], pipeline)
        else:
            command = command_line(config, workdir, stack_file, env, pipeline)
        pool = (pools or {}).get(pipeline)
        text = render(stack, env, config, pipeline, schedule, command, pool)
        entry = {"pipeline": pipeline, "schedule": schedule, "command": command,
                 "sha256": digest(text.encode())}
        if pool is not None:
            entry["pool"] = pool
        out[dag_id(stack, env, pipeline)] = entry
    return out


def render_entry(stack: str, env: str, config: AirflowConfig, dag: str,
                 entry: Mapping[str, Any]) -> bytes:
    """The bytes of one DAG from its recorded entry; refuses an entry whose digest does not
    match (the stack changed between resolving it and applying it)."""
    text = render(stack, env, config, str(entry["pipeline"]), str(entry["schedule"]),
                  str(entry["command"]), _optional(entry.get("pool")))
    data = text.encode()
    if digest(data) != entry.get("sha256"):
        raise DagError(f"DAG {dag} does not render to the digest the plan showed",
                       hint="run stackform plan again")
    return data


def _optional(value: Any) -> str | None:
    return None if value is None else str(value)


def owner_of(data: bytes) -> Owner | None:
    """The stack, environment and pipeline a file's header names, or ``None``."""
    for line in data[:2048].decode("utf-8", "replace").splitlines()[:5]:
        if line.startswith(HEADER):
            try:
                doc = json.loads(line[len(HEADER):])
                return Owner(str(doc["stack"]), str(doc["env"]), str(doc["pipeline"]))
            except (ValueError, KeyError, TypeError):
                return None
    return None
