"""Airflow pools: a limit on how many runs of the stack's pipelines hit one source at once.

A pool is declared once in the orchestrator block (``pools.NAME = { slots, pipelines }``), so
one pool name can never carry two slot counts. Each pooled pipeline's task takes one slot of
``<stack>-<env>-<NAME>``: scoping by stack and environment keeps dev runs from starving prod.
stackform does not talk to Airflow's database: the plan names the ``airflow pools set`` command
the operator runs, and every pooled DAG file carries it in a comment.
"""

from __future__ import annotations

import re
import shlex
from collections.abc import Iterable, Mapping

from stackform.errors import StackformError
from stackform_airflow.config import AirflowConfig

_NOT_POOL_CHAR = re.compile(r"[^A-Za-z0-9_.-]")


def pool_name(stack: str, env: str, name: str) -> str:
    """``<stack>-<env>-<name>`` in the characters Airflow allows in a pool name."""
    return _NOT_POOL_CHAR.sub("_", f"{stack}-{env}-{name}")


def pool_description(stack: str, env: str, name: str) -> str:
    return f"stackform pool {name} of stack {stack}, environment {env}"


def set_command(pool: str, slots: int, description: str) -> str:
    """The exact command that creates or resizes the pool in Airflow."""
    return shlex.join(["airflow", "pools", "set", pool, str(slots), description])


def delete_command(pool: str) -> str:
    return shlex.join(["airflow", "pools", "delete", pool])


def pool_of_pipeline(stack: str, env: str, config: AirflowConfig, pipeline: str) -> str | None:
    """The Airflow pool a pipeline's task runs in, or ``None``."""
    for name, pool in config.pools.items():
        if pipeline in pool.pipelines:
            return pool_name(stack, env, name)
    return None


def desired_pools(stack: str, env: str, config: AirflowConfig,
                  scheduled: Iterable[str], pipelines: Iterable[str]
                  ) -> dict[str, dict[str, object]]:
    """``{airflow pool: {slots, description}}``; refuses a pool naming an unknown pipeline.

    A pool naming a pipeline that exists but has no schedule (in this environment) is kept:
    an environment may switch a DAG off through a var without editing its pools."""
    known = set(pipelines)
    for name, pool in sorted(config.pools.items()):
        unknown = sorted(set(pool.pipelines) - known)
        if unknown:
            raise StackformError(
                f"pools.{name}.pipelines names {', '.join(unknown)}, which is not a pipeline "
                "of this stack",
                hint=f"pipelines are: {', '.join(sorted(known)) or '(none)'}")
    wanted = set(scheduled)
    return {pool_name(stack, env, name): {
                "slots": pool.slots, "description": pool_description(stack, env, name)}
            for name, pool in sorted(config.pools.items())
            if wanted & set(pool.pipelines)}


def pool_notes(before: Mapping[str, Mapping[str, object]],
               after: Mapping[str, Mapping[str, object]] | None) -> list[str]:
    """What the operator must run in Airflow for the plan's pool changes."""
    notes = []
    now = after or {}
    for pool in sorted({*before, *now}):
        if pool in now and before.get(pool) != now[pool]:
            slots, text = int(str(now[pool]["slots"])), str(now[pool]["description"])
            notes.append(f"needs Airflow pool {pool} with {slots} slot(s): run "
                         f"`{set_command(pool, slots, text)}`")
        elif pool not in now:
            notes.append(f"no longer uses Airflow pool {pool}: run `{delete_command(pool)}`")
    return notes
