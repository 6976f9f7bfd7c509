"""Run a pipeline: check its steps were applied, take the run lock, hand the steps to their
providers in order, and record the run with its log.

Before the first step, plugin processes a killed run left behind in the environment are killed
and their runtime folders removed (:func:`stackform.supervise.sweep`). Known secret values are
masked in the log, the record and the console lines (:mod:`stackform.redact`).

Core knows nothing of Singer or dbt: a provider that can run steps implements
:class:`~stackform.provider.StepRunner`, and each call consumes one or more steps (an extractor
consumes the loader that follows it).
"""

from __future__ import annotations

import os
import socket
import threading
import time
import uuid
from collections.abc import Callable, Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass, replace
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from stackform.diagnostics import did_you_mean
from stackform.errors import RunError, StackformError
from stackform.gitinfo import developer_name
from stackform.lineage.confirm import confirm_after_run
from stackform.provider import ChecksUnapplied, RunContext, RunStep, StepRunner, make_context
from stackform.redact import Redactor, stack_redactor
from stackform.resource import fingerprinter
from stackform.runs.model import Bookmark, RunRecord, RunStatus, StepOutcome
from stackform.runs.store import RunStore
from stackform.session import Session
from stackform.state.model import State, utc_now
from stackform.supervise import runtime_root, sweep


def new_run_id() -> str:
    """Sortable by start time, unique across hosts."""
    return datetime.now(UTC).strftime("%Y%m%dT%H%M%S") + "-" + uuid.uuid4().hex[:6]


@dataclass
class _StoreBookmarks:
    store: RunStore
    env: str
    run_id: str

    def get(self, key: str) -> Mapping[str, Any] | None:
        found = self.store.get_bookmark(self.env, key)
        return found.value if found else None

    def put(self, key: str, value: Mapping[str, Any]) -> None:
        self.store.put_bookmark(self.env, Bookmark(key, dict(value), utc_now(), self.run_id))


def run_steps_for(session: Session, pipeline_name: str, state: State | None
                  ) -> list[RunStep]:
    """The pipeline's steps with what apply recorded; refuses steps not applied as declared.

    Files a step is built from beyond its block (a dbt project) that changed since its last
    apply are refused in a protected environment; elsewhere the step carries them, and the run
    warns (:func:`unapplied_warnings`)."""
    stack = session.stack
    pipeline = stack.pipelines.get(pipeline_name)
    if pipeline is None:
        hint = did_you_mean(pipeline_name, stack.pipelines) or (
            "pipelines: " + (", ".join(sorted(stack.pipelines)) or "none declared"))
        raise StackformError(f"no pipeline {pipeline_name!r} in the stack", hint=hint)
    recorded = state.resources if state else {}
    fingerprint = fingerprinter(state.lineage) if state else None
    steps: list[RunStep] = []
    for step in pipeline.steps:
        resource = stack.resources[step.address]
        prior = recorded.get(step.address)
        apply_hint = f"run `stackform apply --env {stack.env}` first"
        if prior is None or fingerprint is None:
            raise RunError(f"{step.address} is not applied in {stack.env}", hint=apply_hint)
        if resource.masked(fingerprint) != dict(prior.attributes):
            raise RunError(
                f"{step.address} has changes in the stack file that are not applied in "
                f"{stack.env}", hint=f"review them with `stackform plan --env {stack.env}`, "
                f"then {apply_hint.removeprefix('run ')}")
        provider = session.registry.get(resource.kind)
        unapplied = None
        if isinstance(provider, ChecksUnapplied):
            ctx = make_context(stack, fingerprint)
            unapplied = provider.unapplied(ctx, prior, resource)
        if unapplied is not None and stack.environment.protected:
            raise RunError(
                f"refusing to run {step.address} in protected environment {stack.env}: "
                f"{unapplied.what} changed since its last apply: {unapplied.listed()}",
                hint=f"a protected environment runs only what was applied: review the change "
                f"with `stackform plan --env {stack.env}` and apply it, or revert it")
        steps.append(RunStep(step, resource, prior, provider, unapplied))
    return steps


def unapplied_warnings(steps: list[RunStep], env: str) -> list[str]:
    """One warning per resource that runs files changed since its last apply."""
    seen: dict[str, str] = {}
    for s in steps:
        if s.unapplied is not None and s.step.address not in seen:
            seen[s.step.address] = (
                f"warning: {s.step.address} runs with {s.unapplied.what} changed since its "
                f"last apply in {env}: {s.unapplied.listed()} (see `stackform plan --env {env}`)")
    return list(seen.values())


