"""Meltano jobs and schedules -> ``[pipelines.NAME]``.

A job's tasks (``meltano run`` arguments) become its pipeline's steps one to one; a schedule
of a job puts its ``interval`` on that pipeline as ``schedule`` (a second schedule of the same
job gets a pipeline of its own); a legacy schedule (``extractor``/``loader``/``transform``)
becomes a pipeline of its own. Steps that name no plugin are left out with a warning.
"""

from __future__ import annotations

from typing import Any

from stackform.config.schema import schedule_problem
from stackform.importers.meltano.context import Block, Context, block_name
from stackform.importers.meltano.read import YMap, comments_above

DBT_COMMANDS = {"docs-generate": "docs generate", "docs-serve": "docs serve",
                "freshness": "source freshness"}
"""Meltano's names of dbt commands that are not dbt's own."""


def convert(ctx: Context) -> set[str]:
    """Make the pipelines; returns the Meltano names their steps use."""
    used: set[str] = set()
    by_job: dict[str, str] = {}
    for job in ctx.project.jobs:
        name = _pipeline_name(ctx, job["name"])
        steps = _steps(ctx, job, job.get("tasks"), f"jobs.{job['name']}", used)
        if not steps:
            ctx.report.warning(job.at(), f"jobs.{job['name']}", "no step left: no pipeline")
            continue
        ctx.table("pipelines", name)["steps"] = steps
        ctx.comment(("pipelines", name), comments_above(ctx.project, job))
        by_job[job["name"]] = name
        ctx.report.mapped(job.at(), f"jobs.{job['name']}", f"-> [pipelines.{name}]")
    for sched in ctx.project.schedules:
        subject = f"schedules.{sched['name']}"
        if "job" in sched:
            _job_schedule(ctx, sched, subject, by_job)
        else:
            _legacy(ctx, sched, subject, used)
        _schedule_extras(ctx, sched, subject)
    return used


def _pipeline_name(ctx: Context, wanted: str) -> str:
    name = block_name(wanted)
    existing = ctx.stack.get("pipelines", {})
    suffix = 2
    base = name
    while name in existing:
        name = f"{base}-{suffix}"
        suffix += 1
    return name


def _steps(ctx: Context, where: YMap, tasks: Any, subject: str, used: set[str]) -> list[str]:
    tokens: list[str] = []
    for task in tasks if isinstance(tasks, list) else [tasks]:
        for part in task if isinstance(task, list) else [task]:
            tokens.extend(str(part).split() if part is not None else [])
    out: list[str] = []
    for token in tokens:
        step = _step(ctx, where, token, subject)
        if step is None:
            # Half a job (a loader without its extractor) would run something else.
            return []
        out.append(step)
    used.update(token.partition(":")[0] for token in tokens)
    return out


def _step(ctx: Context, where: YMap, token: str, subject: str) -> str | None:
    name, _, command = token.partition(":")
    blocks = ctx.blocks.get(name)
    if not blocks:
        ctx.report.warning(where.at(), subject, f"step '{token}' names no plugin of the project:"
                           " no pipeline is made of it")
        return None
    block = blocks[0]
    address = ctx.step_address(block)
    if not command:
        return address
    if block.kind == "transformers":
        return f"{address}:{_dbt_command(block, command)}"
    if block.kind == "utilities":
        commands = block.plugin.get("commands")
        if not (isinstance(commands, dict) and command in commands):
            ctx.report.warning(where.at(), subject, f"step '{token}': {name} declares no command"
                               f" '{command}' in the project (a hub default?): add it to "
                               f"[{block.address}].commands")
    return f"{address}:{command}"


def _dbt_command(block: Block, command: str) -> str:
    commands = block.plugin.get("commands")
    spec = commands.get(command) if isinstance(commands, dict) else None
    if isinstance(spec, dict) and isinstance(spec.get("args"), str):
        return spec["args"]
    if isinstance(spec, str):
        return spec
    return DBT_COMMANDS.get(command, command)