def run_pipeline(
    session: Session,
    store: RunStore,
    pipeline_name: str,
    *,
    full_refresh: bool = False,
    lock_timeout: float = 0.0,
    say: Callable[[str], None] = lambda _m: None,
    sample: int | None = None,
) -> RunRecord:
    """Run one pipeline to the end (or the first failed step) and return its record.
    ``sample`` stops each extracted stream after that many records (``stackform test``)."""
    state = session.read_state()
    steps = run_steps_for(session, pipeline_name, state)
    env = session.stack.env
    # Every known secret value is masked in the log, the record and the console lines.
    redact = stack_redactor(session.stack)
    say = redact.wrap(say)
    with store.run_lock(env, pipeline_name, lock_timeout):
        run_id = new_run_id()
        log_path = store.log_path(env, run_id)
        record = RunRecord(run_id=run_id, pipeline=pipeline_name, env=env,
                           started_at=utc_now(), full_refresh=full_refresh, log=str(log_path),
                           user=developer_name(session.stack.dir), host=socket.gethostname())
        store.start_run(record)
        started = time.monotonic()
        with _run_log(log_path, redact) as log:
            lineage = state.lineage if state else ""
            ctx = make_context(session.stack, fingerprinter(lineage), log)
            run = RunContext(ctx=ctx, run_id=run_id, pipeline=pipeline_name,
                             bookmarks=_StoreBookmarks(store, env, run_id), log=log, say=say,
                             full_refresh=full_refresh, sample=sample)
            log(f"# stackform run {run_id}: pipeline {pipeline_name} in {env}"
                f"{' (full refresh)' if full_refresh else ''}"
                f"{f' (sample of {sample} records a stream)' if sample else ''}")
            _before_steps(run, steps, env)
            status, error, outcomes = _run_steps(run, steps)
            if status == "success":
                confirm_after_run(run, steps)  # docs/lineage.md: the warehouse's own names
            log(f"# run {status}")
        record = replace(record, status=status, error=error,
                         finished_at=utc_now(), seconds=round(time.monotonic() - started, 3),
                         steps=tuple(outcomes))
        if redact:
            record = RunRecord.from_json(redact.data(record.to_json()))
        store.finish_run(record)
    return record


@contextmanager
def _run_log(path: Path, redact: Redactor) -> Iterator[Callable[[str], None]]:
    """The run's log file (0600, appended to) as ``log(line)``: secrets masked, one line at a
    time whichever thread writes it."""
    log_lock = threading.Lock()
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_APPEND, 0o600)
    with os.fdopen(fd, "a", encoding="utf-8", errors="replace") as log_file:

        def log(line: str) -> None:
            line = redact(line)
            with log_lock:
                log_file.write(line if line.endswith("\n") else line + "\n")
                log_file.flush()

        yield log


def _before_steps(run: RunContext, steps: list[RunStep], env: str) -> None:
    """Kill what a killed run left running, and warn of steps that run unapplied files."""
    # A killed run's plugins may still be running: kill them before starting again.
    for swept in sweep(runtime_root(run.ctx.work_dir), run.log):
        if swept.killed:
            run.say(f"warning: {swept.note}")
    for warning in unapplied_warnings(steps, env):
        run.log(f"# {warning}")
        run.say(warning)


def _run_steps(run: RunContext, steps: list[RunStep]
               ) -> tuple[RunStatus, str | None, list[StepOutcome]]:
    """Hand the steps to their providers in order, up to the first that does not succeed."""
    outcomes: list[StepOutcome] = []
    status: RunStatus = "success"
    error: str | None = None
    index = 0
    try:
        while index < len(steps):
            provider = steps[index].provider
            if not isinstance(provider, StepRunner):
                raise RunError(f"{steps[index].step.address}: kind "
                               f"'{steps[index].resource.kind}' cannot be a pipeline step")
            consumed, outcome = provider.run_steps(run, steps[index:])
            outcomes.append(outcome)
            if outcome.status != "success":
                status, error = outcome.status, outcome.error
                break
            index += max(1, consumed)
    except KeyboardInterrupt:
        status, error = "interrupted", "stopped by the user"
        run.ctx.cancel.set()
    except StackformError as exc:
        status, error = "failed", exc.reason
        run.log(f"# error: {exc}")
    return status, error, outcomes