def schedule_of(ctx: Context, sched: YMap, subject: str) -> str | None:
    interval = sched.get("interval")
    if interval is None:
        ctx.report.person(sched.at(), subject, "no interval: the pipeline is not scheduled")
        return None
    problem = schedule_problem(str(interval))
    if problem:
        ctx.report.person(sched.at("interval"), subject, f"{problem}: the pipeline is not "
                          "scheduled until it is rewritten")
        return None
    return str(interval).strip()


def _job_schedule(ctx: Context, sched: YMap, subject: str, by_job: dict[str, str]) -> None:
    job = str(sched.get("job"))
    pipeline = by_job.get(job)
    if pipeline is None:
        ctx.report.warning(sched.at("job"), subject, f"schedules the job '{job}', which the "
                           "project does not define (or which has no step): left out")
        return
    schedule = schedule_of(ctx, sched, subject)
    if schedule is None:
        return
    table = ctx.table("pipelines", pipeline)
    if "schedule" in table:
        name = _pipeline_name(ctx, sched["name"])
        ctx.table("pipelines", name).update({"steps": list(table["steps"]),
                                             "schedule": schedule})
        ctx.report.mapped(sched.at(), subject, f"a second schedule of job {job} -> "
                          f"[pipelines.{name}] (same steps; its bookmarks are its own)")
    else:
        table["schedule"] = schedule
        ctx.report.mapped(sched.at(), subject, f"-> schedule = \"{schedule}\" in "
                          f"[pipelines.{pipeline}]")


def _legacy(ctx: Context, sched: YMap, subject: str, used: set[str]) -> None:
    transform = str(sched.get("transform", "skip"))
    tokens = [] if transform == "only" else \
        [str(sched[k]) for k in ("extractor", "loader") if sched.get(k) is not None]
    if transform in ("run", "only"):
        dbt = [b for bs in ctx.blocks.values() for b in bs if b.kind == "transformers"]
        if len(dbt) == 1:
            tokens.append(f"{dbt[0].step}:run")
        else:
            ctx.report.warning(sched.at("transform"), subject, f"transform: {transform} needs "
                               f"one dbt transformer, the project has {len(dbt)}: no dbt step")
    steps = _steps(ctx, sched, tokens, subject, used)
    if not steps:
        ctx.report.warning(sched.at(), subject, "no step left: no pipeline")
        return
    name = _pipeline_name(ctx, sched["name"])
    table = ctx.table("pipelines", name)
    table["steps"] = steps
    schedule = schedule_of(ctx, sched, subject)
    if schedule is not None:
        table["schedule"] = schedule
    ctx.comment(("pipelines", name), comments_above(ctx.project, sched))
    ctx.report.mapped(sched.at(), subject, f"a legacy (meltano elt) schedule -> "
                      f"[pipelines.{name}]")


def _schedule_extras(ctx: Context, sched: YMap, subject: str) -> None:
    for key in sched:
        if key in ("name", "job", "interval", "extractor", "loader", "transform"):
            continue
        if key == "start_date":
            ctx.report.person(sched.at(key), subject, "start_date: the orchestrator block's "
                              "start_date applies to every DAG")
        elif key == "env":
            ctx.report.person(sched.at(key), subject, "env: a pipeline has no env of its own; "
                              "put the variables in an environment's or a block's env")
        elif key == "annotations":
            ctx.report.dropped(sched.at(key), subject, "annotations: not read by Meltano either")
        else:
            ctx.report.warning(sched.at(key), subject, f"unknown key '{key}': left out")


def mark_abstract(ctx: Context, used: set[str]) -> None:
    """A block other blocks extend, used by no job or schedule, is a base only."""
    if not (ctx.project.jobs or ctx.project.schedules):
        return
    for bs in ctx.blocks.values():
        for b in bs:
            if b.address in ctx.parents and b.step not in used:
                ctx.table(b.kind, b.name)["abstract"] = True
                ctx.report.mapped(b.plugin.at(), f"plugins.{b.address}", "inherited from and "
                                  "used by no job or schedule: abstract = true (remove it to "
                                  "run the block on its own)")
